#!/usr/bin/env bash
# The main job: installs every dependency, builds, then trains CFF+M on Fashion-MNIST
# (MLP[500 3], 10 stage-1 epochs of two flipped views, 10 head epochs, bf16 on the CPU) with a
# progress display, and prints the test accuracy. A few minutes on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
./build/tools/cff train /usr/share/datasets/fashion-mnist --algo cff+m --precision bf16 \
  --epochs 10 --head-epochs 10 --out fashion-mnist-cffm.cff "$@"
