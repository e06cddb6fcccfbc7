// Convolution kernels on raw contiguous NCHW buffers (shapes already validated by conv.hpp).
#pragma once
#include "common.hpp"
#include "gemm_kernel.hpp"
#include "gemm_precision.hpp"

namespace errseg::ops::detail {

struct ConvGeom {
    int64_t N = 0, C = 0, H = 0, W = 0;  // input
    int64_t O = 0, Ho = 0, Wo = 0;       // output
    int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, groups = 1;
};

// First and one-past-last output index o with 0 <= o * s - pad + k_off < n (k_off = tap offset).
inline void valid_range(int64_t n, int64_t s, int64_t pad, int64_t k_off, int64_t n_out, int64_t& lo,
                        int64_t& hi) {
    const int64_t a = pad - k_off;  // need o * s >= a
    lo = a <= 0 ? 0 : (a + s - 1) / s;
    const int64_t b = n + pad - k_off;  // need o * s < b
    hi = b <= 0 ? 0 : (b + s - 1) / s;
    lo = std::min(lo, n_out);
    hi = std::clamp(hi, lo, n_out);
}

// im2col for output pixels [p0, p0 + T) of one group: col[(c, i, j), t] = x[c, ih, iw] or 0.
inline void im2col_tile(const ConvGeom& g, const float* x, int64_t cg, int64_t p0, int64_t T, float* col) {
    const int64_t HW = g.H * g.W;
    for (int64_t c = 0; c < cg; ++c) {
        const float* xc = x + c * HW;
        for (int64_t i = 0; i < g.kh; ++i) {
            for (int64_t j = 0; j < g.kw; ++j) {
                float* dst = col + ((c * g.kh + i) * g.kw + j) * T;
                int64_t lo, hi;
                valid_range(g.W, g.sw, g.pw, j * g.dw, g.Wo, lo, hi);
                // Walk the tile one output row segment at a time.
                int64_t t = 0;
                while (t < T) {
                    const int64_t p = p0 + t, oh = p / g.Wo, ow0 = p % g.Wo;
                    const int64_t seg = std::min(T - t, g.Wo - ow0);
                    const int64_t ih = oh * g.sh - g.ph + i * g.dh;
                    float* d = dst + t;
                    if (ih < 0 || ih >= g.H) {
                        std::fill_n(d, seg, 0.f);
                    } else {
                        const float* row = xc + ih * g.W;
                        const int64_t off = j * g.dw - g.pw;  // input column of output column 0
                        const int64_t a = std::clamp(lo, ow0, ow0 + seg), b = std::clamp(hi, a, ow0 + seg);
                        std::fill_n(d, a - ow0, 0.f);
                        if (g.sw == 1)
                            std::copy(row + a + off, row + b + off, d + (a - ow0));
                        else
                            for (int64_t ow = a; ow < b; ++ow) d[ow - ow0] = row[ow * g.sw + off];
                        std::fill_n(d + (b - ow0), ow0 + seg - b, 0.f);
                    }
                    t += seg;
                }
            }
        }
    }
}

// General grouped convolution: tasks over (image, group, tile of output pixels).
// w_bf16: the weight packed for the bf16 GEMM (groups == 1, --precision bf16), else null;
// epi (if any) runs on each finished GEMM block of the output.
inline void conv2d_gemm(const ConvGeom& g, const float* x, const float* w, const float* bias, float* out,
                        const Bf16Packed* w_bf16 = nullptr, const Epilogue* epi = nullptr) {
    const int64_t cg = g.C / g.groups, og = g.O / g.groups, K = cg * g.kh * g.kw, P = g.Ho * g.Wo;
    const bool pointwise = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0;
    // Tile of output pixels: an im2col buffer of about 128k floats, at least 256 columns, and
    // at least 8 tiles per image when that keeps tiles >= 64 wide (work for every thread).
    // Tiles never depend on the thread count and are multiples of 48 (see gemm()), so every
    // output goes through the same GEMM micro-kernel however the work is split.
    int64_t T = std::clamp<int64_t>(131072 / std::max<int64_t>(K, 1), 256, std::max<int64_t>(P, 1));
    if (g.N * g.groups < 8 && P / 8 >= 96) T = std::min(T, P / 8);
    T = std::min(P, (T + 47) / 48 * 48);
    if (pointwise) T = P;  // the input itself is the column matrix; the GEMM splits instead
    const int64_t tiles = (P + T - 1) / T;
    const int64_t tasks = g.N * g.groups * tiles;
    parallel_for(tasks, 1, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t n = t / (g.groups * tiles), gi = (t / tiles) % g.groups, tile = t % tiles;
            const int64_t p0 = tile * T, len = std::min(T, P - p0);
            const float* xg = x + (n * g.C + gi * cg) * g.H * g.W;
            float* og_out = out + (n * g.O + gi * og) * P + p0;
            MatArg bm;
            if (pointwise) {
                bm = {xg + p0, P, false};
            } else {
                float* col = scratch(size_t(K * len), 0);
                im2col_tile(g, xg, cg, p0, len, col);
                bm = {col, len, false};
            }
            // The GEMM's rows are this group's output channels: their bias is added per row.
            gemm_at(w_bf16 != nullptr, og, len, K, {w + gi * og * K, K, false}, bm, og_out, P, false, w_bf16, nullptr,
                    epi, {bias ? bias + gi * og : nullptr, /*per_row=*/true});
        }
    });
}

