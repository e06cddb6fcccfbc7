// Constant padding of the last two dims (F.pad(x, (left, right, top, bottom), value)) on
// [planes, H, W]; negative pads crop, as in PyTorch.
#pragma once
#include <cuda_runtime.h>

#include "types.cuh"

namespace errseg::cuda::kernels {

template <class T>
__global__ void pad2d_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t planes, int H, int W, int Ho, int Wo,
                             int left, int top, float value) {
    const int64_t total = planes * Ho * Wo;
    const T v = from_f32<T>(value);
    for (int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += int64_t(gridDim.x) * blockDim.x) {
        const int ox = int(t % Wo), oy = int((t / Wo) % Ho);
        const int64_t pl = t / (int64_t(Wo) * Ho);
        const int iy = oy - top, ix = ox - left;
        y[t] = (iy >= 0 && iy < H && ix >= 0 && ix < W) ? x[(pl * H + iy) * W + ix] : v;
    }
}

template <class T>
void launch_pad2d(const T* x, T* y, int64_t planes, int H, int W, int Ho, int Wo, int left, int top, float value,
                  cudaStream_t stream) {
    const int64_t total = planes * Ho * Wo;
    if (total == 0) return;
    const int64_t blocks = ceil_div(total, 256);
    pad2d_kernel<T><<<unsigned(blocks < 65536 ? blocks : 65536), 256, 0, stream>>>(x, y, planes, H, W, Ho, Wo, left, top,
                                                                                   value);
}

}  // namespace errseg::cuda::kernels
