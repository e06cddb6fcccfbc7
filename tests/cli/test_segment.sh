#!/usr/bin/env bash
# errseg segment end to end on the converted fixture model: outputs exist and are consistent,
# bad inputs fail with a clear message and leave no partial output.
# Usage: test_segment.sh ERRSEG_BIN TEST_MODELS_DIR WORK_DIR
set -euo pipefail
BIN="$1"; MODEL="$2/errseg_tiny.safetensors"; WORK="$3"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
IMG="$SRC/tests/data/fixtures/sample_400x300.png"
rm -rf "$WORK"; mkdir -p "$WORK"
fail() { echo "FAIL: $*" >&2; exit 1; }

# --help documents every flag.
HELP="$("$BIN" segment --help)"
for f in --model --classes --class-embeddings --out-dir --threads --batch --upstream-resize --ignore-exif --top-k --max-classes --crm-ties --save-logits --quiet --format --shard --skip-existing --manifest; do
  grep -q -- "$f" <<<"$HELP" || fail "--help does not mention $f"
done

# Built-in vocabulary, 2 threads, logits saved.
"$BIN" segment --model "$MODEL" --classes ade150 --threads 2 --save-logits --quiet "$IMG" -o "$WORK/ade"
for f in sample_400x300_labels.png sample_400x300_overlay.png sample_400x300.json sample_400x300_logits.npy; do
  [ -s "$WORK/ade/$f" ] || fail "missing output $f"
done
ls -A "$WORK/ade" | grep -q tmp && fail "temporary file left behind"

# Outputs agree with each other: label PNG size, classes < T, JSON fractions sum to 1,
# logits T x h x w with -100 exactly for the classes CRM did not select.
/usr/bin/env python3 - "$WORK/ade" <<'PY'
import json, struct, sys, zlib
d = sys.argv[1]
j = json.load(open(f"{d}/sample_400x300.json"))
assert j["width"] == 400 and j["height"] == 300 and j["num_classes"] == 150, j
assert abs(sum(c["pixel_fraction"] for c in j["classes_present"]) - 1) < 1e-9
sel = [c["index"] for c in j["selected_classes"]]
# ade150 keeps the published K = 32 (eval.sh), not the tiny model's 8, and says so.
assert len(sel) == 32 and sel == sorted(sel), sel
assert j["vocabulary"] == "ade150" and j["top_k"] == 32 and j["top_k_source"] == "vocabulary", j
assert {c["index"] for c in j["classes_present"]} <= set(sel), "a present class was not selected"
png = open(f"{d}/sample_400x300_labels.png", "rb").read()
assert png[:8] == b"\x89PNG\r\n\x1a\n"
w, h, depth, ctype = struct.unpack(">IIBB", png[16:26])
assert (w, h, depth, ctype) == (400, 300, 8, 0), (w, h, depth, ctype)
raw = open(f"{d}/sample_400x300_logits.npy", "rb").read()
hl = struct.unpack("<H", raw[8:10])[0]
header = raw[10:10 + hl].decode()
assert "'<f4'" in header and "(150, 80, 80)" in header, header
vals = struct.unpack(f"<{150*80*80}f", raw[10 + hl:])
for t in range(150):
    row = vals[t * 6400:(t + 1) * 6400]
    if t in sel:
        assert any(v != -100.0 for v in row), t
    else:
        assert all(v == -100.0 for v in row), t
print("segment outputs consistent")
PY

# The CLI reproduces upstream ERR-Seg (run on CPU) on the fixture: same CRM selection, logits
# within 1e-4 relative / 1e-5 absolute, >= 99.9% identical labels (needs numpy for the .npz).
VOCAB12="wall,floor,ceiling,bed,window,cabinet,person,door,table,chair,lamp,plant"
"$BIN" segment --model "$MODEL" --classes "$VOCAB12" --save-logits --quiet "$IMG" -o "$WORK/v12" >/dev/null
for PY in /usr/bin/python3 python3; do $PY -c 'import numpy' 2>/dev/null && break; done
if $PY -c 'import numpy' 2>/dev/null; then
$PY - "$WORK/v12" "$SRC/tests/data/fixtures/seed0_sample400_vocab12.npz" <<'PY'
import json, sys, zlib, struct
import numpy as np
out, ref = sys.argv[1], np.load(sys.argv[2])
j = json.load(open(f"{out}/sample_400x300.json"))
sel = [c["index"] for c in j["selected_classes"]]
assert sel == ref["selected"].tolist(), (sel, ref["selected"])
lg = np.load(f"{out}/sample_400x300_logits.npy")
err = np.abs(lg - ref["logits"])
assert (err <= 1e-5 + 1e-4 * np.abs(ref["logits"])).all(), err.max()
png = open(f"{out}/sample_400x300_labels.png", "rb").read()
# Decode our 8-bit grey PNG (filter type 0 or others) via zlib + unfiltering.
pos, idat = 8, b""
while pos < len(png):
    n = struct.unpack(">I", png[pos:pos+4])[0]; t = png[pos+4:pos+8]
    if t == b"IDAT": idat += png[pos+8:pos+8+n]
    pos += 12 + n
