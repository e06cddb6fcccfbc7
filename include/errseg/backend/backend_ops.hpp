// The one list of Backend ops (the interface the model code is written against).
//
// ERRSEG_BACKEND_OPS(X) calls X(Ret, name, (parameters), (arguments)) once per op. The
// parameters (with the defaults model code relies on) are spelled with these names, which a user
// of the list defines:
//   T            the backend's tensor type (B::Tensor)
//   HostTensor   errseg::Tensor (upload's input, download's output)
//   Index        std::vector<int64_t> (permutations, index lists)
//   Act          errseg::Activation
// linear / conv2d / group_norm take a fused epilogue: out = act(op(...)) + residual (residual
// undefined, of the output's shape, or of its shape without the first dim: fused_residual_period,
// core/shape.hpp), the order of the model's sites (linear -> gelu, x + proj(y), conv -> relu6,
// conv + guidance, group_norm -> relu); on the CPU the same bits as the separate ops.
// gated_mlp is act3(fc3(act1(fc1(x)) * fc2(x))) + residual (ERR-Seg's fusion MLPs), again with
// the bits of the separate linear and mul ops.
// Uses: errseg::BackendConformance<B> (below) makes the build fail, naming the op, when a
// backend lacks one or gives it another signature; bench/profiling_backend.hpp generates its
// timing wrappers from it. CpuBackend and cuda::CudaBackend are checked where they are defined.
#pragma once
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "../core/activation.hpp"
#include "../core/tensor.hpp"
#include "../ops/conv_params.hpp"

// clang-format off
// The ops every backend implements as a plain call of its ops namespace with the same name and
// arguments (errseg::ops on the CPU, errseg::cuda::ops on the GPU): ERRSEG_FORWARD_BACKEND_OPS
// generates them in each backend.
#define ERRSEG_BACKEND_FORWARDED_OPS(X)                                                                        \
    X(T, concat, (const std::vector<T>& xs, int64_t dim), (xs, dim))                                           \
    X(T, pad2d, (const T& x, int left, int right, int top, int bottom, float value = 0.f), (x, left, right, top, bottom, value)) \
    X(T, linear, (const T& x, const T& w, const T& b = T(), Act act = Act::None, const T& residual = T()),    \
      (x, w, b, act, residual))                                                                                \
    X(T, gated_mlp, (const T& x, const T& w1, const T& b1, Act act1, const T& w2, const T& b2, const T& w3,      \
                     const T& b3, Act act3 = Act::None, const T& residual = T()),                               \
      (x, w1, b1, act1, w2, b2, w3, b3, act3, residual))                                                       \
    X(T, matmul, (const T& a, const T& b, bool trans_b = false), (a, b, trans_b))                              \
    X(T, conv2d, (const T& x, const T& w, const T& b, const ::errseg::ops::Conv2dParams& p, Act act = Act::None, \
                  const T& residual = T()), (x, w, b, p, act, residual))                                       \
    X(T, conv_transpose2d, (const T& x, const T& w, const T& b, const ::errseg::ops::ConvTranspose2dParams& p), (x, w, b, p)) \
    X(T, layer_norm, (const T& x, const T& w, const T& b, float eps), (x, w, b, eps))                          \
    X(T, layer_norm2d, (const T& x, const T& w, const T& b, float eps), (x, w, b, eps))                        \
    X(T, group_norm, (const T& x, int groups, const T& w, const T& b, float eps, Act act = Act::None,          \
                      const T& residual = T()), (x, groups, w, b, eps, act, residual))                         \
    X(T, l2_normalize, (const T& x, float eps), (x, eps))                                                      \
    X(T, gelu, (const T& x), (x))                                                                              \
    X(T, quick_gelu, (const T& x), (x))                                                                        \
    X(T, relu, (const T& x), (x))                                                                              \
    X(T, relu6, (const T& x), (x))                                                                             \
    X(T, clamp, (const T& x, float lo, float hi), (x, lo, hi))                                                 \
    X(T, scale, (const T& x, float s), (x, s))                                                                 \
    X(T, add, (const T& a, const T& b), (a, b))                                                                \
    X(T, mul, (const T& a, const T& b), (a, b))                                                                \
    X(T, mean, (const T& x, int64_t dim), (x, dim))                                                            \
    X(T, resize_bilinear, (const T& x, int64_t h, int64_t w, bool align_corners), (x, h, w, align_corners))    \
    X(T, avg_pool2d, (const T& x, int kernel, int stride), (x, kernel, stride))                                \
    X(T, multi_head_self_attention, (const T& x, const T& in_w, const T& in_b, const T& out_w, const T& out_b, int heads, bool causal), \
      (x, in_w, in_b, out_w, out_b, heads, causal))

