#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer over the whole library: one clang build in
# build-asan/ of libcff, libcff_c, the plugins, the core / data / plugins / C API test suites
# and the libFuzzer targets (-DCFF_SANITIZE=address,undefined -DCFF_FUZZ=ON; LibTorch itself is
# not instrumented). Runs the suites, then every fuzz target for FUZZ_SECONDS (default 30) over
# its seed corpus. Any sanitizer report fails the run (halt_on_error); leaks are checked, minus
# LibTorch's own process-lifetime allocations (tests/capi/sanitize/lsan.supp).
# Usage: run-sanitizers.sh [FUZZ_SECONDS]   (0 skips the fuzz runs)
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz_seconds=${1:-30}
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1"
export LSAN_OPTIONS="suppressions=$PWD/tests/capi/sanitize/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
CC=clang CXX=clang++ cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=None \
  -DCMAKE_C_FLAGS="-O1 -gline-tables-only" -DCMAKE_CXX_FLAGS="-O1 -gline-tables-only" \
  -DCFF_SANITIZE=address,undefined -DCFF_FUZZ=ON -DCFF_BUILD_BENCHMARKS=OFF -DCFF_BUILD_TOOLS=OFF > /dev/null
cmake --build build-asan -j "$(nproc)"
# The suites of the library itself; the bindings (Go, Rust, Python hosts are not instrumented)
# and the install/package checks run in the normal build only.
ctest --test-dir build-asan --output-on-failure -j "$(nproc)" -E '^(bindings|package|plugins\.sample_install)'
if [ "$fuzz_seconds" -gt 0 ]; then
  bash scripts/run-fuzz.sh "$fuzz_seconds" build-asan
fi