raw = zlib.decompress(idat); h, w = 300, 400
rows, prev = [], bytearray(w)
for y in range(h):
    f, line = raw[y*(w+1)], bytearray(raw[y*(w+1)+1:(y+1)*(w+1)])
    for x in range(w):
        a = line[x-1] if x else 0; b = prev[x]; c = prev[x-1] if x else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p-a), abs(p-b), abs(p-c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(bytes(line)); prev = line
labels = np.frombuffer(b"".join(rows), np.uint8).reshape(h, w)
agree = (labels == ref["labels"]).mean()
assert agree >= 0.999, agree
print(f"CLI matches upstream fixture: selected equal, logits max abs err {err.max():.2e}, labels {100*agree:.3f}% identical")
PY
fi

# Inline vocabulary with more than 255 classes -> 16-bit label PNG.
CLASSES="$(python3 -c 'print(",".join(f"thing{i}" for i in range(300)))')"
"$BIN" segment --model "$MODEL" --classes "$CLASSES" --quiet "$IMG" -o "$WORK/many"
python3 -c "
import struct; p=open('$WORK/many/sample_400x300_labels.png','rb').read()
assert struct.unpack('>B', p[24:25])[0] == 16, 'expected a 16-bit label PNG'"

# K per vocabulary: each built-in benchmark vocabulary keeps its published K, --top-k overrides,
# other vocabularies keep the model's K (8 for the tiny model); min(K, T) is what CRM uses.
check_k() {  # check_k OUTDIR K SOURCE VOCABULARY
  python3 -c "
import json, sys; j = json.load(open('$1/sample_400x300.json'))
assert (j['top_k'], j['top_k_source'], j['vocabulary']) == ($2, '$3', '$4'), j
assert len(j['selected_classes']) == $2, j['selected_classes']" || fail "K for $4: expected $2 ($3)"
}
for vk in ade847:48 pc59:24 pc459:48 voc20:16 voc20b:32 coco:8; do
  v="${vk%%:*}"; k="${vk##*:}"; src=vocabulary
  [ "$v" = voc20b ] && src=model && k=8       # no published K: the model's 8
  [ "$v" = coco ] && src=model
  "$BIN" segment --model "$MODEL" --classes "$v" --quiet "$IMG" -o "$WORK/k_$v" >/dev/null
  check_k "$WORK/k_$v" "$k" "$src" "$v"
done
"$BIN" segment --model "$MODEL" --classes pc59 --top-k 5 --quiet "$IMG" -o "$WORK/k_opt" >/dev/null
check_k "$WORK/k_opt" 5 option pc59
"$BIN" segment --model "$MODEL" --classes "cat,dog,sky" --quiet "$IMG" -o "$WORK/k_inline" >/dev/null
check_k "$WORK/k_inline" 3 model inline       # the model's 8, capped at T = 3

# Class embeddings cached by embed-text give the same labels; the cache records its vocabulary
# and model and is refused for another vocabulary or another model.
"$BIN" embed-text --model "$MODEL" --classes voc20 --out "$WORK/voc20.safetensors" >/dev/null
"$BIN" segment --model "$MODEL" --classes voc20 --quiet "$IMG" -o "$WORK/voc_a"
"$BIN" segment --model "$MODEL" --classes voc20 --class-embeddings "$WORK/voc20.safetensors" --quiet "$IMG" -o "$WORK/voc_b"
cmp "$WORK/voc_a/sample_400x300_labels.png" "$WORK/voc_b/sample_400x300_labels.png" || fail "cached embeddings changed the result"
python3 - "$WORK/voc20.safetensors" <<'PY'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
meta = json.loads(raw[8:8 + n])["__metadata__"]
assert meta["errseg.vocabulary"] == "voc20" and meta["errseg.top_k"] == "16", meta
assert json.loads(meta["errseg.classes"])[:2] == ["aeroplane", "bicycle"], meta
assert meta["errseg.model_identity"].startswith("v1:") and meta["errseg.model_file"] == "errseg_tiny.safetensors", meta
PY

# Errors: clear message, non-zero exit, no output files.
expect_error() {  # expect_error "message part" args...
  local want="$1"; shift
  local out rc=0
  out="$("$BIN" segment "$@" 2>&1)" || rc=$?
  [ "$rc" -ne 0 ] || fail "expected failure for: $*"
  grep -q -- "$want" <<<"$out" || fail "expected '$want' in: $out"
}
expect_error "unknown built-in vocabulary 'ade151'" --model "$MODEL" --classes ade151 "$IMG" -o "$WORK/e1"
expect_error "was made for vocabulary 'voc20' (20 classes), not for --classes 'pc59' (59 classes)" \
  --model "$MODEL" --classes pc59 --class-embeddings "$WORK/voc20.safetensors" "$IMG" -o "$WORK/e_cache1"
# Same number of classes, other names: refused naming the first difference.
python3 -c "import json; n=json.load(open('$SRC/data/classes/voc20.json')); n[3]='ship'; json.dump(n, open('$WORK/voc20_ship.json','w'))"
expect_error "at class 3 ('boat' in the file, 'ship' given)" \
  --model "$MODEL" --classes "$WORK/voc20_ship.json" --class-embeddings "$WORK/voc20.safetensors" "$IMG" -o "$WORK/e_cache2"
# Another model (same architecture, one text weight changed): refused.
python3 - "$MODEL" "$WORK/other_model.safetensors" <<'PY'
import json, struct, sys
raw = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", raw[:8])[0]
e = json.loads(raw[8:8 + n])["clip.ln_final.weight"]
raw[8 + n + e["data_offsets"][0]] ^= 1      # flip the lowest bit of one text-tower weight
open(sys.argv[2], "wb").write(raw)
PY
expect_error "was made by another model" \
  --model "$WORK/other_model.safetensors" --classes voc20 --class-embeddings "$WORK/voc20.safetensors" "$IMG" -o "$WORK/e_cache3"
# NaN in the cached embeddings: refused, naming the class.
python3 - "$WORK/voc20.safetensors" "$WORK/voc20_nan.safetensors" <<'PY'
import json, struct, sys
raw = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n]); e = h["class_embeddings"]; width = e["shape"][1]
off = 8 + n + e["data_offsets"][0] + 4 * (2 * width + 1)    # class 2, element 1
raw[off:off + 4] = struct.pack("<f", float("nan"))
open(sys.argv[2], "wb").write(raw)
PY
expect_error "holds 1 non-finite value (NaN/Inf; first in class 2 'bird')" \
  --model "$MODEL" --classes voc20 --class-embeddings "$WORK/voc20_nan.safetensors" "$IMG" -o "$WORK/e_cache4"
