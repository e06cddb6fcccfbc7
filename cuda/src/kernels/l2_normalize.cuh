// F.normalize(x, dim=-1): x / max(||x||_2, eps), one warp per row.
#pragma once
#include <cuda_runtime.h>

#include "types.cuh"

namespace errseg::cuda::kernels {

template <class T>
__global__ void l2_normalize_kernel(const T* __restrict__ x, T* y, int64_t rows, int D, float eps) {
    const int lane = threadIdx.x & 31;
    const int64_t row = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= rows) return;
    const T* xr = x + row * D;
    float s = 0.f;
    for (int i = lane; i < D; i += 32) {
        const float v = to_f32(xr[i]);
        s += v * v;
    }
    const float denom = fmaxf(sqrtf(warp_sum(s)), eps);  // divide, as PyTorch does (not * 1/denom)
    for (int i = lane; i < D; i += 32) y[row * D + i] = from_f32<T>(to_f32(xr[i]) / denom);
}

template <class T>
void launch_l2_normalize(const T* x, T* y, int64_t rows, int64_t D, float eps, cudaStream_t stream) {
    if (rows <= 0 || D <= 0) return;
    constexpr int kWarps = 8;
    l2_normalize_kernel<T><<<unsigned(ceil_div(rows, kWarps)), kWarps * 32, 0, stream>>>(x, y, rows, int(D), eps);
}

}  // namespace errseg::cuda::kernels
