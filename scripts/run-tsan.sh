#!/usr/bin/env bash
# ThreadSanitizer run of the C API's threading test (tests/capi/test_capi_threads.c: several
# threads on shared and separate models): libcff_c and the C tests are built with
# -fsanitize=thread in build-tsan/ (tests/capi/sanitize) over the libcff of CORE_BUILD (default
# build/). LibTorch, its OpenMP runtime (libgomp) and the core are not instrumented, so races
# inside them are out of TSan's sight; reports involving only their frames are suppressed
# (tests/capi/sanitize/tsan.supp). Usage: run-tsan.sh [CORE_BUILD]
set -euo pipefail
cd "$(dirname "$0")/.."
core=$(realpath "${1:-build}")
CC=clang CXX=clang++ cmake -S tests/capi/sanitize -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCFF_CORE_BUILD="$core" \
  -DCFF_SANITIZE=thread > /dev/null
cmake --build build-tsan -j "$(nproc)" --target test_capi_threads
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/capi/sanitize/tsan.supp"
ctest --test-dir build-tsan --output-on-failure -R '^capi\.threads$'
