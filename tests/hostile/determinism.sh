#!/usr/bin/env bash
# Determinism: `errseg segment` gives bit-identical logits, label maps and selected classes for
# the same input across repeated runs and across thread counts (1, 2 and 3) on the converted
# fixture model. On a mismatch it names the first differing file and element.
# Usage: determinism.sh ERRSEG_BIN TEST_MODELS_DIR WORK_DIR
set -euo pipefail
BIN="$1"; MODEL="$2/errseg_tiny.safetensors"; WORK="$3"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
rm -rf "$WORK"; mkdir -p "$WORK"
IMAGES=("$SRC/tests/data/fixtures/sample_400x300.png" "$SRC/tests/data/fixtures/sample_257x385.png")
runs=(t1a:1 t1b:1 t2a:2 t2b:2 t3:3)
for r in "${runs[@]}"; do
  "$BIN" segment --model "$MODEL" --classes ade150 --threads "${r#*:}" --save-logits --quiet \
    "${IMAGES[@]}" -o "$WORK/${r%%:*}" >/dev/null
done
status=0
for img in "${IMAGES[@]}"; do
  stem="$(basename "$img" .png)"
  for r in "${runs[@]:1}"; do
    run="${r%%:*}"
    for f in "${stem}_logits.npy" "${stem}_labels.png"; do
      if ! cmp -s "$WORK/t1a/$f" "$WORK/$run/$f"; then
        echo "FAIL: $f differs between --threads 1 (t1a) and $run (--threads ${r#*:}): $(cmp "$WORK/t1a/$f" "$WORK/$run/$f" 2>&1 | head -1)"
        case "$f" in *.npy) /usr/bin/env python3 - "$WORK/t1a/$f" "$WORK/$run/$f" <<'PY' || true
import struct, sys
def load(p):
    raw = open(p, "rb").read(); n = struct.unpack("<H", raw[8:10])[0]
    shape = tuple(int(x) for x in raw[10:10 + n].decode().split("(")[1].split(")")[0].split(",") if x.strip())
    return shape, struct.unpack(f"<{(len(raw) - 10 - n) // 4}f", raw[10 + n:])
(shape, a), (_, b) = load(sys.argv[1]), load(sys.argv[2])
diff = [i for i in range(len(a)) if a[i] != b[i]]
T, h, w = shape; i = diff[0]
print(f"  {len(diff)} of {len(a)} logits differ; max |diff| {max(abs(a[k] - b[k]) for k in diff):.3g}; "
      f"first at class {i // (h * w)}, y {i // w % h}, x {i % w}: {a[i]!r} vs {b[i]!r}")
PY
        ;; esac
        status=1
      fi
    done
    # The summary JSON differs only in its timings; the selected classes must be identical.
    sel() { /usr/bin/env python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["selected_classes"], j["classes_present"])' "$1"; }
    [ "$(sel "$WORK/t1a/$stem.json")" = "$(sel "$WORK/$run/$stem.json")" ] || { echo "FAIL: $stem.json selection differs in $run"; status=1; }
  done
done
[ "$status" -eq 0 ] && echo "determinism: logits and labels bit-identical over ${#runs[@]} runs (threads 1, 1, 2, 2, 3), 2 images"
exit "$status"
