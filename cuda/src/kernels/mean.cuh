// torch.mean(x, dim) on x viewed as [outer, D, inner] -> [outer, inner], fp32 accumulation.
// inner == 1 (a row mean, e.g. ConvNeXt's pooled embedding): one warp per row, coalesced;
// otherwise one thread per output, the threads of a warp reading neighbouring columns.
#pragma once
#include <cuda_runtime.h>

#include <cmath>

#include "types.cuh"

namespace errseg::cuda::kernels {

template <class T>
__global__ void mean_rows_kernel(const T* __restrict__ x, T* y, int64_t rows, int64_t D) {
    const int lane = threadIdx.x & 31;
    const int64_t row = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= rows) return;
    const T* xr = x + row * D;
    float s = 0.f;
    for (int64_t i = lane; i < D; i += 32) s += to_f32(xr[i]);
    s = warp_sum(s);
    if (lane == 0) y[row] = from_f32<T>(D > 0 ? s / float(D) : NAN);  // mean of nothing: NaN, as torch
}

template <class T>
__global__ void mean_strided_kernel(const T* __restrict__ x, T* y, int64_t outer, int64_t D, int64_t inner) {
    const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (idx >= outer * inner) return;
    const int64_t o = idx / inner, i = idx % inner;
    const T* base = x + o * D * inner + i;
    float s = 0.f;
    for (int64_t d = 0; d < D; ++d) s += to_f32(base[d * inner]);
    y[idx] = from_f32<T>(D > 0 ? s / float(D) : NAN);
}

template <class T>
void launch_mean(const T* x, T* y, int64_t outer, int64_t D, int64_t inner, cudaStream_t stream) {
    if (outer <= 0 || inner <= 0) return;
    if (inner == 1) {
        constexpr int kWarps = 8;
        mean_rows_kernel<T><<<unsigned(ceil_div(outer, kWarps)), kWarps * 32, 0, stream>>>(x, y, outer, D);
    } else {
        constexpr int kThreads = 256;
        mean_strided_kernel<T><<<unsigned(ceil_div(outer * inner, kThreads)), kThreads, 0, stream>>>(x, y, outer, D,
                                                                                                      inner);
    }
}

}  // namespace errseg::cuda::kernels
