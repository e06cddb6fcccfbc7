#!/usr/bin/env bash
# The CPU kernels' instruction-set path through the CLI: `errseg info` names it, the segment
# JSON records it, ERRSEG_ISA lowers it, and a bad ERRSEG_ISA is refused with exit 1 before any
# output is written. Usage: test_cpu_isa.sh ERRSEG_BIN TEST_MODELS_DIR WORK_DIR
set -euo pipefail
BIN="$1"; MODEL="$2/errseg_tiny.safetensors"; WORK="$3"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
IMG="$SRC/tests/data/fixtures/sample_400x300.png"
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
rm -rf "$WORK"; mkdir -p "$WORK"
fail() { echo "FAIL: $*" >&2; exit 1; }

env -u ERRSEG_ISA "$BIN" info --model "$MODEL" >"$WORK/info.txt"
grep -Eq '^cpu isa: +(sse2|avx2|avx512) \(this CPU supports (sse2|avx2|avx512)\)$' "$WORK/info.txt" ||
  fail "errseg info does not name the path: $(head -1 "$WORK/info.txt")"
best="$(sed -n 's/^cpu isa: *\([a-z0-9]*\) .*/\1/p' "$WORK/info.txt")"
grep -q "this CPU supports $best)" "$WORK/info.txt" || fail "without ERRSEG_ISA the path is not the CPU's best"

ERRSEG_ISA=sse2 "$BIN" segment --model "$MODEL" --classes "sky,tree,floor" -o "$WORK/sse2" "$IMG" --threads 1 >/dev/null
"$PY" -c 'import json, sys; j = json.load(open(sys.argv[1])); assert j["cpu_isa"] == "sse2", j["cpu_isa"]' \
  "$WORK/sse2/sample_400x300.json" || fail "ERRSEG_ISA=sse2 not recorded in the JSON"

set +e
ERRSEG_ISA=avx3 "$BIN" segment --model "$MODEL" --classes "sky,tree" -o "$WORK/bad" "$IMG" 2>"$WORK/bad.err"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "bad ERRSEG_ISA: exit $rc, expected 1"
grep -q "ERRSEG_ISA: unknown CPU instruction set 'avx3' (expected sse2, avx2 or avx512)" "$WORK/bad.err" ||
  fail "bad ERRSEG_ISA message: $(cat "$WORK/bad.err")"
[ ! -e "$WORK/bad" ] || [ -z "$(ls -A "$WORK/bad")" ] || fail "outputs written despite a bad ERRSEG_ISA"
if [ "$best" != avx512 ]; then
  set +e
  ERRSEG_ISA=avx512 "$BIN" info --model "$MODEL" 2>"$WORK/high.err" >/dev/null
  rc=$?
  set -e
  [ "$rc" -eq 1 ] && grep -q "asks for avx512 but this CPU supports at most $best" "$WORK/high.err" ||
    fail "ERRSEG_ISA above the CPU not refused: $(cat "$WORK/high.err")"
fi
echo "ok: path $best; ERRSEG_ISA=sse2 recorded; bad names refused"