# A bare .npy (the old cache format) carries no identity: refused with the way out.
"$BIN" embed-text --model "$MODEL" --normalize --out "$WORK/bare.npy" "a photo" >/dev/null
expect_error "is a bare .npy array" --model "$MODEL" --classes "x" --class-embeddings "$WORK/bare.npy" "$IMG" -o "$WORK/e_cache5"
rc=0; out="$("$BIN" embed-text --model "$MODEL" --classes voc20 --out "$WORK/v.npy" 2>&1)" || rc=$?
[ $rc -ne 0 ] && grep -q "name it e.g. v.safetensors" <<<"$out" || fail "embed-text --classes to .npy: $out"
expect_error "duplicate class name" --model "$MODEL" --classes "cat,dog,cat" "$IMG" -o "$WORK/e2"
expect_error "cannot read image file" --model "$MODEL" --classes ade150 "$WORK/nope.png" -o "$WORK/e3"
printf 'not an image' > "$WORK/bad.png"
expect_error "not a readable image" --model "$MODEL" --classes ade150 "$WORK/bad.png" -o "$WORK/e4"
expect_error "cannot open" --model "$WORK/missing.safetensors" --classes ade150 "$IMG" -o "$WORK/e5"
expect_error "cannot create output directory" --model "$MODEL" --classes ade150 "$IMG" -o "$IMG/sub"
expect_error "no input image" --model "$MODEL" --classes ade150 -o "$WORK/e6"
expect_error "unknown option --bogus" --model "$MODEL" --classes ade150 --bogus "$IMG" -o "$WORK/e7"
expect_error "--device must be cpu, cuda or cuda:N, got 'gpu'" --model "$MODEL" --classes ade150 --device gpu "$IMG" -o "$WORK/e8"
expect_error "--batch must be" --model "$MODEL" --classes ade150 --batch 0 "$IMG" -o "$WORK/e11"
expect_error "--precision fp16 needs --device cuda" --model "$MODEL" --classes ade150 --precision fp16 "$IMG" -o "$WORK/e9"
# A CPU-only build names the missing backend; a CUDA build without a GPU names the missing device.
expect_error "--device cuda: " --model "$MODEL" --classes ade150 --device cuda "$IMG" -o "$WORK/e10"
# Several images, a bad one in the middle (the next image is decoded while the current one is
# segmented): the others are written, the bad one is reported, exit 1.
cp "$IMG" "$WORK/second.png"
rc=0
out="$("$BIN" segment --model "$MODEL" --classes "cat,dog" --quiet "$IMG" "$WORK/bad.png" "$WORK/second.png" -o "$WORK/multi" 2>&1)" || rc=$?
[ "$rc" -eq 1 ] || fail "multi-image run with one bad image: exit $rc, expected 1"
grep -q "bad.png: .*not a readable image" <<<"$out" || fail "bad image not reported: $out"
[ -f "$WORK/multi/sample_400x300_labels.png" ] && [ -f "$WORK/multi/second_labels.png" ] || fail "good images of a multi-image run were not written"
[ ! -e "$WORK/multi/bad_labels.png" ] || fail "output written for the bad image"

