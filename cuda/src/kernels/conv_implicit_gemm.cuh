// General 2-D convolution as an implicit GEMM on the SIMT main loop (gemm_simt.cuh): for image n
// and group g,
//   out[n, g*Og + m, p] = sum_k Wg[m, k] * X(k, p),   k = (c, ki, kj), p = (ho, wo)
// where X(k, p) = x[n, g*Cg + c, ho*sh - ph + ki*dh, wo*sw - pw + kj*dw] (0 outside the image).
// The "im2col" matrix X is never materialised: the B loader computes each element's address
// when the tile is staged. Batch entries of the GEMM are the (n, g) pairs.
#pragma once
#include <cuda_runtime.h>

#include "activation.cuh"
#include "conv_params.cuh"
#include "gemm_simt.cuh"
#include "types.cuh"

namespace errseg::cuda::kernels {

// A: the weights of group g, [Og, Cg*kh*kw] row-major.
template <class T>
struct ConvWeightLoader {
    static constexpr bool k_fastest = true;
    const T* w;
    int Og, Kdim, groups;
    __device__ ConvWeightLoader at(int batch) const {
        ConvWeightLoader r = *this;
        r.w += int64_t(batch % groups) * Og * Kdim;
        return r;
    }
    __device__ float operator()(int m, int k) const {
        return (m < Og && k < Kdim) ? ldg_f32(w + int64_t(m) * Kdim + k) : 0.f;
    }
};

// B: the implicit im2col matrix of image n, group g.
template <class T>
struct Im2colLoader {
    static constexpr bool k_fastest = false;  // consecutive p are (mostly) consecutive pixels
    const T* x;                               // image n, first channel of group g (after at())
    ConvGeometry g;
    int Kdim, P;                              // Cg*kh*kw, Ho*Wo
    __device__ Im2colLoader at(int batch) const {
        Im2colLoader r = *this;
        const int n = batch / g.groups, grp = batch % g.groups;
        r.x += (int64_t(n) * g.C + int64_t(grp) * (g.C / g.groups)) * g.H * g.W;
        return r;
    }
    __device__ float operator()(int k, int p) const {
        if (k >= Kdim || p >= P) return 0.f;
        const int khw = g.kh * g.kw;
        const int c = k / khw, rem = k % khw, ki = rem / g.kw, kj = rem % g.kw;
        const int ho = p / g.Wo, wo = p % g.Wo;
        const int iy = ho * g.stride_h - g.pad_h + ki * g.dil_h;
        const int ix = wo * g.stride_w - g.pad_w + kj * g.dil_w;
        if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.W) return 0.f;
        return ldg_f32(x + (int64_t(c) * g.H + iy) * g.W + ix);
    }
};

template <class T>
struct ConvEpilogue {
    T* y;
    const T* bias;
    ResidualArg<T> residual;
    int O, Og, groups, P;
    Activation act;
    __device__ void operator()(int batch, int m, int p, float acc) const {
        const int n = batch / groups, o = (batch % groups) * Og + m;
        const int64_t i = (int64_t(n) * O + o) * P + p;
        y[i] = from_f32<T>(residual.epilogue(bias ? acc + ldg_f32(bias + o) : acc, act, i));
    }
};

template <class T>
void launch_conv_implicit_gemm(const T* x, const T* w, const T* bias, ResidualArg<T> residual, T* y, const ConvGeometry& g,
                               Activation act, cudaStream_t stream) {
    const int Og = g.O / g.groups, Cg = g.C / g.groups;
    const int Kdim = Cg * g.kh * g.kw, P = g.Ho * g.Wo;
    const int64_t batch = int64_t(g.N) * g.groups;
    const ConvWeightLoader<T> la{w, Og, Kdim, g.groups};
    const Im2colLoader<T> lb{x, g, Kdim, P};
    const ConvEpilogue<T> epi{y, bias, residual, g.O, Og, g.groups, P, act};
    // Few output channels (ERR-Seg's decoder: 16..64) -> the small tile wastes less.
    if (Og >= 96 && P >= 96) launch_simt_gemm<SimtTileLarge>(Og, P, Kdim, batch, la, lb, epi, stream);
    else launch_simt_gemm<SimtTileSmall>(Og, P, Kdim, batch, la, lb, epi, stream);
}

}  // namespace errseg::cuda::kernels
