#!/usr/bin/env bash
# The cff program end to end on a tiny generated PNG image folder (train/ and test/):
# train --report -> eval -> predict -> inspect --report -> export; report files exist and parse;
# --json output parses; bad files are skipped with a count or fatal; CIFAR binaries train.
# Usage: test_cli_images.sh CFF_BINARY
set -euo pipefail
cff=$1
here=$(dirname "$0")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$here/make_idx.py" "$work"
python3 "$here/../../tools/scripts/idx_to_png.py" "$work" "$work/img" --names zero,one,two,three > /dev/null
py() { python3 -c "$1"; }
small=(-E 32 -L 2 --batch 32 --head-lr 0.02 --threads 1 --workers 2)

"$cff" train "$work/img" --out "$work/m.cff" "${small[@]}" --stream --epochs 3 --head-epochs 3 --report "$work/report" --report-samples 200 --json \
  > "$work/train.json" 2> "$work/train.err"
py "import json; r = json.load(open('$work/train.json')); assert r['test']['top1'] > 0.9, r; assert r['train_images'] == 400, r; assert r['report'], r"
"$cff" info "$work/m.cff" --json | py "import json,sys; r = json.load(sys.stdin); assert r['config']['model']['class_names'] == ['one','three','two','zero'], r['config']['model']"

# report: CSV files parse with the expected rows, the page is self-contained HTML with SVG plots
check_report() {
  py "
import csv, html.parser
d = '$1'
layers = list(csv.DictReader(open(d + '/layers.csv')))
assert [r['layer'] for r in layers] == ['1', '2'], layers
assert all(float(r['cos_same']) > float(r['cos_diff']) for r in layers), layers
hist = list(csv.DictReader(open(d + '/history.csv')))
assert len(hist) == $2, len(hist)
proj = list(csv.DictReader(open(d + '/projection.csv')))
assert len(proj) == 2 * $3 and {r['class'] for r in proj} == {'zero','one','two','three'}, len(proj)
class P(html.parser.HTMLParser):
    tags = []
    def handle_starttag(self, tag, attrs): self.tags.append(tag)
p = P(); p.feed(open(d + '/report.html').read())
assert p.tags.count('svg') == 7, p.tags.count('svg')
assert 'script' not in p.tags and 'link' not in p.tags and 'img' not in p.tags
"
}
check_report "$work/report" 9 40  # the 10% validation split of 400

"$cff" eval "$work/m.cff" "$work/img" --topk 1,2 --json > "$work/eval.json"
py "import json; r = json.load(open('$work/eval.json')); assert r['top1'] > 0.9 and r['topk']['2'] >= r['top1'] and r['count'] == 120 and r['part'] == 'test', r"
# the same model on the IDX files it was converted from: the same images, the same accuracy
# (labels differ by name order, so compare through the PNG folder's own test part only)
"$cff" eval "$work/m.cff" "$work/img/test" --json | py "import json,sys; r = json.load(sys.stdin); assert r['count'] == 120, r"

# predict: one line per image (path, class, score), folders searched recursively
"$cff" predict "$work/m.cff" "$work/img/test/two" > "$work/pred.txt"
[ "$(wc -l < "$work/pred.txt")" -eq "$(ls "$work/img/test/two" | wc -l)" ]
py "
rows = [l.rstrip('\n').split('\t') for l in open('$work/pred.txt')]
assert all(len(r) == 3 and 0 <= float(r[2]) <= 1 for r in rows), rows[:3]
assert sum(r[1] == 'two' for r in rows) >= 0.9 * len(rows), rows[:5]"
one=$(ls "$work/img/test/one" | head -n1)
"$cff" predict "$work/m.cff" "$work/img/test/one/$one" --topk 3 --json | py "
import json, sys
r = json.load(sys.stdin)['predictions']
assert len(r) == 1 and r[0]['class'] == 'one' and len(r[0]['topk']) == 3, r
assert r[0]['topk'][0]['score'] >= r[0]['topk'][1]['score'] >= r[0]['topk'][2]['score'], r"

