// The hot CPU kernels, compiled once per instruction set (core/cpu_isa.hpp) whatever flags the
// program is built with, and on_cpu_isa(), which runs a call on the copy for the active path.
//
// Kernels: the GEMM (sgemm_body.inl), depthwise convolutions (depthwise_body.inl), exp / erf and
// softmax rows, GELU, sigmoid (vmath_body.inl), the norms' statistics, affine rows and
// LayerNorm2d tiles (norm_body.inl), bilinear / bicubic resampling rows (resample_body.inl),
// broadcast binary ops and scaling (elementwise_body.inl).
//
// How: each *_body.inl file holds kernels written with plain loops and GCC/Clang vector
// extensions (on other compilers, PortableVec: see below). isa_namespace.inl includes them; it is included below once per ISA, each time in
// its own namespace (isa_sse2, isa_avx2, isa_avx512: no ODR clash between copies) and, for the
// wider ISAs, inside a target region (`#pragma GCC target` / `#pragma clang attribute`) so the
// compiler may use those instructions there without -m flags. Rules for body files:
//  * include nothing: every header (std, Eigen, ours) comes before the regions, so that no
//    header function gets compiled for a wider ISA than the program's own;
//  * baseline inline helpers (scratch(), std::min) may be called from the bodies and inlined
//    there, never the reverse; the baseline code calls a body only through on_cpu_isa();
//  * no Eigen inside: Eigen picks its packet width from the TU's macros, so it would stay SSE2;
//  * entry points take the namespace's Tag first, so on_cpu_isa's generic lambda finds the right
//    copy by argument-dependent lookup: on_cpu_isa([&](auto isa) { sgemm_serial(isa, ...); }).
// Adding a kernel: write it in a body file (or a new one included by isa_namespace.inl),
// give its entry point a Tag parameter, call it through on_cpu_isa, and test it on every path
// (tests/test_cpu_isa.cpp).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "../../core/cpu_isa.hpp"
#include "common.hpp"

// GCC and Clang: the kernels use vector extensions, and on x86 the avx2 / avx512 copies are
// compiled in target regions. Other compilers (MSVC), or -DERRSEG_PORTABLE_VEC: the baseline
// copy only, on PortableVec (portable_vec.hpp); the active path then reports sse2.
// ERRSEG_NO_SGEMM: Eigen's GEMM instead of sgemm_body.inl.
#if !defined(__GNUC__) && !defined(ERRSEG_PORTABLE_VEC)
#define ERRSEG_PORTABLE_VEC 1
#endif
#if !defined(ERRSEG_PORTABLE_VEC) && (defined(__x86_64__) || defined(__i386__))
#define ERRSEG_HAVE_X86_TARGETS 1  // the avx2 and avx512 copies exist
#endif
#if !defined(ERRSEG_NO_SGEMM)
#define ERRSEG_HAVE_SGEMM 1
#endif
#include "portable_vec.hpp"
#if defined(ERRSEG_HAVE_X86_TARGETS)
#include <immintrin.h>  // the gathers of resample_body.inl (their own target attributes)
#endif

// GEMM cache blocking (overridable for tuning): a register tile's kMr x kKc A rows stay in L1
// while the packed kKc x kNc B block (768 KiB at most) streams past them from L2; kMc rows of A
// share one packing. NC 2,048 (a 2 MiB B block, all of this L2) ran the products with N >= 2,048
// at 0.72-0.86x the speed (single thread, Xeon with 2 MiB L2 per core).
#ifndef ERRSEG_SGEMM_KC
#define ERRSEG_SGEMM_KC 256
#endif
#ifndef ERRSEG_SGEMM_MC
#define ERRSEG_SGEMM_MC 96
#endif
#ifndef ERRSEG_SGEMM_NC
#define ERRSEG_SGEMM_NC 768
#endif

