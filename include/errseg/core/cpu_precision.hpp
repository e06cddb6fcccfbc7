// The CPU's compute precision: fp32 (always) or bf16 (opt-in, CPUs with AVX512-BF16).
//
// Under bf16 the CPU GEMMs (linear, matmul, non-depthwise conv2d) round their weights and
// activations to bf16 and accumulate in fp32 (vdpbf16ps, ops/detail/sgemm_bf16.hpp); every other
// op (norms, softmax, attention, depthwise convs, elementwise) stays fp32. The setting is per
// thread, like cuda::PrecisionScope: the fronts (errseg::Segmenter, errseg::Clip) open a
// CpuPrecisionScope around each call.
//
//   errseg::CpuPrecisionScope bf16(errseg::DType::BF16);   // fails where the CPU lacks AVX512-BF16
//   auto y = errseg::ops::linear(x, w, b);                   // bf16 GEMM, fp32 result
#pragma once
#include <cstdlib>
#include <string>

#include "cpu_isa.hpp"
#include "dtype.hpp"
#include "error.hpp"

// The bf16 GEMM needs a compiler that knows AVX512-BF16 and AMX (GCC >= 11, Clang >= 12) on
// x86-64; it is compiled with target attributes, so no -march flag is needed.
// ERRSEG_NO_BF16_GEMM leaves it out.
#if defined(__x86_64__) && !defined(ERRSEG_NO_BF16_GEMM) && \
    ((defined(__clang__) && __clang_major__ >= 12) || (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 11))
#define ERRSEG_HAVE_BF16_GEMM 1
#include <cpuid.h>
#endif

namespace errseg {

namespace detail {

#if defined(ERRSEG_HAVE_BF16_GEMM)
// The avx512 path (AVX-512 F/BW/DQ/VL with the OS saving the zmm state: cpu_isa.hpp) and
// AVX512-BF16, which __builtin_cpu_supports does not name in every supported compiler.
inline bool cpuid_has_avx512_bf16() {
    if (detect_cpu_isa() < CpuIsa::avx512) return false;
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || a < 1) return false;  // a: the highest subleaf of leaf 7
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return false;
    return (a & (1u << 5)) != 0;  // AVX512_BF16
}
#endif

// Why bf16 cannot run on this CPU, or "" when it can. ERRSEG_NO_CPU_BF16=1 simulates a CPU
// without it (tests of the refusal); a path lowered below avx512 (ERRSEG_ISA, set_cpu_isa) also
// rules it out, so forcing a lower path means the same thing for every kernel.
inline std::string cpu_bf16_missing_reason() {
    static const std::string hardware = [] {
        const char* off = std::getenv("ERRSEG_NO_CPU_BF16");
        if (off && *off && std::string(off) != "0") return std::string("disabled by ERRSEG_NO_CPU_BF16");
#if defined(ERRSEG_HAVE_BF16_GEMM)
        if (!cpuid_has_avx512_bf16()) return std::string("this CPU lacks AVX512-BF16 (avx512_bf16 in /proc/cpuinfo)");
        return std::string();
#else
        return std::string("this errseg was built without the AVX512-BF16 kernel (needs x86-64 and GCC >= 11 or Clang >= 12)");
#endif
    }();
    if (!hardware.empty()) return hardware;
    if (active_cpu_isa() < CpuIsa::avx512)
        return std::string("the CPU kernels take the ") + cpu_isa_name(active_cpu_isa()) +
               " path (ERRSEG_ISA) and bf16 needs avx512";
    return std::string();
}

inline DType& cpu_precision_slot() {
    thread_local DType precision = DType::F32;
    return precision;
}

}  // namespace detail

// Whether --precision bf16 can run on this CPU.
inline bool cpu_bf16_supported() { return detail::cpu_bf16_missing_reason().empty(); }

// The one refusal of bf16 where the CPU (or the build) cannot do it.
inline void check_cpu_precision(DType precision) {
    ERRSEG_CHECK(precision == DType::F32 || precision == DType::BF16, "--precision ",
                 precision == DType::F16 ? "fp16" : dtype_name(precision),
                 " needs --device cuda: the CPU computes in fp32 or bf16");
    ERRSEG_CHECK(precision != DType::BF16 || cpu_bf16_supported(), "--precision bf16 on the CPU: ",
                 detail::cpu_bf16_missing_reason(), "; use --precision fp32");
}

// The precision of the CPU GEMMs on this thread.
inline DType cpu_precision() { return detail::cpu_precision_slot(); }

// Sets the CPU GEMM precision (F32 or BF16) on this thread until destroyed; refuses bf16 where
// the CPU lacks AVX512-BF16.
class CpuPrecisionScope {
public:
    explicit CpuPrecisionScope(DType precision) : previous_(cpu_precision()) {
        check_cpu_precision(precision);
        detail::cpu_precision_slot() = precision;
    }
    ~CpuPrecisionScope() { detail::cpu_precision_slot() = previous_; }
    CpuPrecisionScope(const CpuPrecisionScope&) = delete;
    CpuPrecisionScope& operator=(const CpuPrecisionScope&) = delete;

private:
    DType previous_;
};

}  // namespace errseg
