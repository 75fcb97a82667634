#!/usr/bin/env bash
# The cff program end to end on a tiny generated IDX folder: train -> eval -> info, --json
# output, resume, and one-line errors with a non-zero exit code.  Usage: test_cli.sh CFF_BINARY
set -euo pipefail
cff=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$(dirname "$0")/make_idx.py" "$work"
py() { python3 -c "$1"; }

"$cff" train "$work" --out "$work/m.cff" -E 32 -L 2 --batch 32 --epochs 3 --head-epochs 3 --head-lr 0.02 \
  --threads 1 --topk 1,2 --json > "$work/train.json" 2> "$work/train.err"
py "import json; r = json.load(open('$work/train.json')); assert r['test']['top1'] > 0.9, r; assert '2' in r['test']['topk']"
grep -q "stage 1 epoch 3" "$work/train.err"

"$cff" eval "$work/m.cff" "$work" --topk 1,3 --json > "$work/eval.json"
py "import json; r = json.load(open('$work/eval.json')); assert r['top1'] > 0.9 and r['topk']['3'] >= r['top1'], r"
"$cff" info "$work/m.cff" --json | py "import json,sys; r = json.load(sys.stdin); assert r['config']['model']['embed_dim'] == 32"

# resume on a finished run is a no-op that still succeeds
"$cff" train "$work" --out "$work/m.cff" --resume --quiet --json > /dev/null

# errors: one line on stderr, exit code 1, nothing written
expect_fail() {
  local want=$1; shift
  if "$@" > "$work/out" 2> "$work/err"; then echo "expected failure: $*"; exit 1; fi
  [ "$(wc -l < "$work/err")" -eq 1 ] || { echo "not one line:"; cat "$work/err"; exit 1; }
  grep -q "$want" "$work/err" || { echo "missing '$want' in:"; cat "$work/err"; exit 1; }
}
expect_fail "no such file" "$cff" train "$work/absent" --out "$work/x.cff"
expect_fail "not divisible by num_heads" "$cff" train "$work" --out "$work/x.cff" --arch vit -E 30 -H 4 --patch 4
expect_fail "lr must be > 0" "$cff" train "$work" --out "$work/x.cff" --lr -1
head -c 100 "$work/m.cff" > "$work/trunc.cff"
expect_fail "truncated" "$cff" eval "$work/trunc.cff" "$work"
[ ! -e "$work/x.cff" ] || { echo "a failed run left a model file"; exit 1; }
echo "cli ok"
