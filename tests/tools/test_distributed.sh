#!/usr/bin/env bash
# Multi-process training end to end with real processes on 127.0.0.1 (c10d TCPStore + Gloo):
# 2 and 3 ranks in pipeline mode (bit-identical to one process at 1 thread), data mode and
# pipeline,data (equal to one process on the global batch to float tolerance), ranks started by
# hand with torchrun's variables, a killed and a hung rank (a clear error on the others within
# the timeout, the last epoch loadable, --resume continues), and bad launch environments.
# Usage: test_distributed.sh CFF_BINARY
set -euo pipefail
cff=$1
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
here=$(dirname "$0")
python3 "$here/make_idx.py" "$work"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
T="timeout 120"
F=(-E 32 -L 3 --batch 32 --epochs 2 --head-epochs 1 --threads 1 --blas-threads 1 --precision fp32 --quiet --force)

# Weights of two models: identical, or within an absolute tolerance.
same_weights() {  # A.cff B.cff TOL
  "$cff" export "$1" "$work/a.pt" > /dev/null
  "$cff" export "$2" "$work/b.pt" > /dev/null
  /usr/bin/python3 - "$work/a.pt" "$work/b.pt" "$3" <<'PY'
import sys, torch
a, b, tol = torch.load(sys.argv[1]), torch.load(sys.argv[2]), float(sys.argv[3])
worst = max(((a[k].double() - b[k].double()).abs().max().item() for k in a if a[k].numel()), default=0.0)
print(f"  max |weight difference| {worst:.3g} (tolerance {tol:g}) over {len(a)} tensors")
sys.exit(0 if worst <= tol else 1)
PY
}
# Loss histories of two models agree to a relative tolerance (0 = exactly).
same_losses() {  # A.cff B.cff RTOL
  "$cff" info "$1" --json > "$work/ha.json"
  "$cff" info "$2" --json > "$work/hb.json"
  python3 - "$work/ha.json" "$work/hb.json" "$3" <<'PY'
import json, sys
a, b = (json.load(open(p))["history"] for p in sys.argv[1:3])
rtol = float(sys.argv[3])
assert len(a) == len(b), (len(a), len(b))
for x, y in zip(a, b):
    for key in ("train_loss", "val_loss"):
        for u, v in zip(x[key], y[key]):
            assert abs(u - v) <= rtol * max(abs(u), abs(v)), (key, u, v)
print(f"  {len(a)} epochs of losses agree (rtol {rtol:g})")
PY
}

echo "one process (the reference)"
$T "$cff" train "$work" --out "$work/seq.cff" "${F[@]}"
for n in 2 3; do
  echo "pipeline, $n ranks (--nproc): bit-identical"
  $T "$cff" train "$work" --out "$work/pipe$n.cff" "${F[@]}" --nproc $n --parallel pipeline --dist-timeout 20
  same_weights "$work/seq.cff" "$work/pipe$n.cff" 0
  same_losses "$work/seq.cff" "$work/pipe$n.cff" 0
done
echo "data, 2 ranks: float tolerance (24 steps)"
$T "$cff" train "$work" --out "$work/data.cff" "${F[@]}" --nproc 2 --parallel data --dist-timeout 20
same_weights "$work/seq.cff" "$work/data.cff" 1e-4
same_losses "$work/seq.cff" "$work/data.cff" 1e-5
echo "data, 2 ranks, BP and FF"
for algo in bp ff; do
  $T "$cff" train "$work" --out "$work/s_$algo.cff" "${F[@]}" --algo $algo
  $T "$cff" train "$work" --out "$work/d_$algo.cff" "${F[@]}" --algo $algo --nproc 2 --parallel data --dist-timeout 20
  same_weights "$work/s_$algo.cff" "$work/d_$algo.cff" 1e-4
done
echo "pipeline,data: 2 stages x 2 replicas"
$T "$cff" train "$work" --out "$work/both.cff" "${F[@]}" --nproc 4 --parallel pipeline,data --stages 2 --dist-timeout 20
same_weights "$work/seq.cff" "$work/both.cff" 1e-4
same_losses "$work/seq.cff" "$work/both.cff" 1e-5
echo "a ViT, 2-rank pipeline: bit-identical"
V=(--arch vit -E 16 -H 2 -L 2 --patch 4 --batch 32 --epochs 1 --head-epochs 1 --threads 1 --blas-threads 1 --precision fp32 --quiet --force)
$T "$cff" train "$work" --out "$work/vit.cff" "${V[@]}"
$T "$cff" train "$work" --out "$work/vit2.cff" "${V[@]}" --nproc 2 --parallel pipeline --dist-timeout 20
same_weights "$work/vit.cff" "$work/vit2.cff" 0

echo "ranks started by hand with torchrun's variables; the model loads and resumes in one process"
port=$(free_port)
for r in 1 0; do
  RANK=$r WORLD_SIZE=2 LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
    $T "$cff" train "$work" --out "$work/hand.cff" "${F[@]}" --parallel pipeline --dist-timeout 20 --json \
    > "$work/hand$r.json" &
  pids+=($!)
done
wait "${pids[@]}"
pids=()
same_weights "$work/seq.cff" "$work/hand.cff" 0
python3 -c "import json; r = json.load(open('$work/hand0.json')); assert r['test']['count'] == 120, r"
[ ! -s "$work/hand1.json" ] || python3 -c "import json; assert 'test' not in json.load(open('$work/hand1.json'))"
"$cff" eval "$work/hand.cff" "$work" --json > /dev/null

