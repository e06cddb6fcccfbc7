#!/usr/bin/env bash
# The main job end to end: build the `errseg` CLI, convert the bundled ERR-Seg checkpoint into
# our model file, and segment the bundled sample scene with its vocabulary.
# Usage: scripts/demo.sh [IMAGE] [VOCABULARY]   (outputs in out/)
#
# The bundled checkpoint (data/demo/errseg_shapes.pth) is a small ERR-Seg — the exact layout of
# the released model_final.pth, small widths — trained from scratch by training/train_demo.py on
# procedural scenes: shapes ("red circle", "striped square", ...) on "grass", "sky", "sand",
# "water" or a "brick wall" (data/demo/classes.txt lists its 41 names; any other phrasing goes
# through its CLIP text tower too, with unpredictable results). It knows nothing else: for real
# photos, convert the published ERR-Seg B/L checkpoints (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE="${1:-data/demo/scene.png}"
VOCAB="${2:-data/demo/classes.txt}"
CKPT=data/demo/errseg_shapes.pth
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

MODEL="$BUILD/models/errseg_shapes.safetensors"
if [ ! -f "$MODEL" ] || [ "$CKPT" -nt "$MODEL" ]; then
  mkdir -p "$BUILD/models"
  "$PY" weights_converter/convert.py "$CKPT" "$MODEL" --config data/demo/errseg_shapes.config.json
fi
"$BUILD/errseg" segment --model "$MODEL" --classes "$VOCAB" --save-logits -o out "$IMAGE"
echo "outputs in out/: $(ls out | tr '\n' ' ')"
