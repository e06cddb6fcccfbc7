// Resampling matching torch.nn.functional.interpolate (no antialias).
// The scale is float(in) / float(out) (or (in-1)/(out-1) for align_corners), as PyTorch forms
// it from the output size; source positions and weights are then evaluated in double and the
// weights rounded to float. That reproduces PyTorch's CPU bilinear weights bit for bit where the
// source index is accumulated in double (1.13); newer releases evaluate it in float, which moves
// weights by ~1e-7 relative, far below any tolerance that matters.
#pragma once
#include <cmath>

#include "../core.hpp"
#include "detail/common.hpp"
#include "detail/isa_kernels.hpp"

namespace errseg::ops {

namespace detail {

// Per-output-index taps along one axis: `n` input indices and weights per output position.
struct AxisTaps {
    int n = 0;
    std::vector<int64_t> idx;
    std::vector<float> w;
};

inline double resize_scale(int64_t in, int64_t out, bool align_corners) {
    if (align_corners) return out > 1 ? double(float(in - 1) / float(out - 1)) : 0.0;
    return double(float(in) / float(out));
}

inline AxisTaps linear_taps(int64_t in, int64_t out, bool align_corners) {
    AxisTaps t;
    t.n = 2;
    t.idx.resize(size_t(out * 2));
    t.w.resize(size_t(out * 2));
    const double scale = resize_scale(in, out, align_corners);
    for (int64_t o = 0; o < out; ++o) {
        int64_t i0, i1;
        float l1;
        if (in == out) {  // identity, as PyTorch special-cases it
            i0 = i1 = o;
            l1 = 0.f;
        } else {
            double src = align_corners ? scale * double(o) : scale * (double(o) + 0.5) - 0.5;
            if (src < 0.0) src = 0.0;  // only reachable without align_corners
            i0 = std::min(int64_t(src), in - 1);  // src >= 0, so truncation is floor
            i1 = i0 + (i0 < in - 1 ? 1 : 0);
            l1 = float(std::min(std::max(src - double(i0), 0.0), 1.0));
        }
        t.idx[size_t(2 * o)] = i0;
        t.idx[size_t(2 * o + 1)] = i1;
        t.w[size_t(2 * o)] = 1.f - l1;
        t.w[size_t(2 * o + 1)] = l1;
    }
    return t;
}

// Keys cubic convolution with A = -0.75 (PyTorch's upsample_bicubic2d), taps clamped to the border.
inline AxisTaps cubic_taps(int64_t in, int64_t out, bool align_corners) {
    AxisTaps t;
    t.n = 4;
    t.idx.resize(size_t(out * 4));
    t.w.resize(size_t(out * 4));
    const double A = -0.75;
    auto conv1 = [A](double x) { return ((A + 2) * x - (A + 3)) * x * x + 1; };     // |x| <= 1
    auto conv2 = [A](double x) { return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; };  // 1 < |x| < 2
    const double scale = resize_scale(in, out, align_corners);
    for (int64_t o = 0; o < out; ++o) {
        // No clamping of negative source positions for cubic.
        const double src = align_corners ? scale * double(o) : scale * (double(o) + 0.5) - 0.5;
        const double f = std::floor(src);
        const int64_t i = int64_t(f);
        const double x = src - f;
        const double w[4] = {conv2(x + 1), conv1(x), conv1(1 - x), conv2(2 - x)};
        for (int k = 0; k < 4; ++k) {
            t.idx[size_t(4 * o + k)] = std::clamp<int64_t>(i - 1 + k, 0, in - 1);
            t.w[size_t(4 * o + k)] = float(w[k]);
        }
    }
    return t;
}

// Separable resampling of every [H, W] plane: out = sum_y wy * (sum_x wx * in[y, x]), the
// same products and summation order as PyTorch's CPU kernel. The horizontal pass is done once
// per needed input row (and reused by every output row that reads it), then output rows are
// vectorised blends of those rows.
inline Tensor resample(const Tensor& x_in, int64_t out_h, int64_t out_w, bool align_corners, bool cubic,
                       const char* op) {
    check_dim(x_in, 4, op, "input", "[N, C, H, W]");
    ERRSEG_CHECK(out_h > 0 && out_w > 0, op, ": output size ", out_h, "x", out_w, " must be positive");
    const int64_t N = x_in.size(0), C = x_in.size(1), H = x_in.size(2), W = x_in.size(3);
    ERRSEG_CHECK(H > 0 && W > 0, op, ": input ", shape_str(x_in.shape()), " has an empty spatial size");
    Tensor x = f32_contig(x_in, op);
    Tensor out = Tensor::empty({N, C, out_h, out_w});
    if (out.numel() == 0) return out;
    const AxisTaps ty = cubic ? cubic_taps(H, out_h, align_corners) : linear_taps(H, out_h, align_corners);
    const AxisTaps tx = cubic ? cubic_taps(W, out_w, align_corners) : linear_taps(W, out_w, align_corners);
    ERRSEG_CHECK(W <= INT32_MAX, op, ": input width ", W, " is too large (at most 2^31 - 1)");
    // The horizontal taps, planar (tap t of output o at t * out_w + o) with 32-bit indices.
    const int n = tx.n;
    std::vector<int32_t> hidx(size_t(n * out_w));
    std::vector<float> hw(size_t(n * out_w));
    for (int64_t o = 0; o < out_w; ++o)
        for (int t = 0; t < n; ++t) {
            hidx[size_t(t * out_w + o)] = int32_t(tx.idx[size_t(o * n + t)]);
            hw[size_t(t * out_w + o)] = tx.w[size_t(o * n + t)];
        }
    const float* src = cdata(x);
    float* dst = out.data<float>();
    constexpr int64_t kRows = 32;  // output rows per task
    const int64_t rblocks = (out_h + kRows - 1) / kRows;
    parallel_for(N * C * rblocks, 1, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t plane = t / rblocks, oy0 = (t % rblocks) * kRows, oy1 = std::min(out_h, oy0 + kRows);
            const float* in = src + plane * H * W;
            // Input rows this block reads (taps are monotone in the output index).
            int64_t y0 = H, y1 = 0;
            for (int64_t oy = oy0; oy < oy1; ++oy)
                for (int a = 0; a < n; ++a) {
                    y0 = std::min(y0, ty.idx[size_t(oy * n + a)]);
                    y1 = std::max(y1, ty.idx[size_t(oy * n + a)] + 1);
                }
            float* rows = scratch(size_t((y1 - y0) * out_w), 0);
            for (int64_t y = y0; y < y1; ++y)
                on_cpu_isa([&](auto isa) {
                    resample_row(isa, in + y * W, hidx.data(), hw.data(), n, out_w, rows + (y - y0) * out_w);
                });
            for (int64_t oy = oy0; oy < oy1; ++oy) {
                const float* taps[4];  // n <= 4
                for (int a = 0; a < n; ++a) taps[a] = rows + (ty.idx[size_t(oy * n + a)] - y0) * out_w;
                on_cpu_isa([&](auto isa) {
                    resample_blend(isa, taps, &ty.w[size_t(oy * n)], n, out_w, dst + (plane * out_h + oy) * out_w);
                });
            }
        }
    });
    return out;
}

}  // namespace detail

// x [N, C, H, W] -> [N, C, out_h, out_w], mode='bilinear'.
inline Tensor resize_bilinear(const Tensor& x, int64_t out_h, int64_t out_w, bool align_corners) {
    return detail::resample(x, out_h, out_w, align_corners, false, "resize_bilinear");
}

// mode='bicubic' (A = -0.75, border-clamped taps), as F.interpolate.
inline Tensor resize_bicubic(const Tensor& x, int64_t out_h, int64_t out_w, bool align_corners) {
    return detail::resample(x, out_h, out_w, align_corners, true, "resize_bicubic");
}

}  // namespace errseg::ops
