// H1 — cost maps: cosine similarity between every pixel's dense CLIP feature and every class
// text embedding (spec §2.7, row H1).
//
//   F̂ = F / max(‖F‖₂ over channels, 1e-12)  per pixel        (F.normalize(dim=1))
//   Ê = E / max(‖E‖₂, 1e-12)               per class         (F.normalize(dim=-1))
//   C[t, h, w] = Σ_c F̂[c, h, w] · Ê[t, c]                    (einsum bchw,btpc->bpthw, P = 1)
//
// The text embeddings arrive already L2-normalised; upstream normalises them again here and so
// do we. Cost maps are independent per class, so a caller may compute them only for the classes
// it needs (the stride-32 map is only ever used for the K classes CRM keeps).
#pragma once
#include <vector>

#include "../../backend/cpu_backend.hpp"
#include "../../core.hpp"

namespace errseg::models {

// Per-pixel unit-norm features: [1, C, H, W] or [C, H, W] -> [H*W, C] (row-major pixels).
template <class B = CpuBackend>
typename B::Tensor normalized_pixel_features(const typename B::Tensor& features) {
    const typename B::Tensor f = features.dim() == 4 ? B::select0(features, 0) : features;
    ERRSEG_CHECK(f.dim() == 3, "cost map: features must be [1, C, H, W] or [C, H, W], got ",
                 shape_str(features.shape()));
    const int64_t C = f.size(0), H = f.size(1), W = f.size(2);
    const typename B::Tensor pixels = B::permute(B::contiguous(f).reshape({C, H * W}), {1, 0});  // [HW, C]
    return B::l2_normalize(pixels, 1e-12f);
}

// Cost map between dense features [1, C, H, W] (or [C, H, W]) and text embeddings [T, C]
// -> [T, H, W].
template <class B = CpuBackend>
typename B::Tensor cost_map(const typename B::Tensor& features, const typename B::Tensor& text) {
    ERRSEG_CHECK(text.dim() == 2, "cost map: text embeddings must be [T, C], got ", shape_str(text.shape()));
    const typename B::Tensor f = features.dim() == 4 ? B::select0(features, 0) : features;
    ERRSEG_CHECK(f.dim() == 3 && f.size(0) == text.size(1), "cost map: features ",
                 shape_str(features.shape()), " and text ", shape_str(text.shape()),
                 " disagree on the channel count");
    const int64_t H = f.size(1), W = f.size(2);
    const typename B::Tensor pixels = normalized_pixel_features<B>(f);  // [HW, C]
    const typename B::Tensor classes = B::l2_normalize(text, 1e-12f);    // [T, C]
    return B::matmul(classes, pixels, /*trans_b=*/true).reshape({text.size(0), H, W});
}

}  // namespace errseg::models
