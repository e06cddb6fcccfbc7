#!/usr/bin/env bash
# errseg eval on a synthetic dataset with hand-computed IoUs (saved-predictions mode), and the
# model mode on the fixture image against its own prediction (must score 100%).
# Usage: test_eval.sh ERRSEG_BIN TEST_MODELS_DIR WORK_DIR
set -euo pipefail
BIN="$1"; MODEL="$2/errseg_tiny.safetensors"; WORK="$3"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
rm -rf "$WORK"; mkdir -p "$WORK/gt" "$WORK/pred" "$WORK/images"
fail() { echo "FAIL: $*" >&2; exit 1; }
# png(path, w, h, pixels): an 8-bit grey PNG, for the Python snippets below (PYTHONPATH=$WORK).
cat > "$WORK/pngw.py" <<'PY'
import struct, zlib
def png(path, w, h, px):
    raw = b"".join(b"\x00" + bytes(px[y*w:(y+1)*w]) for y in range(h))
    def chunk(t, b): return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b))
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
PY
export PYTHONPATH="$WORK${PYTHONPATH:+:$PYTHONPATH}"

# Two 4x2 images, classes a,b,c (0,1,2), 255 = ignore. Hand computation:
#  img1 gt   0 0 1 1 / 2 2 255 0     pred 0 1 1 1 / 2 0 2 0
#  img2 gt   1 1 1 1 / 0 0 0 0       pred 1 1 0 0 / 0 0 0 0
#  class 0: tp 2+4=6, gt 3+4=7, pred 3+6=9  -> IoU 6/10
#  class 1: tp 2+2=4, gt 2+4=6, pred 3+2=5  -> IoU 4/7
#  class 2: tp 1,     gt 2,     pred 1      -> IoU 1/2   (the ignored pixel's prediction 2 is not counted)
#  mIoU = (0.6 + 0.571429 + 0.5)/3 = 55.71 ; pixel acc = 11/15 = 73.33
python3 - "$WORK" <<'PY'
import sys
from pngw import png
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

# --dataset: a benchmark laid out as tools/prepare_datasets.py writes it, evaluated with the
# authors' protocol (vocabulary, K, ignore label, data-loader resize) in one command.
ROOT="$WORK/datasets"; VOC="$ROOT/VOCdevkit/VOC2012"
mkdir -p "$VOC/ImageSets/Segmentation" "$VOC/JPEGImages"
echo "s" > "$VOC/ImageSets/Segmentation/val.txt"
cp "$SRC/tests/data/fixtures/sample_400x300.png" "$VOC/JPEGImages/s.png"
python3 - "$VOC" <<'PY'
import os, sys
from pngw import png
os.makedirs(sys.argv[1] + "/SegmentationClassAug")
# VOC ids: 0 background, 1..20 classes, 255 boundary; a band of each class id over the image.
png(sys.argv[1] + "/SegmentationClassAug/s.png", 400, 300, [(x // 19) if x < 399 else 255 for y in range(300) for x in range(400)])
PY
for PY in /usr/bin/python3 python3; do $PY -c 'import numpy, PIL' 2>/dev/null && break; done
if $PY -c 'import numpy, PIL' 2>/dev/null; then
  $PY "$SRC/tools/prepare_datasets.py" voc20 --root "$ROOT" >/dev/null
  OUT4="$("$BIN" eval --model "$MODEL" --dataset voc20 --root "$ROOT" --json "$WORK/d.json" --quiet)"
  grep -q "protocol: voc20, 20 classes, K 16 (vocabulary), input .*, data-loader (800/1333) resize, ignore label 255" <<<"$OUT4" || fail "protocol line: $OUT4"
  python3 -c "
import json; j = json.load(open('$WORK/d.json')); p = j['protocol']
assert j['images'] == 1 and p['dataset'] == 'voc20' and p['top_k'] == 16 and p['top_k_source'] == 'vocabulary', j
assert p['upstream_resize'] is True and p['ignore_label'] == 255 and p['num_classes'] == 20, p"
  # The same numbers as segment's defaults for voc20 with --upstream-resize, scored as predictions.
  "$BIN" segment --model "$MODEL" --classes voc20 --upstream-resize --quiet "$VOC/JPEGImages/s.png" -o "$WORK/seg_d" >/dev/null
  OUT5="$("$BIN" eval --dataset voc20 --root "$ROOT" --predictions "$WORK/seg_d" --quiet)"
  [ "$(grep mIoU <<<"$OUT4")" = "$(grep mIoU <<<"$OUT5")" ] || fail "eval --dataset differs from segment + eval --predictions: $OUT4 / $OUT5"
fi

# voc20b: predictions of the 39 extra "background" names count as class 20 (upstream's
# VOCbEvaluator). gt 20 0 19 20, pred 25 0 19 3 -> after merging 20 0 19 3:
# IoU background 1/2, class 0 1, class 19 1, class 3 0 -> mIoU 62.50 (40.00 without merging).
BG="$ROOT/VOCdevkit/VOC2012/annotations_detectron2_bg/val"; rm -rf "$BG"; mkdir -p "$BG" "$WORK/pred_b"
python3 - "$BG" "$WORK/pred_b" <<'PY'
import sys
from pngw import png
png(sys.argv[1] + "/b.png", 4, 1, [20, 0, 19, 20]); png(sys.argv[2] + "/b_labels.png", 4, 1, [25, 0, 19, 3])
PY
OUT6="$("$BIN" eval --dataset voc20b --root "$ROOT" --predictions "$WORK/pred_b" --per-class --quiet)"
grep -q "mIoU: 62.50" <<<"$OUT6" && grep -q "pixel accuracy: 75.00" <<<"$OUT6" && grep -q "background .* 50.00" <<<"$OUT6" \
  || fail "voc20b background merge: $OUT6"

# Errors.
rc=0; msg="$("$BIN" eval --classes "a,b" --labels "$WORK/gt" --predictions "$WORK/pred" 2>&1)" || rc=$?
[ $rc -ne 0 ] && grep -q "outside \[0, 2)" <<<"$msg" || fail "out-of-range label not reported: $msg"
grep -q "ground truth '.*img1.png', prediction '.*img1_labels.png'" <<<"$msg" || fail "out-of-range label without file names: $msg"
rc=0; msg="$("$BIN" eval --dataset voc20 --root "$ROOT" --classes ade150 --predictions "$WORK/pred" 2>&1)" || rc=$?
[ $rc -eq 1 ] && grep -q -- "--classes cannot be combined with --dataset" <<<"$msg" || fail "--dataset with --classes: $msg"
rc=0; msg="$("$BIN" eval --dataset ade847 --root "$ROOT" --predictions "$WORK/pred" 2>&1)" || rc=$?
[ $rc -eq 1 ] && grep -q "dataset ade847: no label folder '.*ADE20K_2021_17_01/annotations_detectron2/validation' (prepare it with tools/prepare_datasets.py ade847" <<<"$msg" || fail "missing dataset folder: $msg"
rc=0; msg="$("$BIN" eval --dataset ade151 --root "$ROOT" --predictions "$WORK/pred" 2>&1)" || rc=$?
[ $rc -eq 1 ] && grep -q "unknown dataset 'ade151'" <<<"$msg" || fail "unknown dataset: $msg"
echo "1 passed, 0 failed"
