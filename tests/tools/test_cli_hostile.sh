#!/usr/bin/env bash
# Hostile input to the cff program, as a careless or hostile user would give it: each case must
# fail with exit code 1 and one line on stderr naming the input and the limit, within its timeout
# (no hang), and with a bounded peak RSS (GNU time's %M, in KiB). Prints a table of the cases.
# Usage: test_cli_hostile.sh CFF_BINARY
set -euo pipefail
cff=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/idx"
python3 "$here/make_idx.py" "$work/idx"
small=(-E 16 -L 1 --batch 32 --epochs 1 --head-epochs 1 --threads 1 -q)
"$cff" train "$work/idx" --out "$work/m.cff" "${small[@]}" --json > /dev/null

timeout_s=60
# expect_fail NAME WANT MAX_RSS_KIB CMD...: exit 1, one line containing WANT, RSS under the bound.
expect_fail() {
  local name=$1 want=$2 max_kib=$3; shift 3
  local rc=0
  /usr/bin/time -f "%M" -o "$work/rss" timeout -s KILL "$timeout_s" "$@" > "$work/out" 2> "$work/err" || rc=$?
  local rss; rss=$(tail -n1 "$work/rss" | tr -dc 0-9)
  if [ "$rc" -ne 1 ]; then echo "FAIL $name: exit code $rc (137 = hang killed)"; cat "$work/err"; exit 1; fi
  [ "$(wc -l < "$work/err")" -eq 1 ] || { echo "FAIL $name: not one line:"; cat "$work/err"; exit 1; }
  grep -qF -- "$want" "$work/err" || { echo "FAIL $name: missing '$want' in:"; cat "$work/err"; exit 1; }
  [ "${rss:-0}" -le "$max_kib" ] || { echo "FAIL $name: peak RSS ${rss} KiB > ${max_kib} KiB"; exit 1; }
  printf '%-34s exit 1  %7s MiB  %s\n' "$name" "$((rss / 1024))" "$(cut -c1-150 "$work/err")"
}
base=600000  # KiB: LibTorch and a small model take ~170 MiB of RSS; every case stays far below its limit

# ---- images (predict) ----
python3 - "$work" <<'PY'
import struct, sys, zlib
out = sys.argv[1]
def png(w, h):
    raw = b"".join(b"\0" + bytes(8) for _ in range(8))
    def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
open(f"{out}/huge.png", "wb").write(png(46000, 46000))
# An 844-byte-style JPEG header declaring 46000x46000: SOI, SOF0, SOS with no data.
sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 46000, 46000, 1) + b"\x01\x11\x00"
dqt = b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + bytes([1] * 64)
dht = b"\xff\xc4" + struct.pack(">H", 31) + b"\x00" + bytes([0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]) + bytes(range(12))
sos = b"\xff\xda" + struct.pack(">HB", 8, 1) + b"\x01\x00\x00\x3f\x00"
open(f"{out}/huge.jpg", "wb").write(b"\xff\xd8" + dqt + sof + dht + sos + bytes(700) + b"\xff\xd9")
PY
expect_fail "predict huge PNG (46000^2)" "huge.png: image too large (46000x46000, limit 67108864 pixels" $base \
  "$cff" predict "$work/m.cff" "$work/huge.png" --bad-files fail
expect_fail "predict huge JPEG (46000^2)" "huge.jpg: image too large (46000x46000" $base \
  "$cff" predict "$work/m.cff" "$work/huge.jpg" --bad-files fail
expect_fail "predict /dev/zero" "/dev/zero: not a regular file (a device)" $base \
  "$cff" predict "$work/m.cff" /dev/zero --bad-files fail
mkfifo "$work/fifo.png"
expect_fail "predict a FIFO" "fifo.png: not a regular file (a FIFO)" $base \
  "$cff" predict "$work/m.cff" "$work/fifo.png" --bad-files fail
truncate -s 3G "$work/sparse.png"
expect_fail "predict a 3 GB sparse file" "sparse.png: image file too large (3.0 GiB, limit 2.0 GiB" $base \
  "$cff" predict "$work/m.cff" "$work/sparse.png" --bad-files fail
expect_fail "predict, lower --max-image-pixels" "limit 16 pixels; --max-image-pixels" $base \
  "$cff" predict "$work/m.cff" "$work/huge.png" --bad-files fail --max-image-pixels 16

# ---- IDX ----
mkdir -p "$work/bomb" "$work/wrap"
python3 - "$work" <<'PY'
import gzip, struct, sys, zlib
out = sys.argv[1]
# Header declaring 1 image of 8x8, then 1 GiB of zeros: a ~1 MiB .gz.
z = zlib.compressobj(9, zlib.DEFLATED, 31)
with open(f"{out}/bomb/train-images-idx3-ubyte.gz", "wb") as f:
    f.write(z.compress(struct.pack(">IIII", 0x803, 1, 8, 8) + bytes(64)))
    block = bytes(1 << 24)
    for _ in range(64): f.write(z.compress(block))
    f.write(z.flush())
