#!/usr/bin/env bash
# errseg segment: what it reads (directories, @lists, --shard) and how it writes (--format, the
# per-image output set with its .json record, --skip-existing after a crash and after kill -9,
# --manifest, refused name collisions, symlinks at output names, stale temporary files).
# Usage: test_segment_outputs.sh ERRSEG_BIN TEST_MODELS_DIR WORK_DIR
set -euo pipefail
BIN="$1"; MODEL="$2/errseg_tiny.safetensors"; WORK="$3"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
FIX="$SRC/tests/data/fixtures"
rm -rf "$WORK"; mkdir -p "$WORK"
fail() { echo "FAIL: $*" >&2; exit 1; }
PY=/usr/bin/python3; $PY -c 'import numpy, PIL' 2>/dev/null || PY=python3
VOCAB="wall,floor,sky,tree,person,car,road,grass"
seg() { "$BIN" segment --model "$MODEL" --classes "$VOCAB" --quiet "$@"; }
records() { (cd "$1" && ls *.json 2>/dev/null | grep -v '_sem_seg.json$' | sed 's/\.json$//' | sort | tr '\n' ' '); }

# Ten images in a folder, plus things a folder listing must skip: a text file, a hidden image,
# an image in a subfolder.
IN="$WORK/in"; mkdir -p "$IN/sub"
for i in 0 1 2 3 4 5 6 7 8 9; do
  if [ $((i % 2)) -eq 0 ]; then cp "$FIX/sample_400x300.png" "$IN/img$i.png"; else cp "$FIX/sample_257x385.png" "$IN/img$i.png"; fi
done
echo "notes" > "$IN/notes.txt"; cp "$FIX/sample_400x300.png" "$IN/.hidden.png"; cp "$FIX/sample_400x300.png" "$IN/sub/deep.png"
ALL="img0 img1 img2 img3 img4 img5 img6 img7 img8 img9 "

# ---- a directory: its images, sorted, not recursive; one line per image on stdout (not a tty)
seg "$IN" -o "$WORK/dir" > "$WORK/dir.log"
[ "$(records "$WORK/dir")" = "$ALL" ] || fail "directory input wrote records for: $(records "$WORK/dir")"
[ "$(sed -E 's#^.*/(img[0-9])\.png ->.*$#\1#' "$WORK/dir.log" | tr '\n' ' ')" = "$ALL" ] || fail "not one line per image in name order: $(cat "$WORK/dir.log")"
ls -A "$WORK/dir" | grep -q -e hidden -e deep -e notes -e errseg-tmp && fail "folder listing picked up a skipped file: $(ls -A "$WORK/dir")"

# ---- @list: one path per line, comments, blank lines and CRLF line ends
printf '# three images\n%s\r\n\n%s\n%s/img7.png\n' "$IN/img2.png" "$IN/img5.png" "$IN" > "$WORK/list.txt"
seg "@$WORK/list.txt" -o "$WORK/list" >/dev/null
[ "$(records "$WORK/list")" = "img2 img5 img7 " ] || fail "@list wrote records for: $(records "$WORK/list")"
cmp "$WORK/list/img5_labels.png" "$WORK/dir/img5_labels.png" || fail "@list and directory runs differ for img5"

# ---- --shard i/3: the three shards cover every image exactly once, whatever the input order
ls "$IN"/img*.png | sort -r > "$WORK/reversed.txt"
for i in 0 1 2; do
  seg --shard "$i/3" "$IN" -o "$WORK/shard$i" >/dev/null
  seg --shard "$i/3" "@$WORK/reversed.txt" -o "$WORK/rshard$i" >/dev/null
  [ "$(records "$WORK/shard$i")" = "$(records "$WORK/rshard$i")" ] || fail "shard $i/3 depends on the input order"
