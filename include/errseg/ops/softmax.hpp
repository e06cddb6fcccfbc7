#pragma once
#include "../core.hpp"

namespace errseg::ops {

// Numerically stable softmax over dimension dim (default last).
inline Tensor softmax(const Tensor& x, int64_t dim = -1) { fail("not implemented yet"); }

}  // namespace errseg::ops
