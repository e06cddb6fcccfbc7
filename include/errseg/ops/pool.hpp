#pragma once
#include "../core.hpp"

namespace errseg::ops {

// nn.AvgPool2d(kernel, stride) without padding (count_include_pad irrelevant): [N,C,H,W].
inline Tensor avg_pool2d(const Tensor& x, int kernel, int stride) { fail("not implemented yet"); }

}  // namespace errseg::ops
