// F.interpolate(mode='bilinear', size=...) on [N*C, H, W] planes with PyTorch's index math
// (upsample_bilinear2d, fp32 accumulate type):
//   align_corners = False: scale = in / out,               src = max(scale * (o + 0.5) - 0.5, 0)
//   align_corners = True:  scale = (in - 1) / (out - 1)    (0 when out == 1), src = scale * o
//   i0 = floor(src), i1 = i0 + (i0 < in - 1), l1 = src - i0, l0 = 1 - l1
//   out = l0y * (l0x * x[i0y, i0x] + l1x * x[i0y, i1x]) + l1y * (l0x * x[i1y, i0x] + l1x * x[i1y, i1x])
// No antialiasing (PyTorch's default).
#pragma once
#include <cuda_runtime.h>

#include "types.cuh"

namespace errseg::cuda::kernels {

__host__ __device__ inline float bilinear_scale(int in, int out, bool align_corners) {
    if (align_corners) return out > 1 ? float(in - 1) / float(out - 1) : 0.f;
    return float(in) / float(out);
}

__device__ __forceinline__ void bilinear_source(int o, int in, float scale, bool align_corners, int& i0, int& i1,
                                                float& l0, float& l1) {
    // Explicitly rounded steps (no FMA contraction): the same float as PyTorch's CPU kernel.
    const float src = align_corners ? __fmul_rn(scale, float(o))
                                    : fmaxf(__fsub_rn(__fmul_rn(scale, __fadd_rn(float(o), 0.5f)), 0.5f), 0.f);
    i0 = int(src);  // src >= 0, so truncation is floor
    if (i0 > in - 1) i0 = in - 1;
    i1 = i0 + (i0 < in - 1 ? 1 : 0);
    l1 = src - float(i0);
    l0 = 1.f - l1;
}

template <class T>
__global__ void resize_bilinear_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t planes, int H, int W,
                                       int Ho, int Wo, float sh, float sw, bool align_corners) {
    const int64_t total = planes * Ho * Wo;
    for (int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += int64_t(gridDim.x) * blockDim.x) {
        const int ox = int(t % Wo), oy = int((t / Wo) % Ho);
        const int64_t pl = t / (int64_t(Wo) * Ho);
        int y0, y1, x0, x1;
        float ly0, ly1, lx0, lx1;
        bilinear_source(oy, H, sh, align_corners, y0, y1, ly0, ly1);
        bilinear_source(ox, W, sw, align_corners, x0, x1, lx0, lx1);
        const T* p = x + pl * H * W;
        const float top = lx0 * ldg_f32(p + int64_t(y0) * W + x0) + lx1 * ldg_f32(p + int64_t(y0) * W + x1);
        const float bot = lx0 * ldg_f32(p + int64_t(y1) * W + x0) + lx1 * ldg_f32(p + int64_t(y1) * W + x1);
        y[t] = from_f32<T>(ly0 * top + ly1 * bot);
    }
}

template <class T>
void launch_resize_bilinear(const T* x, T* y, int64_t planes, int H, int W, int Ho, int Wo, bool align_corners,
                            cudaStream_t stream) {
    const int64_t total = planes * Ho * Wo;
    if (total == 0) return;
    const int64_t blocks = ceil_div(total, 256);
    resize_bilinear_kernel<T><<<unsigned(blocks < 65536 ? blocks : 65536), 256, 0, stream>>>(
        x, y, planes, H, W, Ho, Wo, bilinear_scale(H, Ho, align_corners), bilinear_scale(W, Wo, align_corners),
        align_corners);
}

}  // namespace errseg::cuda::kernels
