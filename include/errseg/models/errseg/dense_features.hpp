// What the ERR-Seg head consumes from the CLIP image tower in "dense" mode (spec §2.3–2.5):
// the four raw ConvNeXt stage outputs (used as guidance) and the two per-pixel projected
// feature maps (used for the cost maps). Batch 1, NCHW; T is the backend's tensor type.
#pragma once
#include "../../core.hpp"

namespace errseg::models {

template <class T>
struct DenseFeaturesOf {
    T os4, os8, os16, os32;  // stage 0..3 outputs [1, d_s, S/4 .. S/32]
    T os16_dense;            // HSM stride-16 path, projected per pixel [1, E, S/16, S/16]
    T clip_vis_dense;        // os32 projected per pixel [1, E, S/32, S/32]
};

using DenseFeatures = DenseFeaturesOf<Tensor>;

}  // namespace errseg::models