# A run slow enough to be interrupted: 10 epochs of many small batches.
SLOW=(-E 32 -L 2 --batch 8 --epochs 10 --head-epochs 1 --threads 1 --blas-threads 1 --precision fp32 --quiet --force)
start_pair() {  # MODE OUT: two hand-started ranks; their pids in r0 and r1
  local port; port=$(free_port)
  RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$cff" train "$work" --out "$2" "${SLOW[@]}" \
    --parallel "$1" --dist-timeout 4 2> "$work/r1.err" & r1=$!
  RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$cff" train "$work" --out "$2" "${SLOW[@]}" \
    --parallel "$1" --dist-timeout 4 2> "$work/r0.err" & r0=$!
  pids+=($r0 $r1)
  for _ in $(seq 1 300); do [ -f "$2" ] && return 0; sleep 0.1; done
  echo "no checkpoint appeared"; exit 1
}
expect_rank0_error() {  # PATTERN SECONDS
  local t0=$SECONDS
  if wait "$r0"; then echo "rank 0 should have failed"; exit 1; fi
  local took=$((SECONDS - t0))
  [ "$(wc -l < "$work/r0.err")" -eq 1 ] || { echo "not one line:"; cat "$work/r0.err"; exit 1; }
  grep -q "$1" "$work/r0.err" || { echo "missing '$1' in:"; cat "$work/r0.err"; exit 1; }
  [ "$took" -le "$2" ] || { echo "took ${took}s (bound $2 s)"; exit 1; }
  echo "  rank 0 after ${took}s: $(cat "$work/r0.err")"
}

echo "a killed rank (pipeline): the other stops with a clear error; the last epoch loads; --resume continues it"
start_pair pipeline "$work/kill.cff"
kill -9 "$r1"
wait "$r1" 2> /dev/null || true
expect_rank0_error "a peer rank stopped" 10
"$cff" info "$work/kill.cff" --json > /dev/null
cp "$work/kill.cff" "$work/kill2.cff"
# The checkpoint is the whole model: it resumes in another mode (2 data ranks) and in one process.
$T "$cff" train "$work" --out "$work/kill.cff" --resume --quiet --json --nproc 2 --parallel data \
  --dist-timeout 20 > "$work/resumed.json"
# --json with --nproc: one line per rank; rank 0's holds the result.
python3 -c "
import json
lines = [json.loads(l) for l in open('$work/resumed.json')]
r = next(l for l in lines if 'model' in l)
assert r['test']['count'] == 120 and sorted(l.get('rank', 0) for l in lines) == [0, 1], lines"
$T "$cff" train "$work" --out "$work/kill2.cff" --resume --quiet --json > "$work/resumed2.json"
python3 -c "import json; r = json.load(open('$work/resumed2.json')); assert r['test']['count'] == 120, r"

echo "a hung rank (data): the other gives up after the timeout (4 s)"
start_pair data "$work/hang.cff"
kill -STOP "$r1"
expect_rank0_error "no answer within 4 s" 15
kill -9 "$r1"
wait "$r1" 2> /dev/null || true

expect_fail() {  # PATTERN COMMAND...: one line on stderr, exit code 1
  local want=$1; shift
  if "$@" > "$work/out" 2> "$work/err"; then echo "expected failure: $*"; exit 1; fi
  [ "$(wc -l < "$work/err")" -eq 1 ] || { echo "not one line:"; cat "$work/err"; exit 1; }
  grep -q "$want" "$work/err" || { echo "missing '$want' in:"; cat "$work/err"; exit 1; }
  echo "  $(cat "$work/err")"
}
echo "bad launch environments: one-line errors"
expect_fail "RANK is not set" env -u RANK WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=1234 \
  "$cff" train "$work" --out "$work/x.cff" --parallel data --quiet --force
expect_fail "cannot reach the rendezvous" env RANK=1 WORLD_SIZE=2 MASTER_ADDR=256.0.0.1 MASTER_PORT=1234 \
  "$cff" train "$work" --out "$work/x.cff" --parallel data --dist-timeout 2 --quiet --force
python3 -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(30)" > "$work/busy" &
pids+=($!)
for _ in $(seq 1 50); do [ -s "$work/busy" ] && break; sleep 0.1; done
expect_fail "cannot serve the rendezvous" env RANK=0 WORLD_SIZE=1 MASTER_ADDR=127.0.0.1 MASTER_PORT="$(cat "$work/busy")" \
  "$cff" train "$work" --out "$work/x.cff" --parallel data --dist-timeout 2 --quiet --force
expect_fail "too large for this model" "$cff" train "$work" --out "$work/x.cff" -L 2 --nproc 3 --parallel pipeline --quiet --force
expect_fail "give --parallel" "$cff" train "$work" --out "$work/x.cff" --nproc 2 --quiet --force
port=$(free_port)
RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$cff" train "$work" --out "$work/x.cff" --lr 0.01 \
  --parallel data --dist-timeout 10 --quiet --force 2> /dev/null &
pids+=($!)
expect_fail "rank 1 runs a different training than rank 0 (train.lr 0.004 vs 0.01)" \
  env RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
  "$cff" train "$work" --out "$work/x.cff" --parallel data --dist-timeout 10 --quiet --force
kill "${pids[@]}" 2> /dev/null || true
wait 2> /dev/null || true
pids=()
echo "distributed: all checks passed"
