// GroupNorm (nn.GroupNorm): x [N, C, *spatial], statistics per (n, group) over C/G channels and
// all positions, biased variance, per-channel affine; an activation (ReLU in ERR-Seg's
// up-decoder) and a residual (added after it) can be fused into the write. One block per (n, group): two block-wide reductions
// (mean, then centred sum of squares), then the normalised write. Safe in place.
#pragma once
#include <cuda_runtime.h>

#include "activation.cuh"
#include "types.cuh"

namespace errseg::cuda::kernels {

template <class T>
__global__ void group_norm_kernel(const T* __restrict__ x, T* y, const T* __restrict__ w,
                                  const T* __restrict__ b, ResidualArg<T> residual, int C, int64_t HW, int groups,
                                  float eps, Activation act) {
    __shared__ float scratch[32];
    const int n = blockIdx.x / groups, g = blockIdx.x % groups;
    const int cg = C / groups;
    const int64_t count = int64_t(cg) * HW;
    const int64_t base = (int64_t(n) * C + int64_t(g) * cg) * HW;  // the group's channels are contiguous
    const T* xg = x + base;
    T* yg = y + base;
    float s = 0.f;
    for (int64_t i = threadIdx.x; i < count; i += blockDim.x) s += to_f32(xg[i]);
    const float mean = block_sum(s, scratch) / float(count);
    float q = 0.f;
    for (int64_t i = threadIdx.x; i < count; i += blockDim.x) {
        const float d = to_f32(xg[i]) - mean;
        q += d * d;
    }
    const float rstd = rsqrtf(block_sum(q, scratch) / float(count) + eps);
    for (int64_t i = threadIdx.x; i < count; i += blockDim.x) {
        const int c = g * cg + int(i / HW);
        float v = (to_f32(xg[i]) - mean) * rstd;
        if (w) v *= ldg_f32(w + c);
        if (b) v += ldg_f32(b + c);
        yg[i] = from_f32<T>(residual.epilogue(v, act, base + i));
    }
}

template <class T>
void launch_group_norm(const T* x, T* y, const T* w, const T* b, ResidualArg<T> residual, int64_t N, int64_t C, int64_t HW,
                       int groups, float eps, Activation act, cudaStream_t stream) {
    if (N <= 0 || C <= 0) return;
    ERRSEG_CHECK(groups > 0 && C % groups == 0, "group_norm: ", C, " channels not divisible into ", groups,
                 " groups");
    ERRSEG_CHECK(N * groups < (int64_t(1) << 31), "group_norm: too many groups");
    group_norm_kernel<T><<<unsigned(N * groups), 512, 0, stream>>>(x, y, w, b, residual, int(C), HW, groups, eps, act);
}

}  // namespace errseg::cuda::kernels
