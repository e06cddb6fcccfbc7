#!/usr/bin/env bash
# The per-ISA kernel copies really use their instruction sets, whatever flags the library was
# built with: in the compiled library, the AVX-512 GEMM micro-kernel multiplies in zmm registers,
# the AVX2 one in ymm, the baseline one in neither; the resample rows gather in zmm / ymm. Usage: isa_kernels_objdump.sh liberrseg.a
set -euo pipefail
LIB="$1"
command -v objdump >/dev/null || { echo "objdump not found: skipped"; exit 0; }
# Unoptimised builds (the sanitizer suite's -O0) keep the kernels' loops rolled: nothing to count.
if grep -qE -- "(^| )-O0( |$)" <<<"${ERRSEG_LIB_FLAGS:-}"; then echo "-O0 build: skipped"; exit 0; fi
DIS="$(mktemp)"; trap 'rm -f "$DIS"' EXIT
objdump -d --no-show-raw-insn -C "$LIB" >"$DIS"
kernel() { awk -v pat="$1" 'index($0, pat) && />:$/ {on = 1; next} on && /^$/ {on = 0} on' "$DIS"; }
count() { kernel "$1" | grep -cE "$2" || true; }
# sg_kernel<true, NV> reads a packed A panel, sg_kernel<false, NV> A's rows in place; NV is the
# tile width in vectors (the full one checked here; narrower ones finish narrow products).
min_of() { local a b; a=$(count "$1<true, $2>(" "$3"); b=$(count "$1<false, $2>(" "$3"); echo $(( a < b ? a : b )); }
zmm=$(min_of "isa_avx512::sg_kernel" 3 "vfmadd[0-9]+ps .*zmm")
ymm=$(min_of "isa_avx2::sg_kernel" 2 "vfmadd[0-9]+ps .*ymm")
wide=$(count "isa_sse2::sg_kernel<" "[yz]mm")
echo "avx512 micro-kernel: $zmm zmm FMAs; avx2: $ymm ymm FMAs; sse2: $wide ymm/zmm instructions"
[ "$zmm" -ge 24 ] || { echo "FAIL: the avx512 GEMM micro-kernel has no 8x48 zmm FMA block"; exit 1; }
[ "$ymm" -ge 12 ] || { echo "FAIL: the avx2 GEMM micro-kernel has no 6x16 ymm FMA block"; exit 1; }
zgather=$(count "isa_avx512::resample_row(" "vgatherdps .*zmm")
ygather=$(count "isa_avx2::resample_row(" "vgatherdps .*ymm")
echo "resample rows: avx512 $zgather zmm gathers; avx2 $ygather ymm gathers"
# Under -march=native the build machine's tuning decides (GCC avoids gathers on some Intel
# cores), and the baseline copy is compiled for that machine too: checked in default builds only.
if ! grep -q -- "-march=native" <<<"${ERRSEG_LIB_FLAGS:-}"; then
  [ "$zgather" -ge 1 ] && [ "$ygather" -ge 1 ] || { echo "FAIL: the resample row kernels do not gather"; exit 1; }
  [ "$wide" -eq 0 ] || { echo "FAIL: the baseline micro-kernel uses AVX registers"; exit 1; }
fi
