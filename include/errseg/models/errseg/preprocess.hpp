// ERR-Seg image preprocessing (spec §2.2): RGB 0–255 float, per-channel (x − mean) / std with the
// model's statistics, then a bilinear (align_corners = False, no antialias) resize to the S x S
// network input. Normalise first, then resize — the order upstream uses (it matters only at
// rounding level). The aspect ratio is not kept.
//
// Optionally first (SegmentOptions::upstream_resize): the data loader's resize of the published
// evaluation (spec §2.1), detectron2's ResizeShortestEdge(800, max_size 1333) with PIL's
// antialiased bilinear on the 8-bit image. Without it the network input comes from the original
// pixels through one resampling instead of two (labels differ slightly, mostly along edges).
#pragma once
#include "../../core.hpp"
#include "../../io/image.hpp"
#include "../../ops.hpp"
#include "../preprocess.hpp"
#include "config.hpp"

namespace errseg::models {

// detectron2 ResizeShortestEdge.get_output_shape: the short side becomes `short_edge`, unless
// the long side would then exceed `max_size`, in which case the long side becomes `max_size`;
// sizes rounded half up. Returns {width, height}.
inline std::array<int, 2> shortest_edge_size(int width, int height, int short_edge = 800, int max_size = 1333) {
    ERRSEG_CHECK(width > 0 && height > 0 && short_edge > 0 && max_size > 0, "shortest_edge_size: invalid sizes");
    const double scale = double(short_edge) / double(std::min(width, height));
    double h = height < width ? double(short_edge) : scale * height;
    double w = height < width ? scale * width : double(short_edge);
    if (std::max(h, w) > double(max_size)) {
        const double s = double(max_size) / std::max(h, w);
        h *= s;
        w *= s;
    }
    return {int(w + 0.5), int(h + 0.5)};
}

// The published evaluation's data-loader resize (spec §2.1): PIL bilinear to shortest_edge_size.
inline Image upstream_test_resize(const Image& image) {
    const auto wh = shortest_edge_size(image.width, image.height);
    if (wh[0] == image.width && wh[1] == image.height) return image;
    return resize_pil(image, wh[0], wh[1], resample::Filter::Bilinear);
}

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
