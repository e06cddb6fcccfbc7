// Normalisations, computed in fp32 with PyTorch's biased variance.
// Accuracy: statistics are taken of the data shifted by its first element (x - x0 is small and
// nearly exact when the mean is large relative to the spread, where a plain fp32 mean would
// lose the spread), in two passes (mean, then mean squared deviation), with short vectorised
// fp32 partial sums combined in double so long groups (GroupNorm over 100k+ values) stay exact
// to fp32 rounding.
#pragma once
#include <cmath>

#include "../core.hpp"
#include "detail/common.hpp"
#include "detail/epilogue.hpp"
#include "detail/isa_kernels.hpp"

namespace errseg::ops {

namespace detail {

// sum(p[i] - shift) over n values (norm_body.inl, active ISA).
inline double shifted_sum(const float* p, int64_t n, float shift) {
    return on_cpu_isa([&](auto isa) { return shifted_sum(isa, p, n, shift); });
}

// sum(((p[i] - shift) - m)^2) over n values.
inline double shifted_sq_dev(const float* p, int64_t n, float shift, float m) {
    return on_cpu_isa([&](auto isa) { return shifted_sq_dev(isa, p, n, shift, m); });
}

}  // namespace detail

// Over the last dimension. weight/bias [D] (either may be undefined = 1/0).
inline Tensor layer_norm(const Tensor& x_in, const Tensor& weight, const Tensor& bias, float eps) {
    Tensor x = detail::f32_contig(x_in, "layer_norm");
    ERRSEG_CHECK(x.dim() >= 1, "layer_norm: input must have at least one dimension");
    const int64_t D = x.size(-1);
    Tensor wk, bk;
    const float* w = detail::optional_vec(weight, D, "layer_norm", "weight", wk);
    const float* b = detail::optional_vec(bias, D, "layer_norm", "bias", bk);
    Tensor out = Tensor::empty(x.shape());
    if (out.numel() == 0) return out;
    const int64_t rows = x.numel() / D;
    const float* src = detail::cdata(x);
    float* dst = out.data<float>();
    parallel_for(rows, detail::min_chunk_for(D * 4), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const float* in = src + r * D;
            const float shift = in[0];
            const float m = float(detail::shifted_sum(in, D, shift) / double(D));
            const float var = float(detail::shifted_sq_dev(in, D, shift, m) / double(D));
            const float rstd = 1.f / std::sqrt(var + eps);
            detail::on_cpu_isa([&](auto isa) { norm_affine(isa, in, dst + r * D, D, shift, m, rstd, w, b); });
        }
    });
    return out;
}

// "LayerNorm2d" (timm/ConvNeXt, detectron2): x [N, C, H, W] normalised over C at each pixel.
inline Tensor layer_norm2d(const Tensor& x_in, const Tensor& weight, const Tensor& bias, float eps) {
    detail::check_dim(x_in, 4, "layer_norm2d", "input", "[N, C, H, W]");
    Tensor x = detail::f32_contig(x_in, "layer_norm2d");
    const int64_t N = x.size(0), C = x.size(1), P = x.size(2) * x.size(3);
    Tensor wk, bk;
    const float* w = detail::optional_vec(weight, C, "layer_norm2d", "weight", wk);
    const float* b = detail::optional_vec(bias, C, "layer_norm2d", "bias", bk);
    Tensor out = Tensor::empty(x.shape());
    if (out.numel() == 0) return out;
    const float* src = detail::cdata(x);
    float* dst = out.data<float>();
    // Channels are strided by P: tiles of pixels, vectorised across pixels.
    constexpr int64_t kTile = detail::kLn2dTile;
    const int64_t tiles = (P + kTile - 1) / kTile;
    parallel_for(N * tiles, detail::min_chunk_for(C * kTile * 3), [&](int64_t t0, int64_t t1) {
        detail::on_cpu_isa([&](auto isa) {
            for (int64_t t = t0; t < t1; ++t) {
                const int64_t n = t / tiles, p0 = (t % tiles) * kTile, off = n * C * P + p0;
                layer_norm2d_pixels(isa, src + off, dst + off, C, P, std::min(kTile, P - p0), w, b, eps);
            }
        });
    });
    return out;
}

