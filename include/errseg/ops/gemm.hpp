// Matrix products on Eigen, parallelised over rows/batches with errseg::parallel_for.
#pragma once
#include "../core.hpp"

namespace errseg::ops {

// a [..., M, K] x b [..., K, N] -> [..., M, N]. b may be 2-D (shared by every batch) or have
// the same leading dims as a. trans_b: b is given as [..., N, K].
inline Tensor matmul(const Tensor& a, const Tensor& b, bool trans_b = false) { fail("not implemented yet"); }

// PyTorch nn.Linear: x [..., in], weight [out, in], optional bias [out] -> [..., out].
inline Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor()) { fail("not implemented yet"); }

}  // namespace errseg::ops
