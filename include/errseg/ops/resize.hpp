// Resampling matching torch.nn.functional.interpolate exactly (no antialias).
#pragma once
#include "../core.hpp"

namespace errseg::ops {

// x [N, C, H, W] -> [N, C, out_h, out_w], mode='bilinear'.
inline Tensor resize_bilinear(const Tensor& x, int64_t out_h, int64_t out_w, bool align_corners) { fail("not implemented yet"); }

// mode='bicubic' (A = -0.75, border-clamped taps), as F.interpolate.
inline Tensor resize_bicubic(const Tensor& x, int64_t out_h, int64_t out_w, bool align_corners) { fail("not implemented yet"); }

}  // namespace errseg::ops
