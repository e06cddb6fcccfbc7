// Convolution hyperparameters and output shapes, shared by the CPU ops (ops/conv.hpp) and the GPU facade
// (cuda/ops.hpp): the fields and defaults of PyTorch's nn.Conv2d / nn.ConvTranspose2d.
#pragma once
#include <cstdint>

#include "../core/shape.hpp"

namespace errseg::ops {

struct Conv2dParams {
    int stride_h = 1, stride_w = 1;
    int pad_h = 0, pad_w = 0;
    int dilation_h = 1, dilation_w = 1;
    int groups = 1;
};

struct ConvTranspose2dParams {  // dilation 1
    int stride_h = 1, stride_w = 1;
    int pad_h = 0, pad_w = 0;
    int output_pad_h = 0, output_pad_w = 0;
    int groups = 1;
};

// The sizes of one conv2d (x [N, C, H, W], weight [O, C/groups, kh, kw]), its arguments checked.
struct Conv2dShape {
    int64_t N, C, H, W, O, kh, kw, Ho, Wo;
};
inline Conv2dShape conv2d_shape(const Shape& x, const Shape& w, const Conv2dParams& p, const char* op = "conv2d") {
    ERRSEG_CHECK(x.size() == 4, op, ": input must be 4-d [N, C, H, W], got ", shape_str(x));
    ERRSEG_CHECK(w.size() == 4, op, ": weight must be 4-d [O, C/groups, kh, kw], got ", shape_str(w));
    Conv2dShape s{x[0], x[1], x[2], x[3], w[0], w[2], w[3], 0, 0};
    ERRSEG_CHECK(p.groups > 0 && s.C % p.groups == 0 && s.O % p.groups == 0, op, ": groups=", p.groups,
                 " must divide input channels (", s.C, ") and output channels (", s.O, ")");
    ERRSEG_CHECK(w[1] * p.groups == s.C, op, ": weight ", shape_str(w), " with groups=", p.groups, " expects ",
                 w[1] * p.groups, " input channels, input is ", shape_str(x));
    ERRSEG_CHECK(p.stride_h > 0 && p.stride_w > 0 && p.dilation_h > 0 && p.dilation_w > 0 && p.pad_h >= 0 &&
                     p.pad_w >= 0,
                 op, ": stride and dilation must be positive and padding non-negative");
    ERRSEG_CHECK(s.kh > 0 && s.kw > 0 && s.H + 2 * p.pad_h >= p.dilation_h * (s.kh - 1) + 1 &&
                     s.W + 2 * p.pad_w >= p.dilation_w * (s.kw - 1) + 1,
                 op, ": input ", shape_str(x), " (padded by ", p.pad_h, ", ", p.pad_w, ") is smaller than the kernel ",
                 shape_str(w));
    s.Ho = (s.H + 2 * p.pad_h - p.dilation_h * (s.kh - 1) - 1) / p.stride_h + 1;
    s.Wo = (s.W + 2 * p.pad_w - p.dilation_w * (s.kw - 1) - 1) / p.stride_w + 1;
    return s;
}

// nn.AvgPool2d(kernel, stride) without padding: the output height or width of `in`.
inline int64_t pool_output_size(int64_t in, int kernel, int stride) { return (in - kernel) / stride + 1; }

}  // namespace errseg::ops
