// Geometry of a 2-D convolution (NCHW), shared by the convolution kernels.
#pragma once
#include <cstdint>

namespace errseg::cuda::kernels {

struct ConvGeometry {
    int N, C, H, W;          // input
    int O, Ho, Wo;           // output channels and size
    int kh, kw;
    int stride_h, stride_w;
    int pad_h, pad_w;
    int dil_h, dil_w;
    int groups;
};

}  // namespace errseg::cuda::kernels