// nn.GroupNorm: x [N, C, ...], C divisible by groups.
// Fused: act(group_norm(x)) + residual (residual of x's shape, of it without dim 0, or undefined), applied to each
// (n, c) plane as it is written (ERR-Seg's up-decoder: group_norm -> relu).
inline Tensor group_norm(const Tensor& x_in, int groups, const Tensor& weight, const Tensor& bias, float eps,
                         Activation act = Activation::None, const Tensor& residual = Tensor()) {
    ERRSEG_CHECK(x_in.defined() && x_in.dim() >= 2, "group_norm: input must be [N, C, ...], got ",
                 x_in.defined() ? shape_str(x_in.shape()) : std::string("undefined"));
    Tensor x = detail::f32_contig(x_in, "group_norm");
    const int64_t N = x.size(0), C = x.size(1);
    ERRSEG_CHECK(groups > 0 && C % groups == 0, "group_norm: ", C, " channels of ", shape_str(x.shape()),
                 " are not divisible into ", groups, " groups");
    const int64_t P = C > 0 ? x.numel() / (N * C) : 0, cg = C / groups, len = cg * P;
    Tensor wk, bk;
    const float* w = detail::optional_vec(weight, C, "group_norm", "weight", wk);
    const float* b = detail::optional_vec(bias, C, "group_norm", "bias", bk);
    Tensor out = Tensor::empty(x.shape());
    Tensor rkeep;
    const detail::Epilogue epi = detail::make_epilogue(act, residual, out, "group_norm", rkeep);
    if (out.numel() == 0) return out;
    const float* src = detail::cdata(x);
    float* dst = out.data<float>();
    // Per group: shift (its first value), mean of the shifted data, 1/std.
    std::vector<float> gshift(size_t(N * groups)), gmean(size_t(N * groups)), grstd(size_t(N * groups));
    parallel_for(N * groups, detail::min_chunk_for(len * 2), [&](int64_t g0, int64_t g1) {
        for (int64_t g = g0; g < g1; ++g) {
            const float* p = src + g * len;
            const float shift = p[0];
            const float m = float(detail::shifted_sum(p, len, shift) / double(len));
            const double var = detail::shifted_sq_dev(p, len, shift, m) / double(len);
            gshift[size_t(g)] = shift;
            gmean[size_t(g)] = m;
            grstd[size_t(g)] = float(1.0 / std::sqrt(var + double(eps)));
        }
    });
    // Apply per (n, c) plane.
    parallel_for(N * C, detail::min_chunk_for(P), [&](int64_t p0, int64_t p1) {
        for (int64_t nc = p0; nc < p1; ++nc) {
            const int64_t n = nc / C, c = nc % C, g = n * groups + c / cg;
            const float s = grstd[size_t(g)] * (w ? w[c] : 1.f);
            const float k = gshift[size_t(g)], m = gmean[size_t(g)], sh = b ? b[c] : 0.f;
            detail::on_cpu_isa([&](auto isa) { plane_affine(isa, src + nc * P, dst + nc * P, P, k, m, s, sh); });
            if (!epi.empty()) epi(dst + nc * P, 1, P, P);
        }
    });
    return out;
}

// Rows scaled to unit L2 norm along the last dim (F.normalize, eps 1e-12): x / max(||x||, eps).
inline Tensor l2_normalize(const Tensor& x_in, float eps = 1e-12f) {
    Tensor x = detail::f32_contig(x_in, "l2_normalize");
    ERRSEG_CHECK(x.dim() >= 1, "l2_normalize: input must have at least one dimension");
    const int64_t D = x.size(-1);
    Tensor out = Tensor::empty(x.shape());
    if (out.numel() == 0) return out;
    const int64_t rows = x.numel() / D;
    const float* src = detail::cdata(x);
    float* dst = out.data<float>();
    parallel_for(rows, detail::min_chunk_for(D * 2), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            detail::MapCArr in(src + r * D, D);
            const float nrm = std::max(std::sqrt(in.square().sum()), eps);
            detail::MapArr(dst + r * D, D) = in / nrm;
        }
    });
    return out;
}

// Rows of x [R, C] divided by their L2 norm, no epsilon (upstream's x / x.norm(dim=-1), as
// ERR-Seg normalises text embeddings); the sum of squares in double.
inline Tensor normalize_rows(const Tensor& x) {
    ERRSEG_CHECK(x.dim() == 2, "normalize_rows: expected [R, C], got ", shape_str(x.shape()));
    Tensor out = x.to_f32().clone();
    const int64_t rows = out.size(0), cols = out.size(1);
    float* d = out.data<float>();
    for (int64_t r = 0; r < rows; ++r) {
        float* row = d + r * cols;
        double sq = 0.0;
        for (int64_t c = 0; c < cols; ++c) sq += double(row[c]) * double(row[c]);
        const float norm = float(std::sqrt(sq));
        for (int64_t c = 0; c < cols; ++c) row[c] = row[c] / norm;
    }
    return out;
}

}  // namespace errseg::ops
