#!/usr/bin/env bash
# Runs every libFuzzer harness of fuzz/ for a fixed number of executions, one after the other.
#
#   fuzz/run_fuzzers.sh [EXECS] [BUILD_DIR] [HARNESS...]
#
# EXECS (default 10000) executions per harness; BUILD_DIR (default build-fuzz) is configured with
# clang and ERRSEG_FUZZ=ON and built when needed. Each harness starts from its committed seeds
# (fuzz/corpus/<name>/) and regression inputs (fuzz/regressions/<name>/, when present); new
# corpus entries go to BUILD_DIR/fuzz-work/<name>/corpus (never into the source tree), crash
# inputs to BUILD_DIR/fuzz-work/<name>/. Prints one line per harness and exits non-zero when any
# harness found a crash, a leak, a timeout or an out-of-memory.
# Environment: FUZZ_JOBS (build parallelism, default 1), FUZZ_MAX_TOTAL_TIME (seconds per harness,
# default none), FUZZ_FLAGS (extra libFuzzer flags).
set -euo pipefail
cd "$(dirname "$0")/.."
EXECS="${1:-10000}"
BUILD="${2:-build-fuzz}"
shift $(( $# > 2 ? 2 : $# ))
HARNESSES=("$@")
if [ ${#HARNESSES[@]} -eq 0 ]; then
  for f in fuzz/fuzz_*.cpp; do HARNESSES+=("$(basename "$f" .cpp | sed 's/^fuzz_//')"); done
fi

CXX_BIN="${CXX_FUZZ:-$(command -v clang++ || true)}"
[ -n "$CXX_BIN" ] || { echo "run_fuzzers.sh: clang++ not found (apt-get install clang)" >&2; exit 2; }
if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER="$CXX_BIN" \
    -DERRSEG_TESTS=OFF -DERRSEG_EXAMPLES=OFF -DERRSEG_FUZZ=ON >/dev/null
fi
targets=(); for h in "${HARNESSES[@]}"; do targets+=("fuzz_$h"); done
cmake --build "$BUILD" -j "${FUZZ_JOBS:-1}" --target "${targets[@]}"

# Known-benign findings in stb_image.h are suppressed (fuzz/ubsan_suppressions.txt); every
# other sanitizer report stops the harness.
export UBSAN_OPTIONS="suppressions=$PWD/fuzz/ubsan_suppressions.txt:halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

status=0
printf '%-12s %10s %8s %s\n' harness execs seconds result
for h in "${HARNESSES[@]}"; do
  bin="$BUILD/fuzz/fuzz_$h"
  work="$BUILD/fuzz-work/$h"
  mkdir -p "$work/corpus"
  dirs=("$work/corpus" "fuzz/corpus/$h")
  [ -d "fuzz/regressions/$h" ] && dirs+=("fuzz/regressions/$h")
  extra=()
  [ -n "${FUZZ_MAX_TOTAL_TIME:-}" ] && extra+=("-max_total_time=$FUZZ_MAX_TOTAL_TIME")
  log="$work/log.txt"
  rc=0
  # -timeout: one input may take at most 10 s; -rss_limit_mb: a loader must never need 2 GB.
  "$bin" -runs="$EXECS" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$work/" "${extra[@]}" ${FUZZ_FLAGS:-} "${dirs[@]}" >"$log" 2>&1 || rc=$?
  runs="$({ grep -o 'Done [0-9]* runs in [0-9]* second' "$log" || true; } | tail -1 | awk '{print $2, $5}')"
  [ -n "$runs" ] || runs="$({ grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" || true; } | awk '{print $2}') ?"
  if [ "$rc" -eq 0 ]; then
    result=ok
  else
    result="FAILED (rc $rc; see $log; inputs: $(ls "$work" | { grep -E '^(crash|leak|timeout|oom|slow-unit)-' || true; } | tr '\n' ' '))"
    status=1
  fi
  read -r n secs <<<"$runs"
  printf '%-12s %10s %8s %s\n' "$h" "${n:-?}" "${secs:-?}" "$result"
done
exit "$status"
