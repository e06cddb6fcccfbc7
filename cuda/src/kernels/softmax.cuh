// Numerically stable softmax, exp(x - max) / sum, over one dimension of a tensor viewed as
// [outer, D, inner].
//  * inner == 1 (the last dim, the common case): one warp per row, three passes over the row
//    (max, sum of exponentials, write), each coalesced along the row.
//  * inner > 1: one thread per (outer, inner) column; the loop over D strides by `inner`, and
//    consecutive threads read consecutive addresses.
#pragma once
#include <cuda_runtime.h>

#include "types.cuh"

namespace errseg::cuda::kernels {

template <class T>
__global__ void softmax_rows_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t rows, int D) {
    const int lane = threadIdx.x & 31;
    const int64_t row = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= rows) return;
    const T* xr = x + row * D;
    float m = -INFINITY;
    for (int i = lane; i < D; i += 32) m = fmaxf(m, to_f32(xr[i]));
    m = warp_max(m);
    float s = 0.f;
    for (int i = lane; i < D; i += 32) s += expf(to_f32(xr[i]) - m);
    s = warp_sum(s);
    for (int i = lane; i < D; i += 32) y[row * D + i] = from_f32<T>(expf(to_f32(xr[i]) - m) / s);
}

template <class T>
__global__ void softmax_columns_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t outer, int D,
                                       int64_t inner) {
    const int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (t >= outer * inner) return;
    const int64_t o = t / inner, in = t % inner;
    const T* xc = x + o * D * inner + in;
    T* yc = y + o * D * inner + in;
    float m = -INFINITY;
    for (int d = 0; d < D; ++d) m = fmaxf(m, to_f32(xc[d * inner]));
    float s = 0.f;
    for (int d = 0; d < D; ++d) s += expf(to_f32(xc[d * inner]) - m);
    for (int d = 0; d < D; ++d) yc[d * inner] = from_f32<T>(expf(to_f32(xc[d * inner]) - m) / s);
}

template <class T>
void launch_softmax(const T* x, T* y, int64_t outer, int64_t D, int64_t inner, cudaStream_t stream) {
    if (outer <= 0 || D <= 0 || inner <= 0) return;
    if (inner == 1) {
        constexpr int kWarps = 8;
        softmax_rows_kernel<T><<<unsigned(ceil_div(outer, kWarps)), kWarps * 32, 0, stream>>>(x, y, outer, int(D));
    } else {
        softmax_columns_kernel<T><<<unsigned(ceil_div(outer * inner, 256)), 256, 0, stream>>>(x, y, outer, int(D),
                                                                                              inner);
    }
}

}  // namespace errseg::cuda::kernels