namespace errseg::ops::detail {

// A matrix operand: element (i, j) of op(X) is p[i * ld + j], or p[j * ld + i] when trans.
struct MatArg {
    const float* p;
    int64_t ld;
    bool trans = false;
};

// A bias the GEMM adds to C = op(A) op(B) as it first stores each tile (without accumulation):
// bias[j] for column j (linear layers) or bias[i] for row i (convolutions: rows are output
// channels). p points at the bias of the whole product's column / row 0.
struct GemmBias {
    const float* p = nullptr;
    bool per_row = false;
    const float* at(int64_t i) const { return p ? p + i : nullptr; }
};

// Channels-last depthwise conv geometry (ops::conv2d_depthwise_nhwc): input [N, H, W, C],
// kernel kh x kw, padding ph / pw, output [N, Ho, Wo, C].
struct DwNhwcGeom {
    int64_t N, H, W, C, kh, kw, ph, pw, Ho, Wo;
};
constexpr int64_t kDwBlock = 64;  // channels per register block of the channels-last conv
constexpr int64_t kDwMaxLanes = 16;  // the widest dw_plane_s1 block (AVX-512), for padding
constexpr int64_t kStatBlock = 2048;  // values per fp32 partial sum of the norms' statistics
constexpr int64_t kLn2dTile = 128;  // pixels per LayerNorm2d tile (norm_body.inl)
enum class BinaryOp { add, sub, mul, div };  // the broadcast binary ops (elementwise_body.inl)

// Kept out of line: one copy per tile shape (tests/isa_kernels_objdump.sh checks its registers),
// and a call per register tile costs nothing next to the tile's work.
#if defined(__GNUC__)
#define ERRSEG_KERNEL_NOINLINE __attribute__((noinline))
#elif defined(_MSC_VER)
#define ERRSEG_KERNEL_NOINLINE __declspec(noinline)
#else
#define ERRSEG_KERNEL_NOINLINE
#endif

// A target region: functions defined between ERRSEG_TARGET_PUSH("isa,...") and ERRSEG_TARGET_POP
// may use those instructions whatever the TU's flags.
#define ERRSEG_PRAGMA(...) _Pragma(#__VA_ARGS__)
#if defined(__clang__)
#define ERRSEG_TARGET_PUSH(isas) ERRSEG_PRAGMA(clang attribute push(__attribute__((target(isas))), apply_to = function))
#define ERRSEG_TARGET_POP _Pragma("clang attribute pop")
#else
#define ERRSEG_TARGET_PUSH(isas) _Pragma("GCC push_options") ERRSEG_PRAGMA(GCC target(isas))
#define ERRSEG_TARGET_POP _Pragma("GCC pop_options")
#endif

// Baseline (whatever the TU is compiled for; SSE2 on a plain x86-64 build): 6 x 8 tile of
// 4-lane vectors (12 accumulators of 16 xmm registers).
#define ERRSEG_ISA_NS isa_sse2
#define ERRSEG_ISA CpuIsa::sse2
#define ERRSEG_ISA_LANES 4
#define ERRSEG_ISA_MR 6
#define ERRSEG_ISA_NV 2
#include "isa_namespace.inl"

#if defined(ERRSEG_HAVE_X86_TARGETS)
// AVX2 + FMA: 6 x 16 tile of 8-lane vectors (12 accumulators of 16 ymm registers).
ERRSEG_TARGET_PUSH("avx2,fma")
#define ERRSEG_ISA_NS isa_avx2
#define ERRSEG_ISA CpuIsa::avx2
#define ERRSEG_ISA_LANES 8
#define ERRSEG_ISA_MR 6
#define ERRSEG_ISA_NV 2
#include "isa_namespace.inl"
ERRSEG_TARGET_POP

// AVX-512 (F/BW/DQ/VL): 8 x 48 tile of 16-lane vectors (24 accumulators of 32 zmm registers;
// 8 rows and 48 columns divide gemm()'s thread-split boundaries of 24 rows / 48 columns).
ERRSEG_TARGET_PUSH("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl")
#define ERRSEG_ISA_NS isa_avx512
#define ERRSEG_ISA CpuIsa::avx512
#define ERRSEG_ISA_LANES 16
#define ERRSEG_ISA_MR 8
#define ERRSEG_ISA_NV 3
#include "isa_namespace.inl"
ERRSEG_TARGET_POP
#endif  // ERRSEG_HAVE_X86_TARGETS

#undef ERRSEG_PRAGMA
#undef ERRSEG_TARGET_PUSH
#undef ERRSEG_TARGET_POP

// f(tag) with the Tag of the active path's namespace (see above).
template <class F>
decltype(auto) on_cpu_isa(F&& f) {
#if defined(ERRSEG_HAVE_X86_TARGETS)
    switch (active_cpu_isa()) {
        case CpuIsa::avx512: return f(isa_avx512::Tag{});
        case CpuIsa::avx2: return f(isa_avx2::Tag{});
        default: break;
    }
#endif
    return f(isa_sse2::Tag{});
}

}  // namespace errseg::ops::detail
