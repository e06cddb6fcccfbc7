#!/usr/bin/env bash
# tokenize / embed-text / info / classify / embed-image on the converted fixture model.
# Usage: test_text.sh ERRSEG_BIN TEST_MODELS_DIR WORK_DIR
set -euo pipefail
BIN="$1"; MODEL="$2/errseg_tiny.safetensors"; WORK="$3"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
IMG="$SRC/tests/data/fixtures/sample_400x300.png"
rm -rf "$WORK"; mkdir -p "$WORK"
fail() { echo "FAIL: $*" >&2; exit 1; }
for verb in segment eval classify embed-text embed-image tokenize info; do
  "$BIN" $verb --help | grep -q "usage: errseg $verb" || fail "$verb --help"
done
# Token ids of open_clip for "a photo of a cat" (spec Appendix B style check).
OUT="$("$BIN" tokenize --model "$MODEL" --no-pad "a photo of a cat" "Hello,  World!")"
[ "$(sed -n 1p <<<"$OUT")" = "49406 320 1125 539 320 2368 49407" ] || fail "tokenize: $OUT"
[ "$(sed -n 2p <<<"$OUT" | wc -w)" -gt 3 ] || fail "tokenize second line"
[ "$("$BIN" tokenize --model "$MODEL" "x" | wc -w)" = 77 ] || fail "padding to 77"
"$BIN" embed-text --model "$MODEL" --normalize --out "$WORK/t.npy" "a cat" "a dog" >/dev/null
python3 - "$WORK/t.npy" <<'PY'
import struct, sys, math
raw = open(sys.argv[1], "rb").read(); hl = struct.unpack("<H", raw[8:10])[0]
assert "(2, 32)" in raw[10:10+hl].decode()
v = struct.unpack("<64f", raw[10+hl:])
for r in range(2):
    assert abs(math.sqrt(sum(x*x for x in v[r*32:(r+1)*32])) - 1) < 1e-5
PY
"$BIN" info --model "$MODEL" | grep -q "architecture:  errseg" || fail "info"
"$BIN" embed-image --model "$MODEL" --out "$WORK/i.npy" "$IMG" "$IMG" >/dev/null
python3 -c "
import struct; raw=open('$WORK/i.npy','rb').read(); hl=struct.unpack('<H',raw[8:10])[0]
assert '(2, 32)' in raw[10:10+hl].decode()
v=struct.unpack('<64f', raw[10+hl:]); assert v[:32]==v[32:], 'same image, different embedding'"
OUT="$("$BIN" classify --model "$MODEL" --labels "cat,dog,bed" --top 3 "$IMG")"
python3 -c "
import re,sys; p=[float(x) for x in re.findall(r'([0-9.]+)%', '''$OUT''')]
assert len(p)==3 and abs(sum(p)-100)<0.05 and p==sorted(p,reverse=True), p"
rc=0; msg="$("$BIN" tokenize --model "$IMG" x 2>&1)" || rc=$?
[ $rc -ne 0 ] || fail "tokenize with a PNG as model should fail"
echo "1 passed, 0 failed"
