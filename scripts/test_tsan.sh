#!/usr/bin/env bash
# ThreadSanitizer build (CMake option ERRSEG_TSAN) of the tests that exercise process-wide state
# from several threads, and their run: tests/test_threads.cpp (set_num_threads and
# release_cached_memory called while GEMMs, parallel_for and a shared model run on other
# threads) and the CLI's threaded segment pipeline (decode / compute / write overlap,
# --batch 2, several images). Only these targets are built, to keep it to a few minutes on two
# cores. Any data race or deadlock report fails the run.
# Usage: scripts/test_tsan.sh [BUILD_DIR]   (default build-tsan; JOBS=N to set parallelism)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build-tsan}"
JOBS="${JOBS:-$(nproc)}"
source scripts/sanitizer_compiler.sh
if ! sanitizer_compiler thread; then
  echo "test_tsan.sh: no compiler here can link -fsanitize=thread programs (Debian: libtsan2 / libclang-rt-14-dev)" >&2
  exit 1
fi
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DERRSEG_TSAN=ON "${COMPILER[@]}" \
  -DERRSEG_TESTS=ON -DERRSEG_EXAMPLES=ON >/dev/null
cmake --build "$BUILD" -j "$JOBS" --target test_threads errseg_cli

# halt_on_error: the first report fails the run (exit code 66) instead of scrolling past.
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
# ctest adds the fixture that converts the test models (convert_test_models) by itself.
ctest --test-dir "$BUILD" --output-on-failure -R '^test_threads$'

# The CLI pipeline: three images, batches of two, four threads; outputs must appear for all.
out="$BUILD/tsan_cli_out"
rm -rf "$out" "$BUILD/tsan_third.png"
cp tests/data/fixtures/sample_400x300.png "$BUILD/tsan_third.png"
"$BUILD/errseg" segment --model "$BUILD/test_models/errseg_tiny.safetensors" --classes voc20 --quiet \
  --threads 4 --batch 2 tests/data/fixtures/sample_400x300.png tests/data/fixtures/sample_257x385.png \
  "$BUILD/tsan_third.png" -o "$out" >/dev/null
for stem in sample_400x300 sample_257x385 tsan_third; do test -s "$out/$stem.json"; done
echo "ThreadSanitizer: test_threads and the segment pipeline ran without reports"
