// Depthwise convolution (groups == C, NCHW): every output channel o reads input channel
// o / (O / C) only, so there is no reduction over channels and it is memory-bound.
//
// Fast path (stride 1, dilation 1, square KS x KS kernel, KS a template constant: the 7x7 of
// ConvNeXt and ERR-Seg's spatial MLP): a block computes a 32 x 32 output tile of one (n, c)
// plane; the input tile plus its KS-1 halo is staged once in shared memory (zeros outside the
// image = zero padding), the KS*KS weights too, and each thread produces 4 outputs of a column.
// General path: any kernel, stride, dilation, padding and channel multiplier, one thread per
// output. Bias, an activation and a residual (added after it) are fused into the write in both.
#pragma once
#include <cuda_runtime.h>

#include "activation.cuh"
#include "conv_params.cuh"
#include "types.cuh"

namespace errseg::cuda::kernels {

constexpr int kDwTile = 32, kDwRowsPerThread = 4;  // 32 x 8 threads, 32 x 32 outputs

template <class T, int KS>
__global__ void __launch_bounds__(kDwTile * (kDwTile / kDwRowsPerThread))
    depthwise_conv_tiled_kernel(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias,
                                ResidualArg<T> residual, T* __restrict__ y, ConvGeometry g, Activation act) {
    constexpr int IN = kDwTile + KS - 1;
    __shared__ float tile[IN][IN + 1];
    __shared__ float wk[KS * KS];
    const int tiles_w = (g.Wo + kDwTile - 1) / kDwTile;
    const int oy0 = (blockIdx.x / tiles_w) * kDwTile, ox0 = (blockIdx.x % tiles_w) * kDwTile;
    const int o = blockIdx.y, n = blockIdx.z;
    const int c = o / (g.O / g.C);
    const T* xp = x + (int64_t(n) * g.C + c) * g.H * g.W;
    const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * kDwTile + tx;
    constexpr int NT = kDwTile * (kDwTile / kDwRowsPerThread);

    for (int i = tid; i < KS * KS; i += NT) wk[i] = ldg_f32(w + int64_t(o) * KS * KS + i);
    const int iy0 = oy0 - g.pad_h, ix0 = ox0 - g.pad_w;
    for (int i = tid; i < IN * IN; i += NT) {
        const int r = i / IN, cc = i % IN;
        const int iy = iy0 + r, ix = ix0 + cc;
        tile[r][cc] = (iy >= 0 && iy < g.H && ix >= 0 && ix < g.W) ? ldg_f32(xp + int64_t(iy) * g.W + ix) : 0.f;
    }
    __syncthreads();

    const float b = bias ? ldg_f32(bias + o) : 0.f;
    const int64_t plane = (int64_t(n) * g.O + o) * g.Ho * g.Wo;
    T* yp = y + plane;
#pragma unroll
    for (int rr = 0; rr < kDwRowsPerThread; ++rr) {
        const int ly = ty + rr * (kDwTile / kDwRowsPerThread);
        const int oy = oy0 + ly, ox = ox0 + tx;
        if (oy >= g.Ho || ox >= g.Wo) continue;
        float s = 0.f;
#pragma unroll
        for (int ki = 0; ki < KS; ++ki)
#pragma unroll
            for (int kj = 0; kj < KS; ++kj) s = fmaf(tile[ly + ki][tx + kj], wk[ki * KS + kj], s);
        const int64_t i = int64_t(oy) * g.Wo + ox;
        yp[i] = from_f32<T>(residual.epilogue(s + b, act, plane + i));
    }
}

template <class T>
__global__ void depthwise_conv_generic_kernel(const T* __restrict__ x, const T* __restrict__ w,
                                              const T* __restrict__ bias, ResidualArg<T> residual,
                                              T* __restrict__ y, ConvGeometry g, Activation act) {
    const int64_t total = int64_t(g.N) * g.O * g.Ho * g.Wo;
    for (int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += int64_t(gridDim.x) * blockDim.x) {
        const int ox = int(t % g.Wo);
        const int oy = int((t / g.Wo) % g.Ho);
        const int o = int((t / (int64_t(g.Wo) * g.Ho)) % g.O);
        const int n = int(t / (int64_t(g.Wo) * g.Ho * g.O));
        const int c = o / (g.O / g.C);
        const T* xp = x + (int64_t(n) * g.C + c) * g.H * g.W;
        const T* wp = w + int64_t(o) * g.kh * g.kw;
        float s = bias ? ldg_f32(bias + o) : 0.f;
        for (int ki = 0; ki < g.kh; ++ki) {
            const int iy = oy * g.stride_h - g.pad_h + ki * g.dil_h;
            if (iy < 0 || iy >= g.H) continue;
            for (int kj = 0; kj < g.kw; ++kj) {
                const int ix = ox * g.stride_w - g.pad_w + kj * g.dil_w;
                if (ix < 0 || ix >= g.W) continue;
                s = fmaf(ldg_f32(xp + int64_t(iy) * g.W + ix), ldg_f32(wp + ki * g.kw + kj), s);
            }
        }
        y[t] = from_f32<T>(residual.epilogue(s, act, t));
    }
}

template <class T>
void launch_depthwise_conv(const T* x, const T* w, const T* bias, ResidualArg<T> residual, T* y, const ConvGeometry& g,
                           Activation act, cudaStream_t stream) {
    const int64_t total = int64_t(g.N) * g.O * g.Ho * g.Wo;
    if (total == 0) return;
    const bool tiled = g.kh == 7 && g.kw == 7 && g.stride_h == 1 && g.stride_w == 1 && g.dil_h == 1 && g.dil_w == 1;
    if (tiled && g.O <= 65535 && g.N <= 65535) {
        const int64_t tiles = ceil_div(g.Ho, kDwTile) * ceil_div(g.Wo, kDwTile);
        const dim3 grid(unsigned(tiles), unsigned(g.O), unsigned(g.N));
        depthwise_conv_tiled_kernel<T, 7>
            <<<grid, dim3(kDwTile, kDwTile / kDwRowsPerThread), 0, stream>>>(x, w, bias, residual, y, g, act);
    } else {
        const int64_t blocks = ceil_div(total, 256);
        depthwise_conv_generic_kernel<T>
            <<<unsigned(blocks < 65536 ? blocks : 65536), 256, 0, stream>>>(x, w, bias, residual, y, g, act);
    }
}

}  // namespace errseg::cuda::kernels