// Depthwise (one filter per channel): per plane, pad into a scratch buffer, then accumulate
// the kernel taps as vectorisable multiply-adds over output rows.
// epi (if any) runs on each finished plane.
inline void conv2d_depthwise(const ConvGeom& g, const float* x, const float* w, const float* bias, float* out,
                             const Epilogue* epi = nullptr) {
    // K x K, stride 1, no dilation, K = 3, 5, 7: dw_plane_s1 (depthwise_body.inl).
    const bool fast = g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 && g.kh == g.kw &&
                      (g.kw == 7 || g.kw == 3 || g.kw == 5);
    // Padded plane; the fast path reads whole blocks of 8 output rows x up to kDwMaxLanes
    // columns, so round its extent up.
    const int64_t Hp = fast ? std::max(g.H + 2 * g.ph, (g.Ho + 7) / 8 * 8 + g.kh - 1) : g.H + 2 * g.ph;
    const int64_t Wp =
        fast ? std::max(g.W + 2 * g.pw, (g.Wo + kDwMaxLanes - 1) / kDwMaxLanes * kDwMaxLanes + g.kw - 1)
             : g.W + 2 * g.pw;
    const int64_t P = g.Ho * g.Wo;
    parallel_for(g.N * g.C, min_chunk_for(P * g.kh * g.kw), [&](int64_t c0, int64_t c1) {
        float* pad = scratch(size_t(Hp * Wp), 1);
        for (int64_t nc = c0; nc < c1; ++nc) {
            const int64_t c = nc % g.C;
            const float* src = x + nc * g.H * g.W;
            const float* wc = w + c * g.kh * g.kw;
            float* dst = out + nc * P;
            std::fill_n(pad, g.ph * Wp, 0.f);
            for (int64_t h = 0; h < g.H; ++h) {
                float* r = pad + (h + g.ph) * Wp;
                std::fill_n(r, g.pw, 0.f);
                std::copy_n(src + h * g.W, g.W, r + g.pw);
                std::fill(r + g.pw + g.W, r + Wp, 0.f);
            }
            std::fill(pad + (g.H + g.ph) * Wp, pad + Hp * Wp, 0.f);
            const float b = bias ? bias[c] : 0.f;
            if (fast) {
                on_cpu_isa([&](auto isa) { dw_plane_s1(isa, int(g.kw), pad, Wp, wc, b, dst, g.Ho, g.Wo); });
                if (epi) (*epi)(dst, 1, P, P);
                continue;
            }
            // General stride / dilation: one strided multiply-add pass per tap.
            for (int64_t oh = 0; oh < g.Ho; ++oh) {
                float* o = dst + oh * g.Wo;
                std::fill_n(o, g.Wo, b);
                for (int64_t i = 0; i < g.kh; ++i) {
                    const float* row = pad + (oh * g.sh + i * g.dh) * Wp;
                    for (int64_t j = 0; j < g.kw; ++j) {
                        const float wv = w[c * g.kh * g.kw + i * g.kw + j];
                        const float* r = row + j * g.dw;
                        if (g.sw == 1)
                            for (int64_t ow = 0; ow < g.Wo; ++ow) o[ow] += wv * r[ow];
                        else
                            for (int64_t ow = 0; ow < g.Wo; ++ow) o[ow] += wv * r[ow * g.sw];
                    }
                }
            }
            if (epi) (*epi)(dst, 1, P, P);
        }
    });
}

