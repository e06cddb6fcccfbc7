// One instruction set's copy of the kernels. isa_kernels.hpp includes this file once per ISA,
// inside that ISA's target region, with ERRSEG_ISA_NS (the namespace), ERRSEG_ISA (its CpuIsa),
// ERRSEG_ISA_LANES (floats per vector) and the GEMM tile ERRSEG_ISA_MR (rows) x ERRSEG_ISA_NV
// (vectors per row) defined; it undefines them. No include guard.
namespace ERRSEG_ISA_NS {

struct Tag {};  // selects this copy by argument-dependent lookup (on_cpu_isa)
constexpr CpuIsa kIsa = ERRSEG_ISA;
constexpr int kLanes = ERRSEG_ISA_LANES;

// The vector types of the bodies: Vec, kLanes floats; IVec, kLanes int32 (what comparisons of
// Vecs give).
typedef float Vec __attribute__((vector_size(kLanes * sizeof(float))));
typedef int32_t IVec __attribute__((vector_size(kLanes * sizeof(int32_t))));
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