with gzip.open(f"{out}/bomb/train-labels-idx1-ubyte.gz", "wb") as f: f.write(struct.pack(">II", 0x801, 1) + b"\0")
# 16 x 2^30 x 2^30 wraps to 0.
open(f"{out}/wrap/train-images-idx3-ubyte", "wb").write(struct.pack(">IIII", 0x803, 16, 1 << 30, 1 << 30))
open(f"{out}/wrap/train-labels-idx1-ubyte", "wb").write(struct.pack(">II", 0x801, 16) + bytes(16))
PY
expect_fail "train IDX gzip bomb (1 MiB -> 1 GiB)" "trailing data after the 64 data bytes" $base \
  "$cff" train "$work/bomb" --out "$work/x.cff" "${small[@]}"
expect_fail "train IDX 16x2^30x2^30" "16 x 1073741824 x 1073741824 = at least 2^64 bytes" $base \
  "$cff" train "$work/wrap" --out "$work/x.cff" "${small[@]}"
expect_fail "train IDX over --max-data-size" "above the limit of 1.0 KiB (--max-data-size)" $base \
  "$cff" train "$work/idx" --out "$work/x.cff" "${small[@]}" --max-data-size 1024

# ---- checkpoints and configs ----
mkdir "$work/dir.cff"
expect_fail "eval a folder as model" "dir.cff: is a folder, not a file (checkpoint expected)" $base \
  "$cff" eval "$work/dir.cff" "$work/idx"
mkfifo "$work/fifo.cff"
expect_fail "eval a FIFO as model" "fifo.cff: not a regular file (a FIFO)" $base "$cff" eval "$work/fifo.cff" "$work/idx"
echo '{"model": {"embed_dim": 64.7}}' > "$work/frac.json"
expect_fail "train --config embed_dim 64.7" "model.embed_dim must be an integer, got 64.7" $base \
  "$cff" train "$work/idx" --out "$work/x.cff" --config "$work/frac.json" -q
echo '{"model": {"embed_dim": 2000000}}' > "$work/huge.json"
expect_fail "train --config embed_dim 2000000" "above the limit of 1073741824 (--max-parameters)" $base \
  "$cff" train "$work/idx" --out "$work/x.cff" --config "$work/huge.json" -q
echo '{"train": {"std": [1e-320], "mean": [0.5]}}' > "$work/std.json"
expect_fail "train --config std 1e-320" "std values must be >= 1e-06" $base \
  "$cff" train "$work/idx" --out "$work/x.cff" --config "$work/std.json" -q
expect_fail "train diverging (--lr 1e30)" "local loss is -nan" 2000000 \
  "$cff" train "$work/idx" --out "$work/m.cff" "${small[@]}" --lr 1e30 --force
"$cff" eval "$work/m.cff" "$work/idx" --json > /dev/null  # the good model is still there

# ---- the command line ----
expect_fail "--size 28abc" "--size (N or HxW): expected a whole number in 1..65536, got '28abc'" $base \
  "$cff" train "$work/idx" --out "$work/x.cff" --size 28abc
expect_fail "--threads 4294967297" "threads must be <= 4096" $base \
  "$cff" train "$work/idx" --out "$work/x.cff" --threads 4294967297 -q
expect_fail "--epochs 1e20" "--epochs" $base "$cff" train "$work/idx" --out "$work/x.cff" --epochs 1e20
expect_fail "unknown option" "--nope" $base "$cff" train "$work/idx" --out "$work/x.cff" --nope
expect_fail "missing argument" "DATA is required" $base "$cff" train --out "$work/x.cff"
expect_fail "--max-file-size 0" "--max-file-size: expected a whole number" $base \
  "$cff" eval "$work/m.cff" "$work/idx" --max-file-size 0
expect_fail "train over an existing model" "m.cff: exists; --force replaces it, --resume continues its run" $base \
  "$cff" train "$work/idx" --out "$work/m.cff" "${small[@]}"
expect_fail "--resume with conflicting flags" "model.embed_dim 16 -> 32; train.lr 0.004 -> 0.01" $base \
  "$cff" train "$work/idx" --out "$work/m.cff" --resume -E 32 --lr 0.01 -q
expect_fail "--out in a missing folder" "folder $work/no/such does not exist" $base \
  "$cff" train "$work/idx" --out "$work/no/such/m.cff" "${small[@]}"
mkdir -p "$work/img/a" "$work/img/b"
python3 - "$work/img" <<'PY'
import struct, sys, zlib
def png(w, h):
    raw = b"".join(b"\0" + bytes(w) for _ in range(h))
    def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
for c in "ab":
    for i in range(3): open(f"{sys.argv[1]}/{c}/{i}.png", "wb").write(png(1, 1))
PY
expect_fail "train on 1x1 images without --size" "the first image is 1x1 and no --size was given" $base \
  "$cff" train "$work/img" --out "$work/x.cff" "${small[@]}"
"$cff" train "$work/idx" --out "$work/m.cff" "${small[@]}" --force --json > /dev/null  # --force replaces
[ ! -e "$work/x.cff" ] || { echo "a failed run left a model file"; exit 1; }
leftover=$(find "$work" -name '*.tmp.*' | wc -l)
[ "$leftover" -eq 0 ] || { echo "temporary files left: $leftover"; exit 1; }
echo "cli hostile ok"