// Channels-last depthwise conv, stride 1 (ops::conv2d_depthwise_nhwc): rows of output pixels
// split across threads, each row by dw_nhwc_rows (depthwise_body.inl) for the active ISA.
inline void conv2d_depthwise_nhwc(const float* x, const float* taps, const float* bias, float* out, int64_t N,
                                  int64_t H, int64_t W, int64_t C, int64_t kh, int64_t kw, int64_t ph, int64_t pw,
                                  int64_t Ho, int64_t Wo) {
    const DwNhwcGeom g{N, H, W, C, kh, kw, ph, pw, Ho, Wo};
    parallel_for(N * Ho, min_chunk_for(Wo * C * kh * kw * 2), [&](int64_t r0, int64_t r1) {
        on_cpu_isa([&](auto isa) { dw_nhwc_rows(isa, g, x, taps, bias, out, r0, r1); });
    });
}

// Transposed convolution: per (image, group, block of output channels) one GEMM
// cols[(o, i, j), (h, w)] = W^T x, then col2im scatter-adds the taps into the output.
inline void conv_transpose2d_gemm(const ConvGeom& g, const float* x, const float* w, const float* bias,
                                  float* out) {
    const int64_t cg = g.C / g.groups, og = g.O / g.groups, kk = g.kh * g.kw, HW = g.H * g.W,
                  P = g.Ho * g.Wo;
    // Output-channel blocks: bounded scratch, and several tasks per image so threads have work.
    // Independent of the thread count, so results do not depend on it.
    int64_t ob = std::max<int64_t>(1, std::min<int64_t>(og, (1 << 18) / std::max<int64_t>(kk * HW, 1)));
    const bool tiles_exactly = g.kh == g.sh && g.kw == g.sw && g.ph == 0 && g.pw == 0 && g.Ho == g.H * g.sh &&
                               g.Wo == g.W * g.sw;
    if (g.N * g.groups < 8) ob = std::min(ob, std::max<int64_t>(1, (og + 7) / 8));
    const int64_t oblocks = (og + ob - 1) / ob;
    const int64_t tasks = g.N * g.groups * oblocks;
    parallel_for(tasks, 1, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t n = t / (g.groups * oblocks), gi = (t / oblocks) % g.groups, blk = t % oblocks;
            const int64_t o0 = blk * ob, nob = std::min(ob, og - o0);
            const float* xg = x + (n * g.C + gi * cg) * HW;
            // Weight of group gi is [cg, og * kk]; its transpose restricted to our channels.
            const float* wg = w + gi * cg * og * kk + o0 * kk;
            float* cols = scratch(size_t(nob * kk * HW), 2);
            gemm(nob * kk, HW, cg, {wg, og * kk, true}, {xg, HW, false}, cols, HW, false);
            for (int64_t o = 0; o < nob; ++o) {
                const int64_t oc = gi * og + o0 + o;
                float* dst = out + (n * g.O + oc) * P;
                const float bv = bias ? bias[oc] : 0.f;
                if (tiles_exactly) {
                    // kernel == stride, no padding: every output pixel is exactly one tap.
                    for (int64_t ih = 0; ih < g.H; ++ih)
                        for (int64_t i = 0; i < g.kh; ++i) {
                            float* orow = dst + (ih * g.sh + i) * g.Wo;
                            for (int64_t j = 0; j < g.kw; ++j) {
                                const float* crow = cols + ((o * g.kh + i) * g.kw + j) * HW + ih * g.W;
                                for (int64_t iw = 0; iw < g.W; ++iw) orow[iw * g.sw + j] = bv + crow[iw];
                            }
                        }
                    continue;
                }
                std::fill_n(dst, P, bv);
                for (int64_t i = 0; i < g.kh; ++i) {
                    int64_t hlo, hhi, wlo, whi;  // input rows/cols whose tap lands inside the output
                    valid_range(g.Ho, g.sh, g.ph, i, g.H, hlo, hhi);
                    for (int64_t j = 0; j < g.kw; ++j) {
                        valid_range(g.Wo, g.sw, g.pw, j, g.W, wlo, whi);
                        const float* c = cols + ((o * g.kh + i) * g.kw + j) * HW;
                        for (int64_t ih = hlo; ih < hhi; ++ih) {
                            float* orow = dst + (ih * g.sh - g.ph + i) * g.Wo;
                            const int64_t off = j - g.pw;
                            const float* crow = c + ih * g.W;
                            for (int64_t iw = wlo; iw < whi; ++iw) orow[iw * g.sw + off] += crow[iw];
                        }
                    }
                }
            }
        }
    });
}

}  // namespace errseg::ops::detail
