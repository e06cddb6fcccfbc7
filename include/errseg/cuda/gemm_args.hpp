// One (batched, strided) GEMM with a fused epilogue, as the GPU kernels take it:
//
//   C[b] = act(alpha * A[b] · op(B[b]) + bias) + residual[b]        for b in [0, batch)
//
// A[b] is M x K row-major (element (m, k) at a + b*batch_stride_a + m*lda + k).
// op(B[b]) is K x N: B stored K x N row-major (trans_b = false, element (k, n) at k*ldb + n) or
// N x K row-major (trans_b = true, element (k, n) at n*ldb + k: the nn.Linear weight layout).
// C[b], residual[b]: M x N row-major. All matrices share one float storage dtype
// (F32/F16/BF16); accumulation is fp32. bias/residual may be null; residual may alias C.
#pragma once
#include <cstdint>

#include "activation.hpp"

namespace errseg::cuda {

enum class BiasMode : int { None = 0, PerColumn, PerRow };  // bias[n] (linear) or bias[m] (conv)

// Which kernel family runs: Auto = tensor cores for F16/BF16 on sm_80+, SIMT otherwise.
enum class GemmPath : int { Auto = 0, Simt, TensorCore };

struct GemmArgs {
    int64_t M = 0, N = 0, K = 0, batch = 1;
    const void* a = nullptr;
    int64_t lda = 0, batch_stride_a = 0;
    const void* b = nullptr;
    int64_t ldb = 0, batch_stride_b = 0;  // batch_stride_b = 0: one B shared by every batch
    bool trans_b = false;
    void* c = nullptr;
    int64_t ldc = 0, batch_stride_c = 0;
    const void* bias = nullptr;
    BiasMode bias_mode = BiasMode::None;
    const void* residual = nullptr;
    int64_t ldr = 0, batch_stride_r = 0;
    float alpha = 1.f;
    Activation act = Activation::None;
    GemmPath path = GemmPath::Auto;
};

}  // namespace errseg::cuda
