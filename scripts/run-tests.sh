#!/usr/bin/env bash
# Installs every dependency, builds everything and runs every test (ctest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)"
# The library's suites again under AddressSanitizer + UndefinedBehaviorSanitizer (clang), then
# each fuzz target for 30 s; ThreadSanitizer over the C API's threading test.
bash scripts/run-sanitizers.sh 30
bash scripts/run-tsan.sh build
