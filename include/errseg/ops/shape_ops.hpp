// Copies that change layout: padding, concatenation, gather along an axis.
#pragma once
#include <vector>

#include "../core.hpp"
#include "detail/common.hpp"

namespace errseg::ops {

// Constant pad of the last two dims of [..., H, W] (F.pad(x, (left, right, top, bottom))).
// Negative amounts crop, as in F.pad.
inline Tensor pad2d(const Tensor& x_in, int left, int right, int top, int bottom, float value = 0.f) {
    ERRSEG_CHECK(x_in.defined() && x_in.dim() >= 2, "pad2d: input must be [..., H, W], got ",
                 x_in.defined() ? shape_str(x_in.shape()) : std::string("undefined"));
    Tensor x = detail::f32_contig(x_in, "pad2d");
    const int64_t H = x.size(-2), W = x.size(-1);
    const int64_t Ho = H + top + bottom, Wo = W + left + right;
    ERRSEG_CHECK(Ho >= 0 && Wo >= 0, "pad2d: padding (", left, ", ", right, ", ", top, ", ", bottom,
                 ") of ", shape_str(x.shape()), " gives a negative size");
    Shape os = x.shape();
    os[os.size() - 2] = Ho;
    os[os.size() - 1] = Wo;
    Tensor out = Tensor::empty(os);
    if (out.numel() == 0) return out;
    const int64_t planes = out.numel() / (Ho * Wo);
    const float* src = detail::cdata(x);
    float* dst = out.data<float>();
    // Source columns [c0, c1) land at output columns [c0 + left, c1 + left).
    const int64_t c0 = std::max<int64_t>(0, -left), c1 = std::min<int64_t>(W, Wo - left);
    parallel_for(planes * Ho, detail::min_chunk_for(Wo), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const int64_t pl = r / Ho, oh = r % Ho, ih = oh - top;
            float* o = dst + r * Wo;
            if (ih < 0 || ih >= H || c1 <= c0) {
                std::fill_n(o, Wo, value);
                continue;
            }
            const float* in = src + (pl * H + ih) * W;
            std::fill_n(o, c0 + left, value);
            std::copy(in + c0, in + c1, o + c0 + left);
            std::fill(o + c1 + left, o + Wo, value);
        }
    });
    return out;
}

// torch.cat along dim; all other dims must match.
inline Tensor concat(const std::vector<Tensor>& xs_in, int64_t dim) {
    ERRSEG_CHECK(!xs_in.empty(), "concat: no tensors given");
    const Tensor& first = xs_in[0];
    ERRSEG_CHECK(first.defined() && first.dim() >= 1, "concat: inputs must have at least one dimension");
    dim = first.wrap_dim(dim);
    std::vector<Tensor> xs;
    Shape os = first.shape();
    os[size_t(dim)] = 0;
    for (size_t i = 0; i < xs_in.size(); ++i) {
        const Tensor& t = xs_in[i];
        ERRSEG_CHECK(t.defined(), "concat: input ", i, " is undefined");
        bool ok = t.dim() == first.dim();
        for (int64_t d = 0; ok && d < t.dim(); ++d) ok = d == dim || t.size(d) == first.size(d);
        ERRSEG_CHECK(ok, "concat along dim ", dim, ": input ", i, " has shape ", shape_str(t.shape()),
                     ", input 0 has ", shape_str(first.shape()));
        os[size_t(dim)] += t.size(dim);
        xs.push_back(detail::f32_contig(t, "concat"));
    }
    Tensor out = Tensor::empty(os);
    if (out.numel() == 0) return out;
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < dim; ++d) outer *= os[size_t(d)];
    for (int64_t d = dim + 1; d < int64_t(os.size()); ++d) inner *= os[size_t(d)];
    const int64_t orow = os[size_t(dim)] * inner;  // elements per outer index in the output
    float* dst = out.data<float>();
    int64_t off = 0;
    for (const Tensor& t : xs) {
        const int64_t row = t.size(dim) * inner;
        const float* src = detail::cdata(t);
        parallel_for(outer, detail::min_chunk_for(row), [&](int64_t a, int64_t b) {
            for (int64_t o = a; o < b; ++o) std::copy_n(src + o * row, row, dst + o * orow + off);
        });
        off += row;
    }
    return out;
}

// x.index_select(dim, indices): indices are int64 values in [0, size).
inline Tensor index_select(const Tensor& x_in, int64_t dim, const std::vector<int64_t>& indices) {
    ERRSEG_CHECK(x_in.defined() && x_in.dim() >= 1, "index_select: input must have at least one dimension");
    Tensor x = detail::f32_contig(x_in, "index_select");
    dim = x.wrap_dim(dim);
    const int64_t D = x.size(dim);
    for (int64_t i : indices)
        ERRSEG_CHECK(i >= 0 && i < D, "index_select: index ", i, " out of range for dim ", dim, " of ",
                     shape_str(x.shape()));
    Shape os = x.shape();
    os[size_t(dim)] = int64_t(indices.size());
    Tensor out = Tensor::empty(os);
    if (out.numel() == 0) return out;
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < dim; ++d) outer *= os[size_t(d)];
    for (int64_t d = dim + 1; d < x.dim(); ++d) inner *= os[size_t(d)];
    const int64_t K = int64_t(indices.size());
    const float* src = detail::cdata(x);
    float* dst = out.data<float>();
    parallel_for(outer * K, detail::min_chunk_for(inner), [&](int64_t a, int64_t b) {
        for (int64_t r = a; r < b; ++r) {
            const int64_t o = r / K, k = r % K;
            std::copy_n(src + (o * D + indices[size_t(k)]) * inner, inner, dst + r * inner);
        }
    });
    return out;
}

}  // namespace errseg::ops
