#!/usr/bin/env bash
# The main job: installs every dependency, builds the library and the cff tool, then trains CFF+M
# on Fashion-MNIST (MLP[500 3], 10 stage-1 epochs of two flipped views, 10 head epochs, precision
# auto: bf16 on CPUs with AMX/AVX512-BF16, else fp32) with a progress display, and prints the test
# accuracy. On 2 CPU cores the first build takes about 5-10 minutes; training takes about 2
# minutes on an AMX host and longer on a slow fp32 host. Extra arguments go to `cff train`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)" --target cff_tool cff_plugin_augment cff_plugin_contrastive_c
./build/tools/cff train /usr/share/datasets/fashion-mnist --algo cff+m \
  --epochs 10 --head-epochs 10 --out fashion-mnist-cffm.cff "$@"
