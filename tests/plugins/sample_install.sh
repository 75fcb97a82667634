#!/usr/bin/env bash
# What the README promises a user: install libcff into a prefix, build the sample C loss plugin
# outside the source tree with one cc line against the installed SDK header, and train with it by
# name from the installed `cff` tool (once with --plugin, once through CFF_PLUGIN_PATH); the
# shipped plugins are found in the installed plugin folder.
# Usage: sample_install.sh BUILD_DIR SCRATCH_DIR SOURCE_DIR
set -euo pipefail
build=$1 scratch=$2 src=$3
rm -rf "$scratch"
mkdir -p "$scratch/data" "$scratch/user"
cmake --install "$build" --prefix "$scratch/prefix" > /dev/null
prefix=$scratch/prefix
libdir=$(dirname "$(find "$prefix" -name 'libcff.so' | head -1)")
export LD_LIBRARY_PATH="$libdir:${LD_LIBRARY_PATH:-}"
[ -f "$libdir/cff/plugins/libcff-plugin-augment.so" ] || { echo "shipped plugins not installed in $libdir/cff/plugins"; exit 1; }

cp "$src/samples/loss_c/cosine_margin.c" "$scratch/user/"
cd "$scratch/user"
cc -std=c99 -O2 -shared -fPIC -I"$prefix/include" cosine_margin.c -o libcff-plugin-cosine_margin.so -lm

python3 "$src/tests/tools/make_idx.py" "$scratch/data"
cff=$prefix/bin/cff
"$cff" plugins --plugin ./libcff-plugin-cosine_margin.so > plugins.txt
grep -q "cosine-margin" plugins.txt && grep -q "randaugment" plugins.txt && grep -q "supcon" plugins.txt
common=(-E 32 -L 2 --batch 32 --epochs 3 --head-epochs 3 --head-lr 0.02 --threads 1 --json --quiet)
"$cff" train "$scratch/data" --out m1.cff --algo cff --plugin ./libcff-plugin-cosine_margin.so --loss cosine-margin:margin=0.1 \
  --augment hflip+randaugment:n=1,m=5 "${common[@]}" > train1.json
python3 -c "import json; r = json.load(open('train1.json')); assert r['test']['top1'] > 0.9, r"
CFF_PLUGIN_PATH="$scratch/user" "$cff" train "$scratch/data" --out m2.cff --algo cff --loss cosine-margin \
  "${common[@]}" > train2.json
python3 -c "import json; r = json.load(open('train2.json')); assert r['test']['top1'] > 0.9, r"
# the saved model remembers its plugin: found on the discovery path without --plugin ...
CFF_PLUGIN_PATH="$scratch/user" "$cff" eval m2.cff "$scratch/data" --json > eval.json
python3 -c "import json; r = json.load(open('eval.json')); assert r['top1'] > 0.9, r"
CFF_PLUGIN_PATH="$scratch/user" "$cff" info m2.cff --json > info.json
python3 -c "import json; r = json.load(open('info.json')); p = r['config']['train']['plugins']; assert p[0]['file'] == 'libcff-plugin-cosine_margin.so' and p[0]['provider'] == 'cosine-margin', p"
# ... and named when it cannot be found
if "$cff" info m2.cff 2> err.txt; then exit 1; fi
grep -q "the model was trained with plugin libcff-plugin-cosine_margin.so (loss 'cosine-margin'), which is not loaded" err.txt
# a broken plugin path is a one-line error
if "$cff" train "$scratch/data" --out m3.cff --plugin ./missing.so --quiet 2> err.txt; then exit 1; fi
grep -q "missing.so: no such file" err.txt
# discovery skips files that fail and says so: in the listing, and when a name is unknown
broken=$build/tests/plugins/broken
if [ -d "$broken" ]; then
  CFF_PLUGIN_PATH="$broken" "$cff" plugins > listing.txt
  grep -q "failed to load: plugin $broken/libcff-plugin-broken_abi.so: was built for plugin ABI version 999" listing.txt
  if grep -q "not_a_library" listing.txt; then echo "discovery loaded a file without the libcff-plugin- prefix"; exit 1; fi
  grep -q "randaugment" listing.txt
  if CFF_PLUGIN_PATH="$broken" "$cff" train "$scratch/data" --out m4.cff --loss nope --quiet 2> err.txt; then exit 1; fi
  grep -q "unknown loss 'nope'.*plugin file(s) failed to load" err.txt
fi
echo "sample plugin install ok"