done
union="$(cat <(records "$WORK/shard0") <(records "$WORK/shard1") <(records "$WORK/shard2") | tr ' ' '\n' | sed '/^$/d' | sort)"
[ "$(tr '\n' ' ' <<<"$union")" = "$ALL" ] || fail "shards do not cover every image exactly once: $union"
for i in 0 1 2; do [ -n "$(records "$WORK/shard$i")" ] || fail "shard $i/3 is empty (10 images)"; done
for n in $(records "$WORK/shard1"); do cmp "$WORK/shard1/${n}_labels.png" "$WORK/dir/${n}_labels.png" || fail "shard run changed $n"; done
expect_error() {  # expect_error "message part" args...
  local want="$1"; shift
  local out rc=0
  out="$("$BIN" segment "$@" 2>&1)" || rc=$?
  [ "$rc" -eq 1 ] || fail "expected exit 1 for: $* (got $rc: $out)"
  grep -q -- "$want" <<<"$out" || fail "expected '$want' in: $out"
}
expect_error "--shard must be I/N with 0 <= I < N" --model "$MODEL" --classes "$VOCAB" --shard 3/3 "$IN" -o "$WORK/e1"
expect_error "--shard must be I/N" --model "$MODEL" --classes "$VOCAB" --shard 1 "$IN" -o "$WORK/e1"
mkdir -p "$WORK/empty"
expect_error "no input image found" --model "$MODEL" --classes "$VOCAB" "$WORK/empty" -o "$WORK/e1"
expect_error "cannot read list file" --model "$MODEL" --classes "$VOCAB" "@$WORK/nolist.txt" -o "$WORK/e1"
expect_error "--format: unknown output 'png'" --model "$MODEL" --classes "$VOCAB" --format labels,png "$IN" -o "$WORK/e1"

# ---- --format: every output; the palette PNG and the COCO RLE checked against PIL / pycocotools
seg --format labels,palette,overlay,logits,sem-seg "$IN/img0.png" "$IN/img1.png" -o "$WORK/fmt" >/dev/null
$PY - "$WORK/fmt" "$VOCAB" <<'PY'
import json, sys
import numpy as np
from PIL import Image
d, vocab = sys.argv[1], sys.argv[2].split(",")
T = len(vocab)

def voc_colour(i):  # PASCAL VOC bit-reversal palette of index i + 1
    c, r, g, b = i + 1, 0, 0, 0
    for bit in range(7, -1, -1):
        r |= (c & 1) << bit; g |= ((c >> 1) & 1) << bit; b |= ((c >> 2) & 1) << bit
        c >>= 3
        if not c: break
    return [r, g, b]

def rle_string(counts):  # pycocotools' compressed counts, written from its documented format
    out = []
    for i, x in enumerate(counts):
        if i > 2: x -= counts[i - 2]
        while True:
            c = x & 0x1f; x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            out.append(chr(48 + (c | 0x20 if more else c)))
            if not more: break
    return "".join(out)

def rle_counts(mask):  # runs of the column-major flattening, starting with a 0-run
    flat = mask.flatten(order="F").astype(np.int8)
    change = np.flatnonzero(np.diff(flat)) + 1
    edges = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(edges).tolist()
    return ([0] + runs) if flat[0] == 1 else runs

try:
    import pycocotools.mask as cocomask
except ImportError:
    cocomask = None
for name in ("img0", "img1"):
    rec = json.load(open(f"{d}/{name}.json"))
    files = {o["file"]: o["bytes"] for o in rec["outputs"]}
    want = {f"{name}{s}" for s in ("_labels.png", "_palette.png", "_overlay.png", "_logits.npy", "_sem_seg.json")}
    assert set(files) == want, files
    import os
    for f, n in files.items():
        assert os.path.getsize(f"{d}/{f}") == n, (f, n)
    labels = np.array(Image.open(f"{d}/{name}_labels.png"))
    pal = Image.open(f"{d}/{name}_palette.png")
    assert pal.mode == "P", pal.mode
    assert (np.array(pal) == labels).all(), "palette PNG indices differ from the label map"
    assert pal.getpalette()[:3 * T] == sum((voc_colour(i) for i in range(T)), []), "palette colours"
    sem = json.load(open(f"{d}/{name}_sem_seg.json"))
    present = sorted(int(c) for c in np.unique(labels))
    assert [e["category_id"] for e in sem] == present, (sem, present)
    h, w = labels.shape
    for e in sem:
        assert e["file_name"].endswith(f"/{name}.png")
        seg = e["segmentation"]
        assert seg["size"] == [h, w]
        mask = labels == e["category_id"]
        assert seg["counts"] == rle_string(rle_counts(mask)), "RLE differs from the reimplementation"
        if cocomask is not None:
            ref = cocomask.encode(np.asfortranarray(mask[:, :, None].astype(np.uint8)))[0]
            assert seg["counts"] == ref["counts"].decode(), "RLE differs from pycocotools"
            assert (cocomask.decode({"size": seg["size"], "counts": seg["counts"].encode()}) == mask).all()
    assert {c["index"] for c in rec["classes_present"]} == set(present)
