#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer build (CMake option ERRSEG_SANITIZE) of the whole
# C++ test suite and its run: every doctest suite (ops, tensor core, loaders, tokenizer, CLIP
# towers, ERR-Seg head and fixture parity), the CLI tests, the hostile-input corpus
# (tests/hostile/) and the determinism check, all with the sanitized `errseg` binary. Left out:
# the Python converter tests (no C++ in them) and the consumer-project build (it compiles
# outside projects, which the sanitizer flags do not reach). Any sanitizer report fails the run.
# Usage: scripts/test_sanitizers.sh [BUILD_DIR]   (default build-asan; JOBS=N to set parallelism)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build-asan}"
JOBS="${JOBS:-$(nproc)}"
source scripts/sanitizer_compiler.sh
sanitizer_compiler address,undefined || true  # the build below then says what is missing
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DERRSEG_SANITIZE=ON "${COMPILER[@]}" \
  -DERRSEG_TESTS=ON -DERRSEG_EXAMPLES=ON >/dev/null
cmake --build "$BUILD" -j "$JOBS"

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1:check_initialization_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# ctest adds the fixture that converts the test models (convert_test_models) by itself.
ctest --test-dir "$BUILD" --output-on-failure -j "$JOBS" -E '^(consumer_projects|python_test_.*)$'
