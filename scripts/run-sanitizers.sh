#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer run of the C API: builds libcff_c and its C tests
# instrumented in build-sanitize/ (tests/capi/sanitize), linked against the libcff already built
# in build/ (scripts/build.sh; the core and LibTorch are not instrumented), and runs them. Any
# sanitizer report fails the run (halt_on_error). Leaks are checked, minus LibTorch's own
# process-lifetime allocations (tests/capi/sanitize/lsan.supp).  Usage: run-sanitizers.sh [CORE_BUILD]
set -euo pipefail
cd "$(dirname "$0")/.."
core=$(realpath "${1:-build}")
cmake -S tests/capi/sanitize -B build-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCFF_CORE_BUILD="$core" \
  -DCFF_SANITIZE=address,undefined > /dev/null
cmake --build build-sanitize -j "$(nproc)"
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1"
export LSAN_OPTIONS="suppressions=$PWD/tests/capi/sanitize/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
ctest --test-dir build-sanitize --output-on-failure -j "$(nproc)"
