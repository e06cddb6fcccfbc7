// nn.AvgPool2d(kernel, stride) without padding on [N*C, H, W] planes: output size
// floor((H - k) / s) + 1, each output the mean of its k x k window (fp32 sum, then / (k*k)).
#pragma once
#include <cuda_runtime.h>

#include "types.cuh"

namespace errseg::cuda::kernels {

template <class T>
__global__ void avg_pool2d_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t planes, int H, int W, int Ho,
                                  int Wo, int k, int s) {
    const int64_t total = planes * Ho * Wo;
    const float inv = 1.f / float(k * k);
    for (int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += int64_t(gridDim.x) * blockDim.x) {
        const int ox = int(t % Wo), oy = int((t / Wo) % Ho);
        const T* p = x + (t / (int64_t(Wo) * Ho)) * H * W + int64_t(oy * s) * W + ox * s;
        float sum = 0.f;
        for (int i = 0; i < k; ++i)
            for (int j = 0; j < k; ++j) sum += ldg_f32(p + int64_t(i) * W + j);
        y[t] = from_f32<T>(sum * inv);
    }
}

template <class T>
void launch_avg_pool2d(const T* x, T* y, int64_t planes, int H, int W, int Ho, int Wo, int k, int s,
                       cudaStream_t stream) {
    const int64_t total = planes * Ho * Wo;
    if (total == 0) return;
    const int64_t blocks = ceil_div(total, 256);
    avg_pool2d_kernel<T><<<unsigned(blocks < 65536 ? blocks : 65536), 256, 0, stream>>>(x, y, planes, H, W, Ho, Wo, k,
                                                                                        s);
}

}  // namespace errseg::cuda::kernels