# inspect: table on stdout, --json, --report
"$cff" inspect "$work/m.cff" "$work/img" --samples 100 --report "$work/report2" --json > "$work/inspect.json"
py "import json; r = json.load(open('$work/inspect.json')); assert r['samples'] == 100 and len(r['layers']) == 2 and r['layers'][1]['fisher'] > 0, r"
check_report "$work/report2" 9 100
"$cff" inspect "$work/m.cff" "$work/img" --samples 50 | grep -q "^    2  "

# export: a state dict file and the names of its tensors
"$cff" export "$work/m.cff" "$work/m.pt" --json | py "
import json, sys
r = json.load(sys.stdin); names = [t['name'] for t in r['tensors']]
assert 'encoder.layers.0.fc.weight' in names and 'head.fc.weight' in names and 'input.mean' in names, names"
[ "$(head -c 2 "$work/m.pt")" = "PK" ]
# export --format torchscript: a module PyTorch runs (where python3-torch is installed)
"$cff" export "$work/m.cff" "$work/m.ts" --format torchscript > /dev/null
[ "$(head -c 2 "$work/m.ts")" = "PK" ]
if py "import torch" 2> /dev/null; then
  "$cff" info "$work/m.cff" --json > "$work/info.json"
  py "
import json, torch
m = json.load(open('$work/info.json'))['config']['model']
out = torch.jit.load('$work/m.ts')(torch.zeros(5, m['channels'], m['height'], m['width'], dtype=torch.uint8))
assert tuple(out.shape) == (5, m['num_classes']), out.shape"
else
  echo "python3-torch not installed: the TorchScript module is not loaded in Python here"
fi

# bad files: skipped with a count by default, fatal with --bad-files fail
echo "not an image" > "$work/img/train/two/broken.png"
"$cff" train "$work/img" --out "$work/m2.cff" "${small[@]}" --epochs 1 --head-epochs 1 --json \
  > "$work/skip.json" 2> "$work/skip.err"
py "import json; r = json.load(open('$work/skip.json')); assert r['skipped_files'] == 1 and r['train_images'] == 400, r"
grep -q "skipping .*broken.png: not an image" "$work/skip.err"
grep -q "1 file skipped" "$work/skip.err"

expect_fail() {
  local want=$1; shift
  if "$@" > "$work/out" 2> "$work/err"; then echo "expected failure: $*"; exit 1; fi
  [ "$(wc -l < "$work/err")" -eq 1 ] || { echo "not one line:"; cat "$work/err"; exit 1; }
  grep -q -- "$want" "$work/err" || { echo "missing '$want' in:"; cat "$work/err"; exit 1; }
}
expect_fail "broken.png: not an image" "$cff" train "$work/img" --out "$work/x.cff" --bad-files fail -q
rm "$work/img/train/two/broken.png"
mkdir "$work/img/train/empty"
expect_fail "empty: empty class folder" "$cff" train "$work/img" --out "$work/x.cff"
rmdir "$work/img/train/empty"
expect_fail "mismatched sizes" "$cff" train "$work/img" --out "$work/x.cff" --size 10 --resize none
expect_fail "no such file or folder" "$cff" predict "$work/m.cff" "$work/absent.png"
expect_fail "--resize must be crop, stretch or none" "$cff" eval "$work/m.cff" "$work/img" --resize zoom
[ ! -e "$work/x.cff" ] || { echo "a failed run left a model file"; exit 1; }
"$cff" predict --help | grep -q -- "--topk"
"$cff" inspect --help | grep -q -- "--report"

# CIFAR-10 binary folder: 30 train + 10 test records, trained for one epoch
python3 - "$work/cifar" <<'PY'
import os, random, sys
d = sys.argv[1]; os.makedirs(d); rng = random.Random(0)
def records(n):
    out = bytearray()
    for _ in range(n):
        c = rng.randrange(10); out.append(c); out += bytes(rng.randrange(256) for _ in range(3072))
    return bytes(out)
open(f"{d}/data_batch_1.bin", "wb").write(records(30))
open(f"{d}/test_batch.bin", "wb").write(records(10))
PY
"$cff" train "$work/cifar" --out "$work/c.cff" -E 16 -L 1 --batch 8 --epochs 1 --head-epochs 1 --threads 1 --json -q \
  | py "import json,sys; r = json.load(sys.stdin); assert r['train_images'] == 30 and r['test']['count'] == 10, r"
echo "cli images ok"
