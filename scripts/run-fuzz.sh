#!/usr/bin/env bash
# Runs every libFuzzer target of BUILD (default build-asan, made by run-sanitizers.sh) for SECONDS
# each (default 30), one after the other, over a working copy of its seed corpus
# (tests/fuzz/corpus/<target>/ and tests/fuzz/regressions/<target>-* -> BUILD/fuzz/corpus/<target>/,
# which keeps what the fuzzer adds).
# A crash, a sanitizer report, a leak, a timeout (30 s for one input; the sanitizers and a loaded 2-core machine make single inputs slow) or an out-of-memory (2 GiB)
# fails the run; the input is kept in BUILD/fuzz/artifacts/<target>/. Extra arguments go to
# libFuzzer. The seed is fixed (FUZZ_SEED, default 1) so that a short CI run explores the same
# inputs every time and a red run is reproducible; longer runs set their own.
# Usage: run-fuzz.sh [SECONDS] [BUILD] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
build=${2:-build-asan}
shift $(( $# > 2 ? 2 : $# ))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_image fuzz_idx fuzz_cifar fuzz_checkpoint fuzz_config fuzz_spec fuzz_capi)
export ASAN_OPTIONS="${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/tests/capi/sanitize/lsan.supp:print_suppressions=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
export OMP_NUM_THREADS=1 CFF_PLUGIN_AUTOLOAD=0
status=0
for t in "${targets[@]}"; do
  bin="$build/tests/fuzz/$t"
  [ -x "$bin" ] || { echo "run-fuzz: $bin not built (scripts/run-sanitizers.sh builds it)"; exit 1; }
  corpus="$build/fuzz/corpus/$t"
  artifacts="$build/fuzz/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  cp -n tests/fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
  cp -n tests/fuzz/regressions/"$t"-* "$corpus"/ 2>/dev/null || true  # inputs that once failed
  start=$(date +%s)
  if "$bin" -seed="${FUZZ_SEED:-1}" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$artifacts/" "$corpus" > "$build/fuzz/$t.log" 2>&1; then
    echo "run-fuzz: $t ok ($(( $(date +%s) - start )) s, $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$build/fuzz/$t.log" | grep -o '[0-9]*$') runs, corpus $(ls "$corpus" | wc -l))"
  else
    echo "run-fuzz: $t FAILED; input in $artifacts/, log $build/fuzz/$t.log:"
    grep -m5 -E "ERROR|SUMMARY|runtime error|Test unit written" "$build/fuzz/$t.log" || tail -n 20 "$build/fuzz/$t.log"
    status=1
  fi
done
exit $status
