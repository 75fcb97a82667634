#!/usr/bin/env bash
# Configures and builds libcff, the cff tool, the tests and the benchmarks into build/.
# Extra arguments go to cmake (e.g. -DCMAKE_PREFIX_PATH=/path/to/libtorch for LibTorch 2.x).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build build -j "$(nproc)"
