// Activations and elementwise arithmetic. Binary ops broadcast numpy-style.
#pragma once
#include "../core.hpp"
#include "detail/broadcast.hpp"
#include "detail/epilogue.hpp"

namespace errseg::ops {

namespace detail {
// Every activation runs through detail::activate (epilogue.hpp): the same bits as the fused forms.
inline Tensor activation_op(const Tensor& x, Activation act, const char* op) {
    return unary_op(x, op, [act](const float* in, float* out, int64_t n) { activate(in, out, n, act); });
}
}  // namespace detail

// Exact GELU: 0.5 x (1 + erf(x / sqrt 2)).
inline Tensor gelu(const Tensor& x) { return detail::activation_op(x, Activation::Gelu, "gelu"); }
// x * sigmoid(1.702 x) (OpenAI CLIP).
inline Tensor quick_gelu(const Tensor& x) { return detail::activation_op(x, Activation::QuickGelu, "quick_gelu"); }
inline Tensor relu(const Tensor& x) { return detail::activation_op(x, Activation::Relu, "relu"); }
inline Tensor relu6(const Tensor& x) { return detail::activation_op(x, Activation::Relu6, "relu6"); }
inline Tensor sigmoid(const Tensor& x) { return detail::activation_op(x, Activation::Sigmoid, "sigmoid"); }

// Any errseg::Activation by value (None: a copy), as the GPU epilogues apply them.
inline Tensor activation(const Tensor& x, Activation act) {
    switch (act) {
        case Activation::Gelu: return gelu(x);
        case Activation::QuickGelu: return quick_gelu(x);
        case Activation::Relu: return relu(x);
        case Activation::Relu6: return relu6(x);
        case Activation::Sigmoid: return sigmoid(x);
        case Activation::None: break;
    }
    return detail::f32_contig(x, "activation").clone();
}

inline Tensor clamp(const Tensor& x, float lo, float hi) {
    ERRSEG_CHECK(!(lo > hi), "clamp: lower bound ", lo, " exceeds upper bound ", hi);
    return detail::unary_op(x, "clamp", [lo, hi](const float* in, float* out, int64_t n) {
        detail::MapArr(out, n) = detail::MapCArr(in, n).max(lo).min(hi);
    });
}

inline Tensor scale(const Tensor& x, float s) {  // x * s
    return detail::unary_op(x, "scale", [s](const float* in, float* out, int64_t n) {
        detail::MapArr(out, n) = detail::MapCArr(in, n) * s;
    });
}

inline Tensor add_scalar(const Tensor& x, float s) {  // x + s
    return detail::unary_op(x, "add_scalar", [s](const float* in, float* out, int64_t n) {
        detail::MapArr(out, n) = detail::MapCArr(in, n) + s;
    });
}

// Binary arithmetic with numpy broadcasting.
inline Tensor add(const Tensor& a, const Tensor& b) {
    return detail::binary_op(a, b, "add", detail::BinaryOp::add);
}
inline Tensor sub(const Tensor& a, const Tensor& b) {
    return detail::binary_op(a, b, "sub", detail::BinaryOp::sub);
}
inline Tensor mul(const Tensor& a, const Tensor& b) {
    return detail::binary_op(a, b, "mul", detail::BinaryOp::mul);
}
inline Tensor div(const Tensor& a, const Tensor& b) {
    return detail::binary_op(a, b, "div", detail::BinaryOp::div);
}

// In-place variants (a must be contiguous float32 and keep its shape): residual adds etc.
inline void add_(Tensor& a, const Tensor& b) {
    detail::binary_op_inplace(a, b, "add_", detail::BinaryOp::add);
}
inline void mul_(Tensor& a, const Tensor& b) {
    detail::binary_op_inplace(a, b, "mul_", detail::BinaryOp::mul);
}

}  // namespace errseg::ops