# Throughput mode: five images (three sizes, one unreadable) in batches of 2 give exactly the
# outputs of one image at a time (label maps byte-identical, logits identical), in input order.
mkdir -p "$WORK/in"
cp "$IMG" "$WORK/in/a.png"; cp "$SRC/tests/data/fixtures/sample_257x385.png" "$WORK/in/b.png"
cp "$WORK/bad.png" "$WORK/in/c.png"; cp "$IMG" "$WORK/in/d.png"
python3 -c "
import zlib, struct
w, h = 61, 33
raw = b''.join(b'\\0' + bytes((x * 7 + y * 13 + c * 50) % 256 for x in range(w) for c in range(3)) for y in range(h))
def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
open('$WORK/in/e.png', 'wb').write(b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))"
INPUTS=("$WORK/in/a.png" "$WORK/in/b.png" "$WORK/in/c.png" "$WORK/in/d.png" "$WORK/in/e.png")
rc=0; "$BIN" segment --model "$MODEL" --classes ade150 --save-logits --quiet "${INPUTS[@]}" -o "$WORK/b1" >"$WORK/b1.log" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "batch 1 run: exit $rc, expected 1"
rc=0; "$BIN" segment --model "$MODEL" --classes ade150 --save-logits --quiet --batch 2 "${INPUTS[@]}" -o "$WORK/b2" >"$WORK/b2.log" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "batch 2 run: exit $rc, expected 1"
for s in a b d e; do
  cmp "$WORK/b1/${s}_labels.png" "$WORK/b2/${s}_labels.png" || fail "--batch 2 changed the labels of $s"
  cmp "$WORK/b1/${s}_logits.npy" "$WORK/b2/${s}_logits.npy" || fail "--batch 2 changed the logits of $s"
done
[ ! -e "$WORK/b2/c_labels.png" ] || fail "output written for the unreadable image in a batch"
order="$(sed -E 's#^.*/in/([a-e])\.png.*$#\1#' "$WORK/b2.log" | tr -d '\n')"
[ "$order" = "abcde" ] || fail "--batch 2 messages out of input order ($order): $(cat "$WORK/b2.log")"
grep -q "c.png: .*not a readable image" "$WORK/b2.log" || fail "bad image in a batch not reported"

# EXIF orientation 6 (stored 11x6, upright 6x11): applied by default as detectron2 does,
# ignored on request; --upstream-resize still writes labels at the image's own size.
EXIF="$SRC/tests/data/errseg/upstream_input/exif_o6.jpg"
png_size() { python3 -c "import struct,sys; p=open(sys.argv[1],'rb').read(); print('%dx%d' % struct.unpack('>II', p[16:24]))" "$1"; }
"$BIN" segment --model "$MODEL" --classes voc20 --quiet "$EXIF" -o "$WORK/exif" >/dev/null
[ "$(png_size "$WORK/exif/exif_o6_labels.png")" = "6x11" ] || fail "EXIF orientation not applied: $(png_size "$WORK/exif/exif_o6_labels.png")"
"$BIN" segment --model "$MODEL" --classes voc20 --quiet --ignore-exif "$EXIF" -o "$WORK/noexif" >/dev/null
[ "$(png_size "$WORK/noexif/exif_o6_labels.png")" = "11x6" ] || fail "--ignore-exif still rotated the image"
"$BIN" segment --model "$MODEL" --classes voc20 --quiet --upstream-resize "$IMG" -o "$WORK/upres" >/dev/null
[ "$(png_size "$WORK/upres/sample_400x300_labels.png")" = "400x300" ] || fail "--upstream-resize changed the output size"
cmp -s "$WORK/upres/sample_400x300_labels.png" "$WORK/voc_a/sample_400x300_labels.png" && fail "--upstream-resize had no effect"

for d in e3 e4 e10 e11; do [ -z "$(ls -A "$WORK/$d" 2>/dev/null)" ] || fail "partial output in $d"; done
echo "1 passed, 0 failed"
