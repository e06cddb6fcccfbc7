#!/usr/bin/env bash
# Builds errseg with its tests and runs the whole suite (C++ doctest suites, converter tests,
# reference parity, the consumer projects, the Python package's pytest suites). Usage: scripts/test.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
JOBS="$(nproc)"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DERRSEG_TESTS=ON -DERRSEG_EXAMPLES=ON -DERRSEG_PYTHON_BINDINGS=ON
cmake --build "$BUILD" -j "$JOBS"
ctest --test-dir "$BUILD" --output-on-failure -j "$JOBS"
