#!/usr/bin/env bash
# Installs every dependency, builds everything and runs every test (ctest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)"
# The C API and its C tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
bash scripts/run-sanitizers.sh build
