// Which x86 instruction-set path the CPU kernels take, chosen at run time.
//
// The hot kernels (ops/detail/isa_kernels.hpp) are compiled once per CpuIsa whatever flags the
// program is built with; active_cpu_isa() picks the best one this CPU (and OS) supports, once.
// ERRSEG_ISA=sse2|avx2|avx512 forces a lower path (for testing and comparisons); asking for a
// path the CPU lacks is an error naming both. Tests may switch paths with set_cpu_isa().
#pragma once
#include <atomic>
#include <cstdlib>
#include <string>

#include "error.hpp"

namespace errseg {

// Ordered: a higher value implies the lower ones.
enum class CpuIsa { sse2 = 0, avx2 = 1, avx512 = 2 };

inline const char* cpu_isa_name(CpuIsa isa) {
    switch (isa) {
        case CpuIsa::avx2: return "avx2";
        case CpuIsa::avx512: return "avx512";
        default: return "sse2";
    }
}

inline CpuIsa parse_cpu_isa(const std::string& s) {
    if (s == "sse2") return CpuIsa::sse2;
    if (s == "avx2") return CpuIsa::avx2;
    if (s == "avx512") return CpuIsa::avx512;
    fail("unknown CPU instruction set '", s, "' (expected sse2, avx2 or avx512)");
}

// The best path this CPU supports: avx2 needs AVX2 + FMA, avx512 needs AVX-512 F/BW/DQ/VL.
// (__builtin_cpu_supports also checks that the OS saves the wide registers.)
inline CpuIsa detect_cpu_isa() {
// Without GCC/Clang builtins, or with only the portable baseline kernels (ops/detail/isa_kernels.hpp:
// ERRSEG_PORTABLE_VEC), the path is sse2 (the baseline).
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(ERRSEG_PORTABLE_VEC)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return CpuIsa::avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return CpuIsa::avx2;
#endif
    return CpuIsa::sse2;
}

// The CPU's best path, lowered by ERRSEG_ISA when set (an error when it asks for more).
inline CpuIsa default_cpu_isa() {
    const CpuIsa cpu = detect_cpu_isa();
    const char* env = std::getenv("ERRSEG_ISA");
    if (!env || !*env) return cpu;
    CpuIsa want;
    try {
        want = parse_cpu_isa(env);
    } catch (const Error& e) {
        fail("environment variable ERRSEG_ISA: ", e.what());
    }
    ERRSEG_CHECK(want <= cpu, "environment variable ERRSEG_ISA asks for ", cpu_isa_name(want),
                 " but this CPU supports at most ", cpu_isa_name(cpu));
    return want;
}

namespace detail {
// -1: not chosen yet. Relaxed atomics: every thread reads one of the valid values.
inline std::atomic<int>& cpu_isa_choice() {
    static std::atomic<int> choice{-1};
    return choice;
}
}  // namespace detail

// The path the kernels take. The first call reads the CPU and ERRSEG_ISA (throws errseg::Error
// for a bad ERRSEG_ISA; programs call this early so the message comes before any work).
inline CpuIsa active_cpu_isa() {
    int v = detail::cpu_isa_choice().load(std::memory_order_relaxed);
    if (v < 0) {
        static const CpuIsa chosen = default_cpu_isa();  // thread-safe, once
        int expected = -1;
        detail::cpu_isa_choice().compare_exchange_strong(expected, int(chosen), std::memory_order_relaxed);
        v = detail::cpu_isa_choice().load(std::memory_order_relaxed);
    }
    return CpuIsa(v);
}

// Switches every later kernel call to `isa` (tests, benchmarks); it must not exceed the CPU's.
// Not meant to be called while kernels run on other threads.
inline void set_cpu_isa(CpuIsa isa) {
    const CpuIsa cpu = detect_cpu_isa();
    ERRSEG_CHECK(isa <= cpu, "CPU instruction set ", cpu_isa_name(isa), " requested but this CPU supports at most ",
                 cpu_isa_name(cpu));
    detail::cpu_isa_choice().store(int(isa), std::memory_order_relaxed);
}

}  // namespace errseg