print("formats ok" + (" (RLE checked against pycocotools)" if cocomask else " (pycocotools missing: RLE checked against the reimplementation only)"))
PY
expect_error "a palette PNG holds at most 256 classes" --model "$MODEL" --classes "$($PY -c 'print(",".join(f"c{i}" for i in range(300)))')" --format palette "$IN/img0.png" -o "$WORK/e2"

# ---- a re-run with other options replaces the set: no old file of another format stays
seg --format labels "$IN/img0.png" -o "$WORK/fmt" >/dev/null
[ "$(cd "$WORK/fmt" && ls img0* | tr '\n' ' ')" = "img0.json img0_labels.png " ] || fail "stale outputs left beside the new ones: $(ls "$WORK/fmt")"
[ -e "$WORK/fmt/img1_logits.npy" ] || fail "the re-run touched another image's outputs"

# ---- --manifest: one JSON line per image (ok and failed), matching the records
printf 'not an image' > "$WORK/bad.png"
rc=0; seg --manifest "$WORK/run.jsonl" "$IN/img3.png" "$WORK/bad.png" "$IN/img4.png" -o "$WORK/man" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "run with a bad image: exit $rc, expected 1"
$PY - "$WORK/run.jsonl" "$WORK/man" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert [(l["image"].rsplit("/", 1)[1], l["status"]) for l in lines] == [("img3.png", "ok"), ("bad.png", "failed"), ("img4.png", "ok")], lines
for l in lines:
    if l["status"] == "failed":
        assert "not a readable image" in l["error"] and l["outputs"] == [], l
        continue
    name = l["image"].rsplit("/", 1)[1][:-4]
    rec = json.load(open(f"{sys.argv[2]}/{name}.json"))
    assert l["error"] is None and l["outputs"] == [o["file"] for o in rec["outputs"]] == [f"{name}_labels.png", f"{name}_overlay.png"], l
    assert [c["index"] for c in l["classes_present"]] == [c["index"] for c in rec["classes_present"]], l
    assert l["timings_ms"]["total"] > 0 and l["timings_ms"] == rec["timings_ms"]
print("manifest ok")
PY

# ---- --skip-existing after a simulated crash: only complete sets count
cp -r "$WORK/dir" "$WORK/resume"
rm "$WORK/resume/img3.json"                                   # killed before the record
: > "$WORK/resume/img5_labels.png"                            # a file that does not match its record
rm "$WORK/resume/img7_overlay.png"                            # a file missing
HOST="$($PY -c 'import re, socket; print(re.sub("[^A-Za-z0-9-]", "", socket.gethostname())[:32] or "host")')"
DEAD="$(sh -c 'echo $$')"                                     # a process that has ended
touch "$WORK/resume/.img1_labels.png.errseg-tmp.$HOST.$DEAD.0123456789ab"
touch "$WORK/resume/.img1_overlay.png.errseg-tmp.$HOST.$$.0123456789ab"   # this shell: alive
seg --skip-existing --manifest "$WORK/resume.jsonl" "$IN" -o "$WORK/resume" >/dev/null
$PY - "$WORK/resume.jsonl" <<'PY'
import json, sys
st = {json.loads(l)["image"].rsplit("/", 1)[1]: json.loads(l)["status"] for l in open(sys.argv[1])}
redo = {k for k, v in st.items() if v == "ok"}
assert redo == {"img3.png", "img5.png", "img7.png"}, st
assert sum(v == "skipped" for v in st.values()) == 7, st
print("skip-existing ok")
PY
for n in img3 img5 img7; do cmp "$WORK/resume/${n}_labels.png" "$WORK/dir/${n}_labels.png" || fail "resumed $n differs"; done
[ ! -e "$WORK/resume/.img1_labels.png.errseg-tmp.$HOST.$DEAD.0123456789ab" ] || fail "stale temp of a dead process not removed"
[ -e "$WORK/resume/.img1_overlay.png.errseg-tmp.$HOST.$$.0123456789ab" ] || fail "temp of a live process removed"
rm "$WORK/resume/.img1_overlay.png.errseg-tmp.$HOST.$$.0123456789ab"
# Asking for more outputs than the sets hold redoes them.
seg --skip-existing --format labels,overlay,logits "$IN/img0.png" "$IN/img1.png" -o "$WORK/resume" > "$WORK/more.log"
grep -q "skipped" "$WORK/more.log" && fail "--skip-existing skipped an image lacking the requested logits"
[ -e "$WORK/resume/img0_logits.npy" ] || fail "logits not written"

