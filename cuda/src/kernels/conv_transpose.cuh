// nn.ConvTranspose2d (NCHW, weight [C, O/groups, kh, kw], dilation 1) in gather form: each
// output element sums the inputs that scatter onto it,
//   out[n, o, y, x] = bias[o] + sum_{c in group} sum_{ki, kj} x[n, c, iy, ix] * W[c, o_g, ki, kj]
//   with y = iy*sh - ph + ki, x = ix*sw - pw + kj  (so iy = (y + ph - ki) / sh when divisible).
// For ERR-Seg's 2x2 / stride 2 up-sampling exactly one (ki, kj) matches each output pixel, so
// this is a C-long dot product per output; no atomics, no overlap handling needed.
#pragma once
#include <cuda_runtime.h>

#include "activation.cuh"
#include "conv_params.cuh"
#include "types.cuh"

namespace errseg::cuda::kernels {

template <class T>
__global__ void conv_transpose2d_kernel(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias,
                                        T* __restrict__ y, ConvGeometry g, Activation act) {
    const int64_t total = int64_t(g.N) * g.O * g.Ho * g.Wo;
    const int Og = g.O / g.groups, Cg = g.C / g.groups;
    for (int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += int64_t(gridDim.x) * blockDim.x) {
        const int ox = int(t % g.Wo);
        const int oy = int((t / g.Wo) % g.Ho);
        const int o = int((t / (int64_t(g.Wo) * g.Ho)) % g.O);
        const int n = int(t / (int64_t(g.Wo) * g.Ho * g.O));
        const int grp = o / Og, og = o % Og;
        float s = bias ? ldg_f32(bias + o) : 0.f;
        for (int ki = 0; ki < g.kh; ++ki) {
            const int ty = oy + g.pad_h - ki;
            if (ty < 0 || ty % g.stride_h) continue;
            const int iy = ty / g.stride_h;
            if (iy >= g.H) continue;
            for (int kj = 0; kj < g.kw; ++kj) {
                const int tx = ox + g.pad_w - kj;
                if (tx < 0 || tx % g.stride_w) continue;
                const int ix = tx / g.stride_w;
                if (ix >= g.W) continue;
                const T* xp = x + ((int64_t(n) * g.C + int64_t(grp) * Cg) * g.H + iy) * g.W + ix;
                const T* wp = w + ((int64_t(grp) * Cg * Og + og) * g.kh + ki) * g.kw + kj;
                const int64_t xs = int64_t(g.H) * g.W, ws = int64_t(Og) * g.kh * g.kw;
                for (int c = 0; c < Cg; ++c) s = fmaf(ldg_f32(xp + c * xs), ldg_f32(wp + c * ws), s);
            }
        }
        y[t] = from_f32<T>(apply_activation(s, act));
    }
}

template <class T>
void launch_conv_transpose2d(const T* x, const T* w, const T* bias, T* y, const ConvGeometry& g, Activation act,
                             cudaStream_t stream) {
    const int64_t total = int64_t(g.N) * g.O * g.Ho * g.Wo;
    if (total == 0) return;
    const int64_t blocks = ceil_div(total, 256);
    conv_transpose2d_kernel<T><<<unsigned(blocks < 65536 ? blocks : 65536), 256, 0, stream>>>(x, w, bias, y, g, act);
}

}  // namespace errseg::cuda::kernels
