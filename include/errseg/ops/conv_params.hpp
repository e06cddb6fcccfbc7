// Convolution hyperparameters, shared by the CPU ops (ops/conv.hpp) and the GPU facade
// (cuda/ops.hpp): the fields and defaults of PyTorch's nn.Conv2d / nn.ConvTranspose2d.
#pragma once

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

}  // namespace errseg::ops
