// The GEMMs of linear / matmul / conv2d at the calling thread's CPU precision
// (core/cpu_precision.hpp): fp32 gemm() (gemm_kernel.hpp), or under bf16 gemm_bf16()
// (sgemm_bf16.hpp) with the weight operand packed once (bf16_weight_cache.hpp).
// The precision is read on the calling thread: ops decide before they fan out to workers.
#pragma once
#include <memory>

#include "../../core/cpu_precision.hpp"
#include "bf16_weight_cache.hpp"
#include "gemm_kernel.hpp"

namespace errseg::ops::detail {

#if defined(ERRSEG_HAVE_BF16_GEMM)
using Bf16Weight = std::shared_ptr<const Bf16Packed>;
#else
struct Bf16Packed;
using Bf16Weight = std::shared_ptr<const Bf16Packed>;  // always null: bf16 is refused
#endif

// Whether this thread's GEMMs run in bf16.
inline bool gemms_in_bf16() { return cpu_precision() == DType::BF16; }

// Under bf16, op(w) packed once as a [outer, K] A operand (`as_a`) or a [K, outer] B operand;
// null under fp32. `m` describes w's fp32 elements.
inline Bf16Weight bf16_weight(const Tensor& w, const MatArg& m, bool as_a, int64_t outer, int64_t K) {
#if defined(ERRSEG_HAVE_BF16_GEMM)
    if (gemms_in_bf16())
        return Bf16WeightCache::instance().get(w, m, as_a ? Bf16Packed::Side::A : Bf16Packed::Side::B, outer, K);
#else
    (void)w, (void)m, (void)as_a, (void)outer, (void)K;
#endif
    return nullptr;
}

// C[M, N] (+)= op(A) op(B) (+ bias), then the epilogue `epi` (if any): in bf16 when `bf16`
// (each fp32 operand rounded while packed, or the packed weight given for that side), else
// gemm().
inline void gemm_at(bool bf16, int64_t M, int64_t N, int64_t K, MatArg a, MatArg b, float* c, int64_t ldc,
                    bool accumulate = false, const Bf16Packed* a_packed = nullptr,
                    const Bf16Packed* b_packed = nullptr, const Epilogue* epi = nullptr, GemmBias bias = {}) {
#if defined(ERRSEG_HAVE_BF16_GEMM)
    if (bf16) {
        check_fresh_for_bias(accumulate, bias);
        if (bias.p) {  // the bf16 kernels have no bias: fill C with it, then add
            parallel_for(M, min_chunk_for(N), [&](int64_t r0, int64_t r1) {
                fill_bias(c + r0 * ldc, r1 - r0, N, ldc, r0, 0, bias);
            });
            accumulate = true;
        }
        gemm_bf16(M, N, K, {a, a_packed}, {b, b_packed}, c, ldc, accumulate);
        if (epi) (*epi)(c, M, N, ldc);  // one pass after the bf16 GEMM (its kernels have no epilogue)
        return;
    }
#else
    (void)bf16, (void)a_packed, (void)b_packed;
#endif
    gemm(M, N, K, a, b, c, ldc, accumulate, epi, bias);
}

}  // namespace errseg::ops::detail
