// 2-D convolutions in NCHW with PyTorch weight layouts and semantics.
#pragma once
#include "../core.hpp"

namespace errseg::ops {

struct Conv2dParams {
    int stride_h = 1, stride_w = 1;
    int pad_h = 0, pad_w = 0;
    int dilation_h = 1, dilation_w = 1;
    int groups = 1;
};

// x [N, C, H, W], weight [O, C/groups, kh, kw], bias [O] or undefined -> [N, O, Ho, Wo].
// Depthwise (groups == C) takes a direct path; the general case is im2col + GEMM.
inline Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dParams& p) { fail("not implemented yet"); }

struct ConvTranspose2dParams {
    int stride_h = 1, stride_w = 1;
    int pad_h = 0, pad_w = 0;
    int output_pad_h = 0, output_pad_w = 0;
    int groups = 1;
};

// PyTorch nn.ConvTranspose2d: weight [C, O/groups, kh, kw] -> [N, O, Ho, Wo].
inline Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
                               const ConvTranspose2dParams& p) { fail("not implemented yet"); }

}  // namespace errseg::ops
