// ERR-Seg image preprocessing (spec §2.2): RGB 0–255 float, per-channel (x − mean) / std with the
// model's statistics, then a bilinear (align_corners = False, no antialias) resize to the S x S
// network input. Normalise first, then resize — the order upstream uses (it matters only at
// rounding level). The aspect ratio is not kept.
//
// Not done here: detectron2's test-time ResizeShortestEdge(800, 1333) with PIL's antialiased
// bilinear on uint8 (spec §2.1); results differ slightly from the published protocol for that.
#pragma once
#include "../../core.hpp"
#include "../../io/image.hpp"
#include "../../ops.hpp"
#include "config.hpp"

namespace errseg::models {

// [1, 3, H, W] RGB 0..255 -> (x − mean) / std per channel (float32, subtraction then division).
inline Tensor normalize_image(const Tensor& rgb, const ErrSegInputConfig& cfg) {
    ERRSEG_CHECK(rgb.dim() == 4 && rgb.size(0) == 1 && rgb.size(1) == 3, "ERR-Seg preprocess: expected a ",
                 "[1, 3, H, W] RGB tensor, got ", shape_str(rgb.shape()));
    Tensor out = rgb.to_f32().clone();
    const int64_t plane = out.size(2) * out.size(3);
    float* d = out.data<float>();
    for (int64_t c = 0; c < 3; ++c) {
        const float mean = cfg.pixel_mean[c], std = cfg.pixel_std[c];
        float* p = d + c * plane;
        for (int64_t i = 0; i < plane; ++i) p[i] = (p[i] - mean) / std;
    }
    return out;
}

// The network input [1, 3, S, S] for an RGB tensor [1, 3, H, W] with values 0..255.
inline Tensor preprocess_image(const Tensor& rgb, const ErrSegInputConfig& cfg) {
    const Tensor normalized = normalize_image(rgb, cfg);
    if (normalized.size(2) == cfg.crop_size && normalized.size(3) == cfg.crop_size) return normalized;
    return ops::resize_bilinear(normalized, cfg.crop_size, cfg.crop_size, /*align_corners=*/false);
}

inline Tensor preprocess_image(const Image& image, const ErrSegInputConfig& cfg) {
    return preprocess_image(image_to_tensor(image), cfg);
}

}  // namespace errseg::models
