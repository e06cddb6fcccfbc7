#!/usr/bin/env bash
# Builds the consumer projects: against an installed errseg (find_package, then pkg-config) and
# through FetchContent. Usage: tests/consumer/run.sh SOURCE_DIR WORK_DIR
# ERRSEG_CONSUMER_CMAKE_ARGS adds options to the errseg build (e.g. -DERRSEG_CUDA=ON, which the
# installed consumer then links as find_package(errseg COMPONENTS cuda); -DERRSEG_HEADER_ONLY=ON).
set -euo pipefail
SRC="$(cd "$1" && pwd)"; WORK="$2"
rm -rf "$WORK"; mkdir -p "$WORK"
GEN=""; command -v ninja >/dev/null && GEN="-G Ninja"
# shellcheck disable=SC2086
cmake -S "$SRC" -B "$WORK/errseg-build" $GEN -DERRSEG_TESTS=OFF -DERRSEG_EXAMPLES=OFF \
  -DCMAKE_INSTALL_PREFIX="$WORK/prefix" ${ERRSEG_CONSUMER_CMAKE_ARGS:-} >/dev/null
cmake --build "$WORK/errseg-build" >/dev/null
cmake --install "$WORK/errseg-build" >/dev/null
cmake -S "$SRC/tests/consumer/installed" -B "$WORK/installed" $GEN -DCMAKE_PREFIX_PATH="$WORK/prefix" >/dev/null
cmake --build "$WORK/installed" >/dev/null
"$WORK/installed/consumer"
# pkg-config, for builds without CMake (the CPU library); plain -O2, no -m flags: main.cpp checks
# that the best CPU kernel path is active anyway.
if command -v pkg-config >/dev/null; then
  PC_DIR="$(dirname "$(find "$WORK/prefix" -name errseg.pc | head -1)")"
  # shellcheck disable=SC2046
  c++ -std=c++17 -O2 "$SRC/tests/consumer/main.cpp" -o "$WORK/consumer_pkgconfig" \
    $(PKG_CONFIG_PATH="$PC_DIR" pkg-config --cflags --libs errseg)
  "$WORK/consumer_pkgconfig"
fi
cmake -S "$SRC/tests/consumer/fetchcontent" -B "$WORK/fetchcontent" $GEN -DERRSEG_SOURCE="$SRC" >/dev/null
cmake --build "$WORK/fetchcontent" >/dev/null
"$WORK/fetchcontent/consumer"
