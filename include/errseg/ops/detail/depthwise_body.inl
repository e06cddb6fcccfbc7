// Depthwise convolution inner kernels, compiled once per instruction set (included by
// isa_kernels.hpp inside each ISA namespace; no include guard). Plain loops and vector
// extensions only.

// Depthwise K x K, stride 1, no dilation, on one plane: a block of 8 output rows x kLanes
// columns lives in 8 vector registers (independent FMA chains) while every input row of the
// block is loaded once per tap column and multiplied into each output row it touches. `pad` is
// the zero-padded plane with row stride ldp >= roundup(Wo, kDwMaxLanes) + K - 1 and at least
// roundup(Ho, 8) + K - 1 rows.
template <int K>
inline void dw_plane_k(const float* pad, int64_t ldp, const float* wc, float bias, float* dst, int64_t Ho,
                       int64_t Wo) {
    constexpr int R = 8, V = kLanes;
    for (int64_t oh0 = 0; oh0 < Ho; oh0 += R) {
        for (int64_t ow0 = 0; ow0 < Wo; ow0 += V) {
            Vec acc[R];
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) acc[r] = Vec{} + bias;
#pragma GCC unroll 16
            for (int ii = 0; ii < K + R - 1; ++ii) {
                const float* row = pad + (oh0 + ii) * ldp + ow0;
#pragma GCC unroll 8
                for (int j = 0; j < K; ++j) {
                    const Vec x = vload(row + j);
#pragma GCC unroll 8
                    for (int r = 0; r < R; ++r) {
                        const int i = ii - r;  // kernel row linking input row ii to output row r
                        if (i >= 0 && i < K) acc[r] += wc[i * K + j] * x;
                    }
                }
            }
            const int64_t rows = std::min<int64_t>(R, Ho - oh0), n = std::min<int64_t>(V, Wo - ow0);
            for (int64_t r = 0; r < rows; ++r) {
                float tmp[V];
                vstore(tmp, acc[r]);
                std::copy_n(tmp, n, dst + (oh0 + r) * Wo + ow0);
            }
        }
    }
}

// The K x K plane kernel for K = 3, 5 or 7 (dw_fast_kernel() says which K qualify).
inline void dw_plane_s1(Tag, int k, const float* pad, int64_t ldp, const float* wc, float bias, float* dst,
                        int64_t Ho, int64_t Wo) {
    if (k == 7) dw_plane_k<7>(pad, ldp, wc, bias, dst, Ho, Wo);
    else if (k == 5) dw_plane_k<5>(pad, ldp, wc, bias, dst, Ho, Wo);
    else dw_plane_k<3>(pad, ldp, wc, bias, dst, Ho, Wo);
}

// Channels-last depthwise conv, stride 1: one output pixel at a time, channels in blocks of
// kDwBlock accumulated in a local array (registers) over all taps. CB > 0: a full block of CB
// channels (a compile-time trip count the compiler keeps in registers); CB = 0: `cb` channels.
template <int64_t CB>
inline void dw_nhwc_pixel(const float* x, const float* taps, const float* bias, float* o, int64_t C, int64_t W,
                          int64_t kw, int64_t ky0, int64_t ky1, int64_t kx0, int64_t kx1, int64_t y0, int64_t x0,
                          int64_t cb, int64_t c0) {
    float acc[CB > 0 ? CB : kDwBlock];
    const int64_t n = CB > 0 ? CB : cb;
    for (int64_t c = 0; c < n; ++c) acc[c] = bias ? bias[c0 + c] : 0.f;
    for (int64_t ky = ky0; ky < ky1; ++ky)
        for (int64_t kx = kx0; kx < kx1; ++kx) {
            const float* in = x + ((y0 + ky) * W + (x0 + kx)) * C + c0;
            const float* t = taps + (ky * kw + kx) * C + c0;
            for (int64_t c = 0; c < n; ++c) acc[c] += in[c] * t[c];
        }
    for (int64_t c = 0; c < n; ++c) o[c0 + c] = acc[c];
}

// Output rows [r0, r1) (row r = image r / Ho, output row r % Ho) of the channels-last conv.
inline void dw_nhwc_rows(Tag, const DwNhwcGeom& g, const float* x, const float* taps, const float* bias, float* out,
                         int64_t r0, int64_t r1) {
    const int64_t C = g.C, W = g.W;
    for (int64_t r = r0; r < r1; ++r) {
        const int64_t n = r / g.Ho, oy = r % g.Ho, y0 = oy - g.ph;
        const int64_t ky0 = std::max<int64_t>(0, -y0), ky1 = std::min<int64_t>(g.kh, g.H - y0);
        const float* xn = x + n * g.H * W * C;
        for (int64_t ox = 0; ox < g.Wo; ++ox) {
            const int64_t x0 = ox - g.pw;
            const int64_t kx0 = std::max<int64_t>(0, -x0), kx1 = std::min<int64_t>(g.kw, W - x0);
            float* o = out + (r * g.Wo + ox) * C;
            int64_t c0 = 0;
            for (; c0 + kDwBlock <= C; c0 += kDwBlock)
                dw_nhwc_pixel<kDwBlock>(xn, taps, bias, o, C, W, g.kw, ky0, ky1, kx0, kx1, y0, x0, kDwBlock, c0);
            for (; c0 < C; c0 += kDwBlock)  // the tail: one block of up to kDwBlock - 1 channels
                dw_nhwc_pixel<0>(xn, taps, bias, o, C, W, g.kw, ky0, ky1, kx0, kx1, y0, x0,
                                 std::min(kDwBlock, C - c0), c0);
        }
    }
}
