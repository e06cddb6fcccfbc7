#!/usr/bin/env bash
# The main job end to end: build the `errseg` CLI, convert the bundled ERR-Seg checkpoint into
# our model file, and segment the bundled sample image with the ADE20K-150 vocabulary.
# Usage: scripts/demo.sh [IMAGE] [VOCABULARY]   (outputs in out/)
#
# The bundled checkpoint (tests/data/fixtures/errseg_tiny_seed0.pth) has the exact layout of the
# released ERR-Seg model_final.pth but small widths and RANDOM weights: real weights cannot be
# downloaded in this environment. Its label maps are therefore meaningless as segmentations;
# convert the published ERR-Seg B/L checkpoints for real results (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE="${1:-tests/data/fixtures/sample_400x300.png}"
VOCAB="${2:-ade150}"
BUILD=build

for tool in cmake g++; do
  command -v $tool >/dev/null || { echo "missing $tool: run scripts/install_deps.sh --runtime" >&2; exit 1; }
done
PY=""
for p in /usr/bin/python3 python3; do
  if command -v $p >/dev/null && $p -c 'import numpy' 2>/dev/null; then PY=$p; break; fi
done
[ -n "$PY" ] || { echo "python3 with numpy is needed by the converter: run scripts/install_deps.sh --runtime" >&2; exit 1; }

GEN=""; command -v ninja >/dev/null && GEN="-G Ninja"
cmake -S . -B "$BUILD" $GEN -DCMAKE_BUILD_TYPE=Release -DERRSEG_TESTS=OFF -DERRSEG_EXAMPLES=ON >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target errseg_cli

MODEL="$BUILD/models/errseg_tiny.safetensors"
if [ ! -f "$MODEL" ] || [ tests/data/fixtures/errseg_tiny_seed0.pth -nt "$MODEL" ]; then
  mkdir -p "$BUILD/models"
  "$PY" weights_converter/convert.py tests/data/fixtures/errseg_tiny_seed0.pth "$MODEL" \
    --config tests/data/fixtures/errseg_tiny.config.json
fi
"$BUILD/errseg" segment --model "$MODEL" --classes "$VOCAB" --save-logits -o out "$IMAGE"
echo "outputs in out/: $(ls out | tr '\n' ' ')"
