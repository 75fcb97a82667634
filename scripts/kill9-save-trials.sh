#!/usr/bin/env bash
# Crash-recovery trial: trains a tiny model that checkpoints every epoch (a save every few tens of
# milliseconds), kills it with SIGKILL at a random moment, and checks that the model file still
# loads; TRIALS times (default 20). Reports how many loaded, how many `m.cff.tmp.<pid>` files the
# kills left, and how many remain after one more (complete) run into the same file.
# Usage: kill9-save-trials.sh CFF_BINARY [TRIALS]
set -euo pipefail
cff=$1
trials=${2:-20}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$here/../tests/tools/make_idx.py" "$work"
# MLP[1000 2]: a ~16 MB checkpoint (weights, AdamW moments, best-epoch snapshot), so that a good
# share of the kills land inside a save.
args=(-E 1000 -L 2 --batch 64 --head-epochs 1 --threads 1 -q --force)
"$cff" train "$work" --out "$work/m.cff" "${args[@]}" --epochs 1 > /dev/null
loadable=0
hit=0  # kills that left a temporary file (the kill landed inside a save)
for i in $(seq 1 "$trials"); do
  "$cff" train "$work" --out "$work/m.cff" "${args[@]}" --epochs 400 > /dev/null 2>&1 &
  pid=$!
  sleep "$(python3 -c "import random; print(round(random.uniform(1.0, 4.0), 3))")"
  kill -9 "$pid" 2> /dev/null || true
  wait "$pid" 2> /dev/null || true
  now=$(find "$work" -maxdepth 1 -name 'm.cff.tmp.*' | wc -l)
  [ "$now" -gt 0 ] && hit=$((hit + 1))
  if "$cff" info "$work/m.cff" --json > /dev/null 2>&1; then loadable=$((loadable + 1)); fi
done
left=$(find "$work" -maxdepth 1 -name 'm.cff.tmp.*' | wc -l)
"$cff" train "$work" --out "$work/m.cff" "${args[@]}" --epochs 1 > /dev/null
after=$(find "$work" -maxdepth 1 -name 'm.cff.tmp.*' | wc -l)
echo "kill -9 during save: $loadable/$trials models loadable; $hit kills found a temp file beside the model" \
  "(each removed by the next run's first save); $left left after the last kill, $after after the next run"
[ "$loadable" -eq "$trials" ] && [ "$after" -eq 0 ]
