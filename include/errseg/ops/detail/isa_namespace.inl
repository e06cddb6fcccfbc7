// One instruction set's copy of the kernels. isa_kernels.hpp includes this file once per ISA,
// inside that ISA's target region, with ERRSEG_ISA_NS (the namespace), ERRSEG_ISA (its CpuIsa),
// ERRSEG_ISA_LANES (floats per vector) and the GEMM tile ERRSEG_ISA_MR (rows) x ERRSEG_ISA_NV
// (vectors per row) defined; it undefines them. No include guard.
namespace ERRSEG_ISA_NS {

struct Tag {};  // selects this copy by argument-dependent lookup (on_cpu_isa)
constexpr CpuIsa kIsa = ERRSEG_ISA;
constexpr int kLanes = ERRSEG_ISA_LANES;

// The vector types of the bodies: Vec, kLanes floats; IVec, kLanes int32 (what comparisons of
// Vecs give); DVec, kLanes doubles (twice a register wide: kept out of signatures, whose ABI
// would depend on the ISA).
#if defined(ERRSEG_PORTABLE_VEC)
using Vec = PortableVec<float, kLanes>;
using IVec = PortableVec<int32_t, kLanes>;
using DVec = PortableVec<double, kLanes>;
#define ERRSEG_VEC_WIDEN(v) portable_convert<DVec>(v)
#else
typedef float Vec __attribute__((vector_size(kLanes * sizeof(float))));
typedef int32_t IVec __attribute__((vector_size(kLanes * sizeof(int32_t))));
typedef double DVec __attribute__((vector_size(kLanes * sizeof(double))));
#define ERRSEG_VEC_WIDEN(v) __builtin_convertvector(v, DVec)
#endif
// acc[l] += double(v[l]) for each lane.
inline void vadd_widened(double* acc, Vec v) {
    DVec a;
    std::memcpy(&a, acc, sizeof(a));
    a += ERRSEG_VEC_WIDEN(v);
    std::memcpy(acc, &a, sizeof(a));
}
#undef ERRSEG_VEC_WIDEN
constexpr float kInf = std::numeric_limits<float>::infinity();
inline Vec vload(const float* p) {
    Vec v;
    std::memcpy(&v, p, sizeof(v));
    return v;
}
inline void vstore(float* p, Vec v) { std::memcpy(p, &v, sizeof(v)); }

#include "sgemm_body.inl"
#include "depthwise_body.inl"
#include "vmath_body.inl"
#include "norm_body.inl"
#include "resample_body.inl"
#include "elementwise_body.inl"

}  // namespace ERRSEG_ISA_NS

#undef ERRSEG_ISA_NS
#undef ERRSEG_ISA
#undef ERRSEG_ISA_LANES
#undef ERRSEG_ISA_MR
#undef ERRSEG_ISA_NV
