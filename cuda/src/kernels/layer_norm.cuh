// LayerNorm over the last dimension: y = (x - mean) / sqrt(var + eps) * w + b, biased variance,
// fp32 statistics. One warp per row; two passes over the row (mean, then the centred sum of
// squares: no cancellation for large-mean rows), then the write. Safe in place (y == x).
#pragma once
#include <cuda_runtime.h>

#include "types.cuh"

namespace errseg::cuda::kernels {

template <class T>
__global__ void layer_norm_kernel(const T* __restrict__ x, T* y, const T* __restrict__ w,
                                  const T* __restrict__ b, int64_t rows, int D, float eps) {
    const int lane = threadIdx.x & 31;
    const int64_t row = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= rows) return;  // whole warps leave together
    const T* xr = x + row * D;
    T* yr = y + row * D;
    float s = 0.f;
    for (int i = lane; i < D; i += 32) s += to_f32(xr[i]);
    const float mean = warp_sum(s) / float(D);
    float q = 0.f;
    for (int i = lane; i < D; i += 32) {
        const float d = to_f32(xr[i]) - mean;
        q += d * d;
    }
    const float rstd = rsqrtf(warp_sum(q) / float(D) + eps);
    for (int i = lane; i < D; i += 32) {
        float v = (to_f32(xr[i]) - mean) * rstd;
        if (w) v *= ldg_f32(w + i);
        if (b) v += ldg_f32(b + i);
        yr[i] = from_f32<T>(v);
    }
}

template <class T>
void launch_layer_norm(const T* x, T* y, const T* w, const T* b, int64_t rows, int64_t D, float eps,
                       cudaStream_t stream) {
    if (rows <= 0 || D <= 0) return;
    constexpr int kWarps = 8;
    const int64_t blocks = ceil_div(rows, kWarps);
    ERRSEG_CHECK(blocks < (int64_t(1) << 31), "layer_norm: too many rows (", rows, ")");
    layer_norm_kernel<T><<<unsigned(blocks), kWarps * 32, 0, stream>>>(x, y, w, b, rows, int(D), eps);
}

}  // namespace errseg::cuda::kernels
