// Copies that change layout: padding, concatenation, gather along an axis.
#pragma once
#include <vector>
#include "../core.hpp"

namespace errseg::ops {

// Constant pad of the last two dims of [..., H, W] (F.pad(x, (left, right, top, bottom))).
inline Tensor pad2d(const Tensor& x, int left, int right, int top, int bottom, float value = 0.f) { fail("not implemented yet"); }

// torch.cat along dim; all other dims must match.
inline Tensor concat(const std::vector<Tensor>& xs, int64_t dim) { fail("not implemented yet"); }

// x.index_select(dim, indices): indices are int64 values.
inline Tensor index_select(const Tensor& x, int64_t dim, const std::vector<int64_t>& indices) { fail("not implemented yet"); }

}  // namespace errseg::ops
