#!/usr/bin/env bash
# errseg eval on a synthetic dataset with hand-computed IoUs (saved-predictions mode), and the
# model mode on the fixture image against its own prediction (must score 100%).
# Usage: test_eval.sh ERRSEG_BIN TEST_MODELS_DIR WORK_DIR
set -euo pipefail
BIN="$1"; MODEL="$2/errseg_tiny.safetensors"; WORK="$3"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
rm -rf "$WORK"; mkdir -p "$WORK/gt" "$WORK/pred" "$WORK/images"
fail() { echo "FAIL: $*" >&2; exit 1; }

# Two 4x2 images, classes a,b,c (0,1,2), 255 = ignore. Hand computation:
#  img1 gt   0 0 1 1 / 2 2 255 0     pred 0 1 1 1 / 2 0 2 0
#  img2 gt   1 1 1 1 / 0 0 0 0       pred 1 1 0 0 / 0 0 0 0
#  class 0: tp 2+4=6, gt 3+4=7, pred 3+6=9  -> IoU 6/10
#  class 1: tp 2+2=4, gt 2+4=6, pred 3+2=5  -> IoU 4/7
#  class 2: tp 1,     gt 2,     pred 1      -> IoU 1/2   (the ignored pixel's prediction 2 is not counted)
#  mIoU = (0.6 + 0.571429 + 0.5)/3 = 55.71 ; pixel acc = 11/15 = 73.33
python3 - "$WORK" <<'PY'
import struct, sys, zlib
def png(path, w, h, px):
    raw = b"".join(b"\x00" + bytes(px[y*w:(y+1)*w]) for y in range(h))
    def chunk(t, b): return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b))
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
d = sys.argv[1]
png(f"{d}/gt/img1.png", 4, 2, [0,0,1,1, 2,2,255,0]); png(f"{d}/pred/img1_labels.png", 4, 2, [0,1,1,1, 2,0,2,0])
png(f"{d}/gt/img2.png", 4, 2, [1,1,1,1, 0,0,0,0]);   png(f"{d}/pred/img2.png", 4, 2, [1,1,0,0, 0,0,0,0])
PY
OUT="$("$BIN" eval --classes "a,b,c" --labels "$WORK/gt" --predictions "$WORK/pred" --per-class --json "$WORK/m.json" --quiet)"
echo "$OUT"
grep -q "mIoU: 55.71" <<<"$OUT" || fail "mIoU"
grep -q "pixel accuracy: 73.33" <<<"$OUT" || fail "pixel accuracy"
python3 -c "
import json; m=json.load(open('$WORK/m.json'))
assert abs(m['per_class_iou']['a']-60)<1e-9 and abs(m['per_class_iou']['b']-400/7)<1e-9 and abs(m['per_class_iou']['c']-50)<1e-9, m"

# Model mode: the model's own prediction as ground truth scores 100.
cp "$SRC/tests/data/fixtures/sample_400x300.png" "$WORK/images/s.png"
"$BIN" segment --model "$MODEL" --classes voc20 --quiet "$WORK/images/s.png" -o "$WORK/seg" >/dev/null
mkdir -p "$WORK/gt2"; cp "$WORK/seg/s_labels.png" "$WORK/gt2/s.png"
OUT2="$("$BIN" eval --model "$MODEL" --classes voc20 --images "$WORK/images" --labels "$WORK/gt2" --quiet)"
grep -q "mIoU: 100.00" <<<"$OUT2" || fail "model mode: $OUT2"
# The same with the published protocol's resize: segment --upstream-resize predictions score 100
# under eval --upstream-resize (both run the same path).
"$BIN" segment --model "$MODEL" --classes voc20 --quiet --upstream-resize "$WORK/images/s.png" -o "$WORK/seg_up" >/dev/null
mkdir -p "$WORK/gt3"; cp "$WORK/seg_up/s_labels.png" "$WORK/gt3/s.png"
OUT3="$("$BIN" eval --model "$MODEL" --classes voc20 --images "$WORK/images" --labels "$WORK/gt3" --upstream-resize --quiet)"
grep -q "mIoU: 100.00" <<<"$OUT3" || fail "model mode, --upstream-resize: $OUT3"

# Errors.
rc=0; msg="$("$BIN" eval --classes "a,b" --labels "$WORK/gt" --predictions "$WORK/pred" 2>&1)" || rc=$?
[ $rc -ne 0 ] && grep -q "outside \[0, 2)" <<<"$msg" || fail "out-of-range label not reported: $msg"
echo "1 passed, 0 failed"
