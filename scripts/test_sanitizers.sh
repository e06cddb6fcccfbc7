#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer build (CMake option ERRSEG_SANITIZE) of the part
# of the suite that handles untrusted input, and its run: the io / text / vocabulary / ERR-Seg
# unit suites, the CLI tests, the hostile-input corpus (tests/hostile/) and the determinism check,
# all with the sanitized `errseg` binary. Any sanitizer report fails the run.
# Usage: scripts/test_sanitizers.sh [BUILD_DIR]   (default build-asan; JOBS=N to set parallelism)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build-asan}"
JOBS="${JOBS:-$(nproc)}"
SUITES=(test_tensor test_json test_safetensors test_weights test_npz test_image test_tokenizer
        test_vocabulary test_errseg_units)
# clang when it can link sanitized programs (Debian: clang + libclang-rt-14-dev), else the default
# compiler (g++ needs libasan / libubsan, installed with it).
COMPILER=()
probe="$(mktemp -d)"
if command -v clang++ >/dev/null &&
   echo 'int main() { return 0; }' | clang++ -x c++ -fsanitize=address,undefined - -o "$probe/a" 2>/dev/null; then
  COMPILER=(-DCMAKE_CXX_COMPILER=clang++)
fi
rm -rf "$probe"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DERRSEG_SANITIZE=ON "${COMPILER[@]}" \
  -DERRSEG_TESTS=ON -DERRSEG_EXAMPLES=ON >/dev/null
cmake --build "$BUILD" -j "$JOBS" --target "${SUITES[@]}" errseg_cli

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1:check_initialization_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
regex="^($(IFS='|'; echo "${SUITES[*]}")|cli_test_segment|cli_test_text|hostile_corpus|determinism_segment)\$"
# ctest adds the fixture that converts the test models (convert_test_models) by itself.
ctest --test-dir "$BUILD" --output-on-failure -j "$JOBS" -R "$regex"
