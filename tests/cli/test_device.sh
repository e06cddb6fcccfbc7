#!/usr/bin/env bash
# --device / --precision on every verb that runs a network (one shared helper): documented in
# --help, a CUDA device refused with one clear message and exit status 1 where this build or this
# machine cannot use it, and --device cpu the default (same bytes).
# Usage: test_device.sh ERRSEG_BIN TEST_MODELS_DIR WORK_DIR
set -euo pipefail
BIN="$1"; MODEL="$2/errseg_tiny.safetensors"; WORK="$3"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
IMG="$SRC/tests/data/fixtures/sample_400x300.png"
rm -rf "$WORK"; mkdir -p "$WORK/labels" "$WORK/images"
cp "$IMG" "$WORK/labels/x.png"; cp "$IMG" "$WORK/images/x.png"  # eval reaches the model (a CUDA build checks the device there)
fail() { echo "FAIL: $*" >&2; exit 1; }

for verb in segment eval embed-text embed-image classify; do
  HELP="$("$BIN" "$verb" --help)"
  for f in --device --precision --threads; do
    grep -q -- "$f" <<<"$HELP" || fail "$verb --help does not mention $f"
  done
done

# Exit status 1 and a message matching the (extended) regex; usage: refused REGEX WHAT COMMAND...
refused() {
  local pattern="$1" what="$2"; shift 2
  local out rc=0
  out="$("$@" 2>&1)" || rc=$?
  [ "$rc" -eq 1 ] || fail "$what: exit $rc, expected 1 ($out)"
  grep -Eq -- "$pattern" <<<"$out" || fail "$what: unexpected message: $out"
}
# Every verb that runs a network, with outputs named by the suffix; usage: each_verb CHECK SUFFIX
each_verb() {
  local check="$1" s="$2"
  "$check" segment --model "$MODEL" --classes "cat,dog" "$IMG" -o "$WORK/seg$s"
  "$check" eval --model "$MODEL" --classes "cat,dog" --images "$WORK/images" --labels "$WORK/labels"
  "$check" embed-text --model "$MODEL" --out "$WORK/t$s.npy" "a cat"
  "$check" embed-image --model "$MODEL" --out "$WORK/i$s.npy" "$IMG"
  "$check" classify --model "$MODEL" --labels "cat,dog" "$IMG"
}
# A CPU-only build names the missing backend; a CUDA build on a machine without a GPU names the
# missing device. Either way: exit status 1, one message, nothing written.
expect_cuda_refusal() {  # verb args...
  local verb="$1"; shift
  refused "--device cuda: (this errseg was built without the CUDA backend|no usable CUDA device)" \
    "$verb --device cuda" "$BIN" "$verb" --device cuda "$@"
}
each_verb expect_cuda_refusal ""
[ ! -e "$WORK/t.npy" ] && [ ! -e "$WORK/i.npy" ] || fail "a refused run wrote output"

# Bad values are refused by the same helper on every verb.
out="$("$BIN" embed-image --model "$MODEL" --out "$WORK/i.npy" --device tpu "$IMG" 2>&1)" && fail "accepted --device tpu"
grep -q -- "--device must be cpu, cuda or cuda:N, got 'tpu'" <<<"$out" || fail "unexpected message: $out"
out="$("$BIN" classify --model "$MODEL" --labels "cat,dog" --precision fp16 "$IMG" 2>&1)" && fail "accepted fp16 on the CPU"
grep -q -- "--precision fp16 needs --device cuda" <<<"$out" || fail "unexpected message: $out"

# bf16 on the CPU: where the CPU lacks AVX512-BF16 (simulated by ERRSEG_NO_CPU_BF16=1) every verb
# refuses it with one message naming the cause, exit status 1, nothing written.
expect_bf16_refusal() {  # verb args...
  local verb="$1"; shift
  refused "--precision bf16 on the CPU: disabled by ERRSEG_NO_CPU_BF16; use --precision fp32" \
    "$verb --precision bf16 without AVX512-BF16" env ERRSEG_NO_CPU_BF16=1 "$BIN" "$verb" --precision bf16 "$@"
}
each_verb expect_bf16_refusal 16
[ ! -e "$WORK/seg16" ] && [ ! -e "$WORK/t16.npy" ] && [ ! -e "$WORK/i16.npy" ] || fail "a refused bf16 run wrote output"
"$BIN" info --model "$MODEL" | grep -q "^cpu bf16: *available (AVX512-BF16)$\|^cpu bf16: *unavailable: " || fail "info does not say whether bf16 can run"
ERRSEG_NO_CPU_BF16=1 "$BIN" info --model "$MODEL" | grep -q "^cpu bf16: *unavailable: disabled by ERRSEG_NO_CPU_BF16" ||
  fail "info does not name why bf16 cannot run"

# Where it can run, the record of each image says so.
if grep -qw avx512_bf16 /proc/cpuinfo 2>/dev/null; then
  "$BIN" segment --model "$MODEL" --classes "cat,dog" --precision bf16 --quiet "$IMG" -o "$WORK/seg_bf16" >/dev/null
  grep -q '"precision": *"bf16"' "$WORK/seg_bf16/sample_400x300.json" || fail "the record does not say bf16 ran"
  grep -q '"device": *"cpu"' "$WORK/seg_bf16/sample_400x300.json" || fail "the record does not name the device"
  # A path forced below avx512 rules bf16 out as well, naming the path.
  refused "take the avx2 path \(ERRSEG_ISA\) and bf16 needs avx512" "bf16 under ERRSEG_ISA=avx2" \
    env ERRSEG_ISA=avx2 "$BIN" segment --model "$MODEL" --classes "cat,dog" --precision bf16 "$IMG" -o "$WORK/seg_isa"
  [ ! -e "$WORK/seg_isa" ] || fail "a refused bf16 run wrote output"
fi

# --device cpu is the default: the same bytes.
"$BIN" embed-image --model "$MODEL" --out "$WORK/default.npy" --threads 2 "$IMG" >/dev/null
"$BIN" embed-image --model "$MODEL" --out "$WORK/cpu.npy" --threads 2 --device cpu "$IMG" >/dev/null
cmp -s "$WORK/default.npy" "$WORK/cpu.npy" || fail "--device cpu differs from the default"
echo "test_device: OK"
