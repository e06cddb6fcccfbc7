#pragma once
#include <limits>

#include "../core.hpp"
#include "detail/common.hpp"
#include "detail/isa_kernels.hpp"

namespace errseg::ops {

namespace detail {

// In-place stable softmax of one contiguous row: exp(x - max) / sum. A row that is entirely
// -inf (fully masked) becomes NaN, as in PyTorch. (vmath_body.inl, for the active ISA.)
inline void softmax_row(float* x, int64_t n) {
    on_cpu_isa([&](auto isa) { softmax_row(isa, x, n); });
}

}  // namespace detail

// Numerically stable softmax over dimension dim (default last).
inline Tensor softmax(const Tensor& x_in, int64_t dim = -1) {
    Tensor x = detail::f32_contig(x_in, "softmax");
    ERRSEG_CHECK(x.dim() >= 1, "softmax: input must have at least one dimension, got ", shape_str(x.shape()));
    dim = x.wrap_dim(dim);
    Tensor out = x.clone();
    if (out.numel() == 0) return out;
    const int64_t D = x.size(dim);
    int64_t inner = 1;
    for (int64_t i = dim + 1; i < x.dim(); ++i) inner *= x.size(i);
    const int64_t outer = x.numel() / (D * inner);
    float* o = out.data<float>();
    if (inner == 1) {
        parallel_for(outer, detail::min_chunk_for(D * 8), [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r) detail::softmax_row(o + r * D, D);
        });
        return out;
    }
    // Softmax along a middle dim: work on [D, inner] slabs, vectorised along `inner`.
    const int64_t tile = 256;
    const int64_t tiles = (inner + tile - 1) / tile;
    parallel_for(outer * tiles, detail::min_chunk_for(D * tile * 8), [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
            float* base = o + (t / tiles) * D * inner + (t % tiles) * tile;
            const int64_t w = std::min(tile, inner - (t % tiles) * tile);
            float mx[tile], sum[tile];
            std::fill_n(mx, w, -std::numeric_limits<float>::infinity());
            std::fill_n(sum, w, 0.f);
            for (int64_t d = 0; d < D; ++d)
                for (int64_t j = 0; j < w; ++j) mx[j] = std::max(mx[j], base[d * inner + j]);
            for (int64_t d = 0; d < D; ++d) {
                float* r = base + d * inner;
                for (int64_t j = 0; j < w; ++j) r[j] -= mx[j];
                detail::on_cpu_isa([&](auto isa) { exp_block(isa, r, r, w); });
                for (int64_t j = 0; j < w; ++j) sum[j] += r[j];
            }
            for (int64_t j = 0; j < w; ++j) sum[j] = 1.f / sum[j];
            for (int64_t d = 0; d < D; ++d) detail::MapArr(base + d * inner, w) *= detail::MapArr(sum, w);
        }
    });
    return out;
}

}  // namespace errseg::ops
