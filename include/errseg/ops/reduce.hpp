// Reductions and selection with PyTorch's tie rules.
#pragma once
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "../core.hpp"
#include "detail/common.hpp"

namespace errseg::ops {

namespace detail {

// x viewed as [outer, D, inner] around dimension dim (core/shape.hpp).
inline DimSplit split_at(const Tensor& x, int64_t dim) { return errseg::split_at(x.shape(), dim); }

// "a ranks before b" for topk: larger first, NaN largest (as torch), ties -> lower index.
inline bool ranks_before(float va, int64_t a, float vb, int64_t b) {
    const bool na = std::isnan(va), nb = std::isnan(vb);
    if (na != nb) return na;
    if (!na && va != vb) return va > vb;
    return a < b;
}

inline Tensor reduce_sum(const Tensor& x_in, int64_t dim, bool mean, const char* op) {
    Tensor x = f32_contig(x_in, op);
    ERRSEG_CHECK(x.dim() >= 1, op, ": input must have at least one dimension");
    dim = x.wrap_dim(dim);
    const DimSplit s = split_at(x, dim);
    Tensor out = Tensor::empty(s.reduced);
    if (out.numel() == 0) return out;
    const float* src = cdata(x);
    float* dst = out.data<float>();
    const double scale = mean ? 1.0 / double(s.D) : 1.0;  // mean of an empty dim is NaN, as torch
    // Double accumulators: sums over long dims stay accurate to fp32 rounding.
    parallel_for(s.outer, min_chunk_for(s.D * s.inner), [&](int64_t o0, int64_t o1) {
        std::vector<double> acc(size_t(s.inner));
        for (int64_t o = o0; o < o1; ++o) {
            const float* base = src + o * s.D * s.inner;
            if (s.inner == 1) {
                dst[o] = float(MapCArr(base, s.D).cast<double>().sum() * (mean ? scale : 1.0));
                if (mean && s.D == 0) dst[o] = NAN;
                continue;
            }
            std::fill(acc.begin(), acc.end(), 0.0);
            for (int64_t d = 0; d < s.D; ++d)
                for (int64_t i = 0; i < s.inner; ++i) acc[size_t(i)] += base[d * s.inner + i];
            for (int64_t i = 0; i < s.inner; ++i)
                dst[o * s.inner + i] = (mean && s.D == 0) ? NAN : float(acc[size_t(i)] * scale);
        }
    });
    return out;
}

}  // namespace detail

// argmax over dim (first maximal index, as torch.argmax; NaN counts as maximal) -> int64 tensor
// without that dim.
inline Tensor argmax(const Tensor& x_in, int64_t dim) {
    Tensor x = detail::f32_contig(x_in, "argmax");
    ERRSEG_CHECK(x.dim() >= 1, "argmax: input must have at least one dimension");
    dim = x.wrap_dim(dim);
    const DimSplit s = detail::split_at(x, dim);
    ERRSEG_CHECK(s.D > 0, "argmax: dim ", dim, " of ", shape_str(x.shape()), " is empty");
    Tensor out = Tensor::empty(s.reduced, DType::I64);
    if (out.numel() == 0) return out;
    const float* src = detail::cdata(x);
    int64_t* dst = out.data<int64_t>();
    parallel_for(s.outer, detail::min_chunk_for(s.D * s.inner), [&](int64_t o0, int64_t o1) {
        std::vector<float> best(size_t(s.inner));
        for (int64_t o = o0; o < o1; ++o) {
            const float* base = src + o * s.D * s.inner;
            int64_t* idx = dst + o * s.inner;
            for (int64_t i = 0; i < s.inner; ++i) {
                best[size_t(i)] = base[i];
                idx[i] = 0;
            }
            for (int64_t d = 1; d < s.D; ++d)
                for (int64_t i = 0; i < s.inner; ++i) {
                    const float v = base[d * s.inner + i], b = best[size_t(i)];
                    // Strictly greater keeps the first maximum; a NaN wins once and stays.
                    if (v > b || (std::isnan(v) && !std::isnan(b))) {
                        best[size_t(i)] = v;
                        idx[i] = d;
                    }
                }
        }
    });
    return out;
}

struct TopK {
    Tensor values;   // float32 [..., k]
    Tensor indices;  // int64   [..., k]
};

// Largest k along the last dim, in descending order; ties -> lower index first.
inline TopK topk(const Tensor& x_in, int64_t k) {
    Tensor x = detail::f32_contig(x_in, "topk");
    ERRSEG_CHECK(x.dim() >= 1, "topk: input must have at least one dimension");
    const int64_t D = x.size(-1);
    ERRSEG_CHECK(k >= 0 && k <= D, "topk: k=", k, " out of range for last dim of ", shape_str(x.shape()));
    Shape os = x.shape();
    os.back() = k;
    TopK r{Tensor::empty(os), Tensor::empty(os, DType::I64)};
    if (r.values.numel() == 0) return r;
    const int64_t rows = x.numel() / D;
    const float* src = detail::cdata(x);
    float* vals = r.values.data<float>();
    int64_t* idxs = r.indices.data<int64_t>();
    parallel_for(rows, detail::min_chunk_for(D * 4), [&](int64_t r0, int64_t r1) {
        std::vector<int64_t> order(static_cast<size_t>(D));
        for (int64_t row = r0; row < r1; ++row) {
            const float* v = src + row * D;
            std::iota(order.begin(), order.end(), int64_t(0));
            std::partial_sort(order.begin(), order.begin() + k, order.end(), [v](int64_t a, int64_t b) {
                return detail::ranks_before(v[a], a, v[b], b);
            });
            for (int64_t j = 0; j < k; ++j) {
                vals[row * k + j] = v[order[size_t(j)]];
                idxs[row * k + j] = order[size_t(j)];
            }
        }
    });
    return r;
}

// Sum / mean over one dim (dim removed).
inline Tensor sum(const Tensor& x, int64_t dim) { return detail::reduce_sum(x, dim, false, "sum"); }
inline Tensor mean(const Tensor& x, int64_t dim) { return detail::reduce_sum(x, dim, true, "mean"); }

}  // namespace errseg::ops
