// Normalisations, all computed in fp32 with PyTorch's biased variance.
#pragma once
#include "../core.hpp"

namespace errseg::ops {

// Over the last dimension. weight/bias [D] (either may be undefined = 1/0).
inline Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) { fail("not implemented yet"); }

// "LayerNorm2d" (timm/ConvNeXt, detectron2): x [N, C, H, W] normalised over C at each pixel.
inline Tensor layer_norm2d(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) { fail("not implemented yet"); }

// nn.GroupNorm: x [N, C, ...], C divisible by groups.
inline Tensor group_norm(const Tensor& x, int groups, const Tensor& weight, const Tensor& bias, float eps) { fail("not implemented yet"); }

// Rows scaled to unit L2 norm along the last dim (F.normalize, eps 1e-12).
inline Tensor l2_normalize(const Tensor& x, float eps = 1e-12f) { fail("not implemented yet"); }

}  // namespace errseg::ops