# ---- kill -9 in the middle of a run: every record present describes a complete set; a resumed
# run completes the rest and leaves no temporary file
mkdir -p "$WORK/many"
for i in $(seq -w 0 29); do cp "$FIX/sample_400x300.png" "$WORK/many/m$i.png"; done
# (the binary itself in the background, so that $! is its pid, not a subshell's)
"$BIN" segment --model "$MODEL" --classes "$VOCAB" --quiet --format labels,palette,overlay,logits,sem-seg "$WORK/many" -o "$WORK/killed" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 6000); do  # up to ~2 min on a slow machine
  [ "$(ls "$WORK/killed" 2>/dev/null | grep -c '^m[0-9]*\.json$')" -ge 3 ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.02
done
kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
kill -0 "$pid" 2>/dev/null && fail "the killed run is still alive"
$PY - "$WORK/killed" <<'PY'
import json, os, sys
d = sys.argv[1]
recs = [f for f in os.listdir(d) if f.endswith(".json") and not f.endswith("_sem_seg.json")]
assert recs, "no record written before the kill"
for r in recs:
    for o in json.load(open(f"{d}/{r}"))["outputs"]:
        assert os.path.getsize(f"{d}/{o['file']}") == o["bytes"], (r, o)
print(f"after kill -9: {len(recs)} complete records, {sum('errseg-tmp' in f for f in os.listdir(d))} temporary files")
PY
seg --skip-existing --format labels,palette,overlay,logits,sem-seg "$WORK/many" -o "$WORK/killed" >/dev/null
[ "$(ls "$WORK/killed" | grep -c '^m[0-9]*\.json$')" -eq 30 ] || fail "resume after kill -9 did not complete every image"
ls -A "$WORK/killed" | grep -q errseg-tmp && fail "temporary file left after the resumed run: $(ls -A "$WORK/killed" | grep errseg-tmp)"
cmp "$WORK/killed/m29_labels.png" "$WORK/dir/img0_labels.png" || fail "resumed output differs"

# ---- collisions and inputs are refused before anything is written
mkdir -p "$WORK/a" "$WORK/b"; cp "$FIX/sample_400x300.png" "$WORK/a/x.png"; cp "$FIX/sample_257x385.png" "$WORK/b/x.png"
expect_error "would both write 'x_labels.png'" --model "$MODEL" --classes "$VOCAB" "$WORK/a/x.png" "$WORK/b/x.png" -o "$WORK/c1"
expect_error "are the same image given twice" --model "$MODEL" --classes "$VOCAB" "$WORK/a/x.png" "$WORK/a/../a/x.png" -o "$WORK/c2"
cp "$FIX/sample_400x300.png" "$WORK/a/x_sem_seg.png"
expect_error "would both write 'x_sem_seg.json'" --model "$MODEL" --classes "$VOCAB" "$WORK/a/x.png" "$WORK/a/x_sem_seg.png" -o "$WORK/c3"
mkdir -p "$WORK/c4"; cp "$FIX/sample_400x300.png" "$WORK/c4/y.png"; cp "$FIX/sample_257x385.png" "$WORK/c4/y_labels.png"
expect_error "would replace the input file" --model "$MODEL" --classes "$VOCAB" "$WORK/c4/y.png" "$WORK/c4/y_labels.png" -o "$WORK/c4"
expect_error "would replace the input file" --model "$MODEL" --classes "$VOCAB" "$WORK/c4" -o "$WORK/c4"
cmp "$WORK/c4/y_labels.png" "$FIX/sample_257x385.png" || fail "an input was overwritten"
for d in c1 c2 c3; do [ -z "$(ls -A "$WORK/$d" 2>/dev/null)" ] || fail "output written in $d despite the refusal"; done
[ "$(ls -A "$WORK/c4" | tr '\n' ' ')" = "y.png y_labels.png " ] || fail "output written in c4 despite the refusal"

# ---- a symlink planted at an output name is replaced, its target never written
mkdir -p "$WORK/link"; echo precious > "$WORK/victim.txt"
ln -s "$WORK/victim.txt" "$WORK/link/x_labels.png"; ln -s "$WORK/created.txt" "$WORK/link/x.json"
seg "$WORK/a/x.png" -o "$WORK/link" >/dev/null
[ "$(cat "$WORK/victim.txt")" = "precious" ] || fail "write went through a symlink"
[ ! -e "$WORK/created.txt" ] || fail "a dangling symlink's target was created"
[ -f "$WORK/link/x_labels.png" ] && [ ! -L "$WORK/link/x_labels.png" ] || fail "symlink at the output name not replaced"
echo "1 passed, 0 failed"