// Every op: the forwarded ones and those each backend writes itself.
#define ERRSEG_BACKEND_OPS(X)                                                                                  \
    ERRSEG_BACKEND_FORWARDED_OPS(X)                                                                            \
    /* host <-> backend */                                                                                     \
    X(T, upload, (const HostTensor& host), (host))                                                             \
    X(HostTensor, download, (const T& x), (x))                                                                 \
    /* layout (views on the CPU, dense copies on the GPU) */                                                   \
    X(T, permute, (const T& x, const Index& order), (x, order))                                                \
    X(T, permute_copy, (const T& x, const Index& order), (x, order))                                           \
    X(T, contiguous, (const T& x), (x))                                                                        \
    X(T, slice0, (const T& x, int64_t begin, int64_t end), (x, begin, end))                                    \
    X(T, select0, (const T& x, int64_t i), (x, i))                                                             \
    X(T, index_select, (const T& x, int64_t dim, const Index& idx), (x, dim, idx))                             \
    /* products, convolutions, normalisations, elementwise, attention */                                       \
    X(T, conv2d_depthwise_nhwc, (const T& x, const T& w, const T& b, int pad_h, int pad_w), (x, w, b, pad_h, pad_w)) \
    X(T, normalize_rows, (const T& x), (x))                                                                    \
    X(void, add_, (T& a, const T& b), (a, b))                                                                  \
    X(T, attention_tokens, (const T& q, const T& k, const T& v, int64_t heads, float scale), (q, k, v, heads, scale))

// Inside a backend struct (with `ops` naming its ops namespace): the forwarded ops.
#define ERRSEG_DETAIL_FORWARD_OP(Ret, name, params, args) \
    static Ret name params { return ops::name args; }
#define ERRSEG_FORWARD_BACKEND_OPS()                   \
    using T = Tensor;                                  \
    using HostTensor = ::errseg::Tensor;               \
    using Index = std::vector<int64_t>;                \
    using Act = ::errseg::Activation;                  \
    ERRSEG_BACKEND_FORWARDED_OPS(ERRSEG_DETAIL_FORWARD_OP)
// clang-format on

namespace errseg {

namespace backend_detail {
template <class F>
struct ReturnOf;
template <class R, class... A>
struct ReturnOf<R (*)(A...)> {
    using type = R;
};
}  // namespace backend_detail

// Instantiating this fails to compile, naming the op, when B does not provide every op of the
// list with its parameters (B::op must accept them) and its result type.
template <class B>
struct BackendConformance {
    using T = typename B::Tensor;
    using HostTensor = errseg::Tensor;
    using Index = std::vector<int64_t>;
    using Act = errseg::Activation;
#define ERRSEG_DETAIL_CHECK_OP(Ret, name, params, args)                                                    \
    static auto name params -> decltype(B::name args);                                                     \
    static_assert(std::is_same_v<typename backend_detail::ReturnOf<decltype(&BackendConformance::name)>::type, \
                                 Ret>,                                                                     \
                  "Backend op '" #name "' returns the wrong type");
    ERRSEG_BACKEND_OPS(ERRSEG_DETAIL_CHECK_OP)
#undef ERRSEG_DETAIL_CHECK_OP
    static constexpr bool value = true;
};

}  // namespace errseg
