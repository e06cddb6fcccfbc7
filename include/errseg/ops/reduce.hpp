// Reductions and selection with PyTorch's tie rules.
#pragma once
#include <vector>
#include "../core.hpp"

namespace errseg::ops {

// argmax over dim (first maximal index, as torch.argmax) -> int64 tensor without that dim.
inline Tensor argmax(const Tensor& x, int64_t dim) { fail("not implemented yet"); }

struct TopK {
    Tensor values;   // float32 [..., k]
    Tensor indices;  // int64   [..., k]
};
// Largest k along the last dim, in descending order; ties -> lower index first.
inline TopK topk(const Tensor& x, int64_t k) { fail("not implemented yet"); }

// Sum / mean over one dim (dim removed).
inline Tensor sum(const Tensor& x, int64_t dim) { fail("not implemented yet"); }
inline Tensor mean(const Tensor& x, int64_t dim) { fail("not implemented yet"); }

}  // namespace errseg::ops
