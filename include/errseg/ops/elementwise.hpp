// Activations and elementwise arithmetic. Binary ops broadcast numpy-style.
#pragma once
#include "../core.hpp"

namespace errseg::ops {

inline Tensor gelu(const Tensor& x) { fail("not implemented yet"); }        // exact: 0.5 x (1 + erf(x / sqrt 2))
inline Tensor quick_gelu(const Tensor& x) { fail("not implemented yet"); }  // x * sigmoid(1.702 x) (OpenAI CLIP)
inline Tensor relu(const Tensor& x) { fail("not implemented yet"); }
inline Tensor relu6(const Tensor& x) { fail("not implemented yet"); }
inline Tensor sigmoid(const Tensor& x) { fail("not implemented yet"); }
inline Tensor clamp(const Tensor& x, float lo, float hi) { fail("not implemented yet"); }
inline Tensor scale(const Tensor& x, float s) { fail("not implemented yet"); }  // x * s

inline Tensor add(const Tensor& a, const Tensor& b) { fail("not implemented yet"); }  // broadcasting
inline Tensor sub(const Tensor& a, const Tensor& b) { fail("not implemented yet"); }
inline Tensor mul(const Tensor& a, const Tensor& b) { fail("not implemented yet"); }
inline Tensor div(const Tensor& a, const Tensor& b) { fail("not implemented yet"); }

}  // namespace errseg::ops
