// LayerNorm2d (timm / detectron2): x [N, C, H, W] normalised over C at every pixel.
// One thread per (n, pixel); the loop over C strides by H*W, so consecutive threads read
// consecutive addresses (coalesced) at every step. Two passes for the statistics as in LayerNorm.
#pragma once
#include <cuda_runtime.h>

#include "types.cuh"

namespace errseg::cuda::kernels {

template <class T>
__global__ void layer_norm2d_kernel(const T* __restrict__ x, T* y, const T* __restrict__ w,
                                    const T* __restrict__ b, int N, int C, int64_t HW, float eps) {
    const int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (t >= int64_t(N) * HW) return;
    const int64_t n = t / HW, p = t % HW;
    const T* xp = x + n * C * HW + p;
    T* yp = y + n * C * HW + p;
    float s = 0.f;
    for (int c = 0; c < C; ++c) s += to_f32(xp[c * HW]);
    const float mean = s / float(C);
    float q = 0.f;
    for (int c = 0; c < C; ++c) {
        const float d = to_f32(xp[c * HW]) - mean;
        q += d * d;
    }
    const float rstd = rsqrtf(q / float(C) + eps);
    for (int c = 0; c < C; ++c) {
        float v = (to_f32(xp[c * HW]) - mean) * rstd;
        if (w) v *= ldg_f32(w + c);
        if (b) v += ldg_f32(b + c);
        yp[c * HW] = from_f32<T>(v);
    }
}

template <class T>
void launch_layer_norm2d(const T* x, T* y, const T* w, const T* b, int64_t N, int64_t C, int64_t HW, float eps,
                         cudaStream_t stream) {
    const int64_t total = N * HW;
    if (total <= 0 || C <= 0) return;
    constexpr int kThreads = 256;
    layer_norm2d_kernel<T><<<unsigned(ceil_div(total, kThreads)), kThreads, 0, stream>>>(x, y, w, b, int(N), int(C),
                                                                                         HW, eps);
}

}  // namespace errseg::cuda::kernels
