#!/usr/bin/env bash
# Builds the two consumer projects: against an installed errseg (find_package) and through
# FetchContent. Usage: tests/consumer/run.sh SOURCE_DIR WORK_DIR
set -euo pipefail
SRC="$(cd "$1" && pwd)"; WORK="$2"
rm -rf "$WORK"; mkdir -p "$WORK"
GEN=""; command -v ninja >/dev/null && GEN="-G Ninja"
cmake -S "$SRC" -B "$WORK/errseg-build" $GEN -DERRSEG_TESTS=OFF -DERRSEG_EXAMPLES=OFF -DCMAKE_INSTALL_PREFIX="$WORK/prefix" >/dev/null
cmake --install "$WORK/errseg-build" >/dev/null
cmake -S "$SRC/tests/consumer/installed" -B "$WORK/installed" $GEN -DCMAKE_PREFIX_PATH="$WORK/prefix" >/dev/null
cmake --build "$WORK/installed" >/dev/null
"$WORK/installed/consumer"
cmake -S "$SRC/tests/consumer/fetchcontent" -B "$WORK/fetchcontent" $GEN -DERRSEG_SOURCE="$SRC" >/dev/null
cmake --build "$WORK/fetchcontent" >/dev/null
"$WORK/fetchcontent/consumer"
