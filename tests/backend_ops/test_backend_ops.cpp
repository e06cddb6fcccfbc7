// One cross-backend op test, in the manner of ggml's test-backend-ops: every case is a small
// struct (op, input shapes, parameters through a generic lambda, tolerance, FLOPs) run on every
// compiled backend and dtype against the CPU reference (errseg::ops, itself tied to PyTorch by
// the fixtures of tests/test_ops_*.cpp).
//
//   test_backend_ops            check every case; exit 1 on a mismatch
//   test_backend_ops --perf     also time every case per backend and dtype and print GFLOP/s
//   test_backend_ops -o NAME    only the cases whose name starts with NAME
//
// Every op of ERRSEG_BACKEND_OPS must have a case (checked at start). Backends: CpuBackend (F32),
// and in a CUDA build cuda::CudaBackend in F32, F16 and BF16 — without a usable device the GPU
// runs print "SKIPPED - no CUDA device" (ctest reports the test as skipped) and the CPU runs.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "errseg/backend/backend_ops.hpp"
#include "errseg/backend/cpu_backend.hpp"
#include "errseg/core.hpp"
#include "random_tensors.hpp"
#if defined(ERRSEG_WITH_CUDA)
#include "errseg/cuda/cuda_backend.hpp"
#include "errseg/cuda/device.hpp"
#endif

namespace {

using errseg::DType;
using errseg::Shape;
using errseg::Tensor;

template <class B>
struct On {
    using Backend = B;
};

// One case: `run` is called with On<B>{} and the uploaded inputs for every backend B.
struct OpCase {
    std::string op;                          // the Backend op under test (coverage check)
    std::string name;                        // op and shapes, for messages and -o
    std::vector<Shape> inputs;               // random inputs in [lo, hi)
    float lo = -1.f, hi = 1.f;
    std::vector<std::pair<float, float>> ranges;  // per input, where they differ (weights)
    std::function<void(std::vector<Tensor>&)> prepare;  // edits the random inputs (special values)
    double tol_scale = 1.0;                  // typical output magnitude (scales atol)
    double flops = 0;                        // per call, for --perf
    std::function<Tensor(On<errseg::CpuBackend>, const std::vector<Tensor>&)> on_cpu;
    // Fused forms: the separate ops on the CPU, the reference; the CPU's fused run must give its
    // exact bits (at 1 and 3 threads: the epilogue runs on blocks whose split depends on them).
    std::function<Tensor(On<errseg::CpuBackend>, const std::vector<Tensor>&)> unfused;
#if defined(ERRSEG_WITH_CUDA)
    std::function<errseg::cuda::DeviceTensor(On<errseg::cuda::CudaBackend>,
                                             const std::vector<errseg::cuda::DeviceTensor>&)>
        on_cuda;
#endif
};

// Ops of each backend's namespace that are not Backend ops, with the same names and semantics
// (the GPU facade mirrors errseg::ops): cases call them as OpsOf<B>::name.
#define ERRSEG_FACADE_OPS(X) X(softmax) X(sub) X(div) X(sigmoid) X(attention)
#define ERRSEG_FORWARD_FACADE(ns, name)                                 \
    template <class... A>                                               \
    static auto name(const A&... a) {                                   \
        return ns::name(a...);                                          \
    }
#define ERRSEG_CPU_FACADE(name) ERRSEG_FORWARD_FACADE(errseg::ops, name)
template <class B>
struct OpsOf;
template <>
struct OpsOf<errseg::CpuBackend> {
    ERRSEG_FACADE_OPS(ERRSEG_CPU_FACADE)
};
#if defined(ERRSEG_WITH_CUDA)
#define ERRSEG_CUDA_FACADE(name) ERRSEG_FORWARD_FACADE(errseg::cuda::ops, name)
template <>
struct OpsOf<errseg::cuda::CudaBackend> {
    ERRSEG_FACADE_OPS(ERRSEG_CUDA_FACADE)
};
#endif

template <class F>
OpCase make_case(std::string op, std::string detail, std::vector<Shape> inputs, double tol_scale, double flops,
                 F f) {
    OpCase c;
    c.op = op;
    c.name = op + " " + detail;
    c.inputs = std::move(inputs);
    c.tol_scale = tol_scale;
    c.flops = flops;
    c.on_cpu = f;
#if defined(ERRSEG_WITH_CUDA)
    c.on_cuda = f;
#endif
    return c;
}

// A fused form (linear / conv2d / group_norm with an activation and a residual): `fused` runs on
// every backend, `unfused` (the separate ops) is the reference the CPU must match bit for bit.
template <class F, class U>
OpCase make_fused_case(std::string op, std::string detail, std::vector<Shape> inputs, double tol_scale,
                       double flops, F fused, U unfused) {
    OpCase c = make_case(std::move(op), std::move(detail), std::move(inputs), tol_scale, flops, fused);
    c.unfused = unfused;
    return c;
}

std::string dims(const Shape& s) { return errseg::shape_str(s); }

// The shapes the GPU tests checked against their own reference loops (tests/cuda before this
// table replaced them): odd sizes that are no multiple of any tile, every kernel path.
void add_device_test_cases(std::vector<OpCase>& v) {
    using errseg::Activation;
    using errseg::ops::Conv2dParams;
    using errseg::ops::ConvTranspose2dParams;
    const auto ranged = [](OpCase c, std::vector<std::pair<float, float>> r) {
        c.ranges = std::move(r);
        return c;
    };
    // ---- products: facade matmul / linear (the raw GEMM paths: tests/cuda/test_cuda_gemm.cpp) ----
    v.push_back(make_case("matmul", "[2, 3, 17, 23] x [2, 3, 23, 19]", {{2, 3, 17, 23}, {2, 3, 23, 19}}, 5,
                          2.0 * 6 * 17 * 19 * 23, [](auto on, const auto& x) {
                              using B = typename decltype(on)::Backend;
                              return B::matmul(x[0], x[1]);
                          }));
    v.push_back(make_case("matmul", "[2, 3, 17, 23] x [19, 23] trans_b (shared)", {{2, 3, 17, 23}, {19, 23}}, 5,
                          2.0 * 6 * 17 * 19 * 23, [](auto on, const auto& x) {
                              using B = typename decltype(on)::Backend;
                              return B::matmul(x[0], x[1], true);
                          }));
    for (auto [M, N, K, act] : {std::tuple<int64_t, int64_t, int64_t, Activation>{37, 53, 29, Activation::Gelu},
                                {130, 67, 257, Activation::QuickGelu},
                                {129, 136, 64, Activation::Relu},
                                {200, 264, 96, Activation::None},
                                {257, 129, 33, Activation::None}}) {
        const float r = float(3.0 / std::sqrt(double(K)));  // keeps outputs O(1)
        v.push_back(ranged(make_case("linear",
                                     dims({M, K}) + " x " + dims({N, K}) + " + bias " + errseg::activation_name(act) +
                                         " + residual",
                                     {{M, K}, {N, K}, {N}, {M, N}}, 3, 2.0 * M * N * K,
                                     [act = act](auto on, const auto& x) {
                                         using B = typename decltype(on)::Backend;
                                         return B::linear(x[0], x[1], x[2], act, x[3]);
                                     }),
                           {{-1.f, 1.f}, {-r, r}, {-1.f, 1.f}, {-1.f, 1.f}}));
    }
    // ---- convolutions: depthwise (tiled 7x7, generic), pointwise GEMM, implicit GEMM ----
    const auto P = [](int s, int pad, int dil, int groups) {
        Conv2dParams p;
        p.stride_h = p.stride_w = s;
        p.pad_h = p.pad_w = pad;
        p.dilation_h = p.dilation_w = dil;
        p.groups = groups;
        return p;
    };
    Conv2dParams asym = P(1, 0, 1, 1);
    asym.stride_h = 2, asym.pad_w = 2, asym.dilation_w = 2;
    struct ConvCase {
        const char* name;
        Shape x, w;
        Conv2dParams p;
        bool bias;
        Activation act;
    };
    for (const ConvCase& c : std::vector<ConvCase>{
             {"depthwise 7x7 pad 3 (tiled)", {2, 5, 37, 45}, {5, 1, 7, 7}, P(1, 3, 1, 5), true, Activation::None},
             {"depthwise 7x7 no pad (tiled)", {1, 3, 33, 9}, {3, 1, 7, 7}, P(1, 0, 1, 3), false, Activation::None},
             {"depthwise 3x3 s2 dil2 x2 multiplier", {2, 4, 17, 13}, {8, 1, 3, 3}, P(2, 1, 2, 4), true, Activation::None},
             {"3x3 pad 1", {2, 7, 19, 19}, {13, 7, 3, 3}, P(1, 1, 1, 1), true, Activation::None},
             {"3x3 pad 1 relu6", {1, 4, 10, 12}, {6, 4, 3, 3}, P(1, 1, 1, 1), true, Activation::Relu6},
             {"4x4 stride 4 stem", {1, 3, 40, 44}, {130, 3, 4, 4}, P(4, 0, 1, 1), true, Activation::None},
             {"2x2 stride 1 (HSM)", {1, 9, 11, 11}, {18, 9, 2, 2}, P(1, 0, 1, 1), true, Activation::None},
             {"grouped 3x3 dil 2", {2, 6, 15, 14}, {4, 3, 3, 3}, P(1, 2, 2, 2), false, Activation::None},
             {"asymmetric stride/pad/dilation", {1, 5, 21, 18}, {7, 5, 3, 2}, asym, true, Activation::None},
             {"pointwise 1x1 (GEMM)", {2, 33, 9, 11}, {17, 33, 1, 1}, P(1, 0, 1, 1), true, Activation::None},
             {"pointwise 1x1, vector-friendly", {1, 64, 8, 16}, {40, 64, 1, 1}, P(1, 0, 1, 1), true, Activation::None}}) {
        const errseg::ops::Conv2dShape cs = errseg::ops::conv2d_shape(c.x, c.w, c.p);
        const float r = float(1.7 / std::sqrt(double(c.w[1] * c.w[2] * c.w[3])));
        v.push_back(ranged(make_case("conv2d", std::string(c.name) + " " + dims(c.x) + " * " + dims(c.w),
                                     {c.x, c.w, c.bias ? Shape{c.w[0]} : Shape{}}, 2,
                                     2.0 * cs.N * cs.O * cs.Ho * cs.Wo * c.w[1] * c.w[2] * c.w[3],
                                     [c](auto on, const auto& x) {
                                         using B = typename decltype(on)::Backend;
                                         return B::conv2d(x[0], x[1], x[2], c.p, c.act);
                                     }),
                           {{-1.f, 1.f}, {-r, r}, {-1.f, 1.f}}));
    }
    {
        ConvTranspose2dParams k2;
        k2.stride_h = k2.stride_w = 2;
        ConvTranspose2dParams g2 = k2;
        g2.pad_h = g2.pad_w = 1;
        g2.output_pad_h = 1;
        g2.groups = 2;
        for (auto [name, x, w, p, bias] :
             {std::tuple<const char*, Shape, Shape, ConvTranspose2dParams, bool>{"k2 s2", {2, 6, 7, 9}, {6, 5, 2, 2}, k2, true},
              {"k3 s2 p1 op1 g2", {1, 4, 5, 6}, {4, 3, 3, 3}, g2, false}})
            v.push_back(ranged(make_case("conv_transpose2d", std::string(name) + " " + dims(x) + " * " + dims(w),
                                         {x, w, bias ? Shape{w[1] * p.groups} : Shape{}}, 2, 0,
                                         [p = p](auto on, const auto& in) {
                                             using B = typename decltype(on)::Backend;
                                             return B::conv_transpose2d(in[0], in[1], in[2], p);
                                         }),
                               {{-1.f, 1.f}, {-0.4f, 0.4f}, {-1.f, 1.f}}));
    }
    // ---- normalisations (inputs with a non-zero mean) ----
    for (int64_t D : {1, 7, 33, 640, 1537})
        v.push_back(ranged(make_case("layer_norm", dims({3, 5, D}) + " mean 1", {{3, 5, D}, {D}, {D}}, 4, 8.0 * 15 * D,
                                     [](auto on, const auto& x) {
                                         using B = typename decltype(on)::Backend;
                                         return B::layer_norm(x[0], x[1], x[2], 1e-5f);
                                     }),
                           {{-3.f, 5.f}, {-1.f, 1.f}, {-1.f, 1.f}}));
    v.push_back(make_case("layer_norm", "[4, 9] without affine", {{4, 9}}, 4, 8.0 * 36, [](auto on, const auto& x) {
        using B = typename decltype(on)::Backend;
        return B::layer_norm(x[0], typename B::Tensor(), typename B::Tensor(), 1e-6f);
    }));
    v.push_back(ranged(make_case("layer_norm2d", "[2, 37, 5, 11] mean 0.5", {{2, 37, 5, 11}, {37}, {37}}, 4,
                                 8.0 * 2 * 37 * 55, [](auto on, const auto& x) {
                                     using B = typename decltype(on)::Backend;
                                     return B::layer_norm2d(x[0], x[1], x[2], 1e-6f);
                                 }),
                       {{-2.f, 3.f}, {-1.f, 1.f}, {-1.f, 1.f}}));
    for (Activation act : {Activation::None, Activation::Relu})
        v.push_back(ranged(make_case("group_norm", std::string("[3, 12, 7, 9] groups 4 ") + errseg::activation_name(act),
                                     {{3, 12, 7, 9}, {12}, {12}}, 4, 8.0 * 3 * 12 * 63,
                                     [act](auto on, const auto& x) {
                                         using B = typename decltype(on)::Backend;
                                         return B::group_norm(x[0], 4, x[1], x[2], 1e-5f, act);
                                     }),
                           {{-1.f, 2.f}, {-1.f, 1.f}, {-1.f, 1.f}}));
    {
        OpCase c = make_case("l2_normalize", "[6, 65], row 2 zero (-> zeros: eps)", {{6, 65}}, 1, 3.0 * 6 * 65,
                             [](auto on, const auto& x) {
                                 using B = typename decltype(on)::Backend;
                                 return B::l2_normalize(x[0], 1e-12f);
                             });
        c.prepare = [](std::vector<Tensor>& in) { std::fill_n(in[0].data<float>() + 2 * 65, 65, 0.f); };
        v.push_back(c);
    }
    // ---- elementwise over [-8, 8): activations, scale, clamp; broadcasting binary ops ----
    const auto unary = [&](const char* op, std::string what, auto f) {
        OpCase c = make_case(op, std::move(what), {{3, 7, 11}}, 1, 3 * 7 * 11, f);
        c.lo = -8.f, c.hi = 8.f;
        v.push_back(c);
    };
    unary("gelu", "[3, 7, 11] in [-8, 8)", [](auto on, const auto& x) { return decltype(on)::Backend::gelu(x[0]); });
    unary("quick_gelu", "[3, 7, 11] in [-8, 8)", [](auto on, const auto& x) { return decltype(on)::Backend::quick_gelu(x[0]); });
    unary("relu", "[3, 7, 11] in [-8, 8)", [](auto on, const auto& x) { return decltype(on)::Backend::relu(x[0]); });
    unary("relu6", "[3, 7, 11] in [-8, 8)", [](auto on, const auto& x) { return decltype(on)::Backend::relu6(x[0]); });
    unary("sigmoid", "[3, 7, 11] in [-8, 8)", [](auto on, const auto& x) {
        return OpsOf<typename decltype(on)::Backend>::sigmoid(x[0]);
    });
    unary("scale", "[3, 7, 11] x 0.25", [](auto on, const auto& x) { return decltype(on)::Backend::scale(x[0], 0.25f); });
    unary("clamp", "[3, 7, 11] to [-1.5, 2]", [](auto on, const auto& x) {
        return decltype(on)::Backend::clamp(x[0], -1.5f, 2.f);
    });
    for (const auto& shapes : {std::pair<Shape, Shape>{{2, 3, 4}, {2, 3, 4}}, {{2, 3, 4}, {3, 1}}, {{4}, {2, 3, 4}},
                               {{2, 1, 5}, {1, 7, 1}}, {{1}, {3, 3}}}) {
        const Shape a = shapes.first, b = shapes.second;  // (lambdas cannot capture structured bindings in C++17)
        const std::string what = dims(a) + " op " + dims(b) + " in [0.5, 2)";
        const auto binary = [&](const char* op, auto f) {
            OpCase c = make_case(op, what, {a, b}, 2, 0, f);
            c.lo = 0.5f, c.hi = 2.f;  // no division by ~0
            v.push_back(c);
        };
        binary("add", [](auto on, const auto& x) { return decltype(on)::Backend::add(x[0], x[1]); });
        binary("mul", [](auto on, const auto& x) { return decltype(on)::Backend::mul(x[0], x[1]); });
        binary("sub", [](auto on, const auto& x) { return OpsOf<typename decltype(on)::Backend>::sub(x[0], x[1]); });
        binary("div", [](auto on, const auto& x) { return OpsOf<typename decltype(on)::Backend>::div(x[0], x[1]); });
    }
    for (int64_t dim : {-1, 1})
        v.push_back(ranged(make_case("softmax", "[3, 33, 7] dim " + std::to_string(dim) + " in [-6, 6)", {{3, 33, 7}}, 0.1, 0,
                                     [dim](auto on, const auto& x) {
                                         return OpsOf<typename decltype(on)::Backend>::softmax(x[0], dim);
                                     }),
                           {{-6.f, 6.f}}));
    v.push_back(ranged(make_case("softmax", "[2, 1000] in [80, 90) (stable)", {{2, 1000}}, 0.01, 0, [](auto on, const auto& x) {
                           return OpsOf<typename decltype(on)::Backend>::softmax(x[0], -1);
                       }),
                       {{80.f, 90.f}}));
    // ---- layout ----
    v.push_back(make_case("permute", "[2, 3, 4, 5] {3, 1, 0, 2}", {{2, 3, 4, 5}}, 1, 0, [](auto on, const auto& x) {
        using B = typename decltype(on)::Backend;
        return B::permute_copy(x[0], {3, 1, 0, 2});
    }));
    v.push_back(make_case("concat", "[2, 3, 4, 5] + [2, 1, 4, 5] + [2, 4, 4, 5] dim 1",
                          {{2, 3, 4, 5}, {2, 1, 4, 5}, {2, 4, 4, 5}}, 1, 0, [](auto on, const auto& x) {
                              using B = typename decltype(on)::Backend;
                              return B::concat({x[0], x[1], x[2]}, 1);
                          }));
    v.push_back(make_case("concat", "[2, 3, 4, 5] x 2 dim 0", {{2, 3, 4, 5}}, 1, 0, [](auto on, const auto& x) {
        using B = typename decltype(on)::Backend;
        return B::concat({x[0], x[0]}, 0);
    }));
    v.push_back(make_case("pad2d", "[2, 3, 4, 5] (2, -1, 1, 0) -7 (crops)", {{2, 3, 4, 5}}, 1, 0, [](auto on, const auto& x) {
        using B = typename decltype(on)::Backend;
        return B::pad2d(x[0], 2, -1, 1, 0, -7.f);
    }));
    // ---- resampling ----
    for (auto [x, Ho, Wo] : {std::tuple<Shape, int64_t, int64_t>{{1, 3, 41, 41}, 40, 40}, {{1, 2, 20, 20}, 40, 40},
                             {{1, 2, 160, 160}, 123, 97}, {{2, 3, 7, 5}, 1, 1}, {{1, 1, 1, 1}, 4, 3},
                             {{1, 3, 13, 29}, 64, 17}})
        for (bool ac : {false, true})
            v.push_back(make_case("resize_bilinear",
                                  dims(x) + " -> " + std::to_string(Ho) + "x" + std::to_string(Wo) +
                                      (ac ? " align_corners" : ""),
                                  {x}, 1, 0, [ac, Ho = Ho, Wo = Wo](auto on, const auto& in) {
                                      using B = typename decltype(on)::Backend;
                                      return B::resize_bilinear(in[0], Ho, Wo, ac);
                                  }));
    for (auto [k, st] : {std::pair<int, int>{2, 2}, {3, 2}, {1, 1}})
        v.push_back(make_case("avg_pool2d", "[2, 3, 9, 8] k" + std::to_string(k) + " s" + std::to_string(st) + " (floors)",
                              {{2, 3, 9, 8}}, 1, 0, [k = k, st = st](auto on, const auto& x) {
                                  using B = typename decltype(on)::Backend;
                                  return B::avg_pool2d(x[0], k, st);
                              }));
    // ---- attention: Lq != Lk, causal, head dims the kernel pads (not 32 / 64 / 128) ----
    // (causal needs Lq == Lk on the CPU, so the GPU's top-left-aligned Lq != Lk mask has no reference)
    for (auto [Bn, H, Lq, Lk, D, causal] :
         {std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, bool>{1, 1, 1, 1, 1, false}, {2, 3, 37, 53, 32, false},
          {1, 2, 100, 29, 64, false}, {1, 2, 70, 70, 64, true}, {1, 1, 65, 65, 128, true}, {2, 1, 33, 17, 40, false},
          {1, 2, 130, 77, 80, false}, {1, 1, 129, 129, 16, true}})
        v.push_back(ranged(make_case("attention",
                                     "q " + dims({Bn, H, Lq, D}) + " kv " + dims({Bn, H, Lk, D}) + (causal ? " causal" : ""),
                                     {{Bn, H, Lq, D}, {Bn, H, Lk, D}, {Bn, H, Lk, D}}, 1, 4.0 * Bn * H * Lq * Lk * D,
                                     [causal = causal](auto on, const auto& x) {
                                         return OpsOf<typename decltype(on)::Backend>::attention(x[0], x[1], x[2], causal, 0.f);
                                     }),
                           {{-2.f, 2.f}, {-2.f, 2.f}, {-1.f, 1.f}}));
    v.push_back(make_case("attention", "q [1, 1, 9, 8] kv [1, 1, 11, 8] scale 0.7", {{1, 1, 9, 8}, {1, 1, 11, 8}, {1, 1, 11, 8}},
                          1, 0, [](auto on, const auto& x) {
                              return OpsOf<typename decltype(on)::Backend>::attention(x[0], x[1], x[2], false, 0.7f);
                          }));
    v.push_back(make_case("attention_tokens", "q [2, 45, 128] kv [2, 21, 128] heads 4",
                          {{2, 45, 128}, {2, 21, 128}, {2, 21, 128}}, 1, 4.0 * 2 * 45 * 21 * 128,
                          [](auto on, const auto& x) {
                              using B = typename decltype(on)::Backend;
                              return B::attention_tokens(x[0], x[1], x[2], 4, float(1.0 / std::sqrt(32.0)));
                          }));
    v.push_back(ranged(make_case("multi_head_self_attention", "[2, 13, 64] heads 4 causal (text tower)",
                                 {{2, 13, 64}, {192, 64}, {192}, {64, 64}, {64}}, 2, 2.0 * 2 * 13 * 64 * 256,
                                 [](auto on, const auto& x) {
                                     using B = typename decltype(on)::Backend;
                                     return B::multi_head_self_attention(x[0], x[1], x[2], x[3], x[4], 4, true);
                                 }),
                       {{-1.f, 1.f}, {-0.2f, 0.2f}, {-0.1f, 0.1f}, {-0.2f, 0.2f}, {-0.1f, 0.1f}}));
}

std::vector<OpCase> all_cases() {
    using errseg::ops::Conv2dParams;
    using errseg::ops::ConvTranspose2dParams;
    std::vector<OpCase> v;
    const auto unary = [&](const char* op, auto call) {
        v.push_back(make_case(op, "[3, 5, 67]", {{3, 5, 67}}, 1, 3 * 5 * 67, [call](auto on, const auto& in) {
            using B = typename decltype(on)::Backend;
            return call(On<B>{}, in[0]);
        }));
    };
#define ERRSEG_CALL(expr) [](auto on, const auto& x) { using B = typename decltype(on)::Backend; return expr; }
    // ---- layout ----
    v.push_back(make_case("permute", "[2, 3, 5] {2, 0, 1}", {{2, 3, 5}}, 1, 0, [](auto on, const auto& in) {
        using B = typename decltype(on)::Backend;
        return B::contiguous(B::permute(in[0], {2, 0, 1}));
    }));
    v.push_back(make_case("permute_copy", "[2, 3, 5] {1, 2, 0}", {{2, 3, 5}}, 1, 0, [](auto on, const auto& in) {
        using B = typename decltype(on)::Backend;
        return B::permute_copy(in[0], {1, 2, 0});
    }));
    v.push_back(make_case("contiguous", "[4, 6]", {{4, 6}}, 1, 0, [](auto on, const auto& in) {
        using B = typename decltype(on)::Backend;
        return B::contiguous(in[0]);
    }));
    v.push_back(make_case("slice0", "[5, 3] 1..4", {{5, 3}}, 1, 0, [](auto on, const auto& in) {
        using B = typename decltype(on)::Backend;
        return B::contiguous(B::slice0(in[0], 1, 4));
    }));
    v.push_back(make_case("select0", "[4, 3, 2] 2", {{4, 3, 2}}, 1, 0, [](auto on, const auto& in) {
        using B = typename decltype(on)::Backend;
        return B::contiguous(B::select0(in[0], 2));
    }));
    v.push_back(make_case("concat", "[2, 3] + [2, 5] dim 1", {{2, 3}, {2, 5}}, 1, 0, [](auto on, const auto& in) {
        using B = typename decltype(on)::Backend;
        return B::concat({in[0], in[1]}, 1);
    }));
    v.push_back(make_case("pad2d", "[1, 2, 5, 6] (1, 2, 0, 1) 0.5", {{1, 2, 5, 6}}, 1, 0, [](auto on, const auto& in) {
        using B = typename decltype(on)::Backend;
        return B::pad2d(in[0], 1, 2, 0, 1, 0.5f);
    }));
    v.push_back(make_case("index_select", "[6, 4] dim 0 {5, 0, 2, 2}", {{6, 4}}, 1, 0, [](auto on, const auto& in) {
        using B = typename decltype(on)::Backend;
        return B::index_select(in[0], 0, {5, 0, 2, 2});
    }));
    // ---- products and convolutions ----
    for (auto [M, N, K] : {std::array<int64_t, 3>{21, 17, 33}, {256, 384, 768}})
        v.push_back(make_case("linear", "[" + std::to_string(M) + ", " + std::to_string(K) + "] x [" +
                                            std::to_string(N) + ", " + std::to_string(K) + "] + bias",
                              {{M, K}, {N, K}, {N}}, std::sqrt(double(K)), 2.0 * M * N * K,
                              [](auto on, const auto& in) {
                                  using B = typename decltype(on)::Backend;
                                  return B::linear(in[0], in[1], in[2]);
                              }));
    for (bool trans_b : {false, true})
        v.push_back(make_case("matmul", std::string("[2, 9, 33] x [2, 33, 12]") + (trans_b ? " trans_b" : ""),
                              {{2, 9, 33}, trans_b ? Shape{2, 12, 33} : Shape{2, 33, 12}}, 6, 2.0 * 2 * 9 * 12 * 33,
                              [trans_b](auto on, const auto& in) {
                                  using B = typename decltype(on)::Backend;
                                  return B::matmul(in[0], in[1], trans_b);
                              }));
    {
        Conv2dParams p;
        p.stride_h = p.stride_w = 2;
        p.pad_h = p.pad_w = 1;
        v.push_back(make_case("conv2d", "[2, 8, 13, 11] * [16, 8, 3, 3] s2 p1", {{2, 8, 13, 11}, {16, 8, 3, 3}, {16}},
                              8.5, 2.0 * 2 * 16 * 7 * 6 * 8 * 9, [p](auto on, const auto& in) {
                                  using B = typename decltype(on)::Backend;
                                  return B::conv2d(in[0], in[1], in[2], p);
                              }));
        Conv2dParams dw;
        dw.pad_h = dw.pad_w = 3;
        dw.groups = 16;
        v.push_back(make_case("conv2d", "depthwise [2, 16, 12, 10] * [16, 1, 7, 7] p3", {{2, 16, 12, 10}, {16, 1, 7, 7}, {16}},
                              7, 2.0 * 2 * 16 * 12 * 10 * 49, [dw](auto on, const auto& in) {
                                  using B = typename decltype(on)::Backend;
                                  return B::conv2d(in[0], in[1], in[2], dw);
                              }));
        Conv2dParams big;
        big.pad_h = big.pad_w = 1;
        v.push_back(make_case("conv2d", "[1, 128, 64, 64] * [128, 128, 3, 3] p1", {{1, 128, 64, 64}, {128, 128, 3, 3}, {}},
                              34, 2.0 * 128 * 64 * 64 * 128 * 9, [big](auto on, const auto& in) {
                                  using B = typename decltype(on)::Backend;
                                  return B::conv2d(in[0], in[1], typename B::Tensor(), big);
                              }));
    }
    v.push_back(make_case("conv2d_depthwise_nhwc", "[2, 9, 7, 16] * [16, 1, 7, 7] p3", {{2, 9, 7, 16}, {16, 1, 7, 7}, {16}},
                          7, 2.0 * 2 * 9 * 7 * 16 * 49, [](auto on, const auto& in) {
                              using B = typename decltype(on)::Backend;
                              return B::conv2d_depthwise_nhwc(in[0], in[1], in[2], 3, 3);
                          }));
    {
        ConvTranspose2dParams p;
        p.stride_h = p.stride_w = 2;
        v.push_back(make_case("conv_transpose2d", "[1, 8, 5, 6] * [8, 4, 2, 2] s2", {{1, 8, 5, 6}, {8, 4, 2, 2}, {4}},
                              3, 2.0 * 8 * 5 * 6 * 4 * 4, [p](auto on, const auto& in) {
                                  using B = typename decltype(on)::Backend;
                                  return B::conv_transpose2d(in[0], in[1], in[2], p);
                              }));
    }
    // ---- normalisations ----
    v.push_back(make_case("layer_norm", "[3, 5, 64]", {{3, 5, 64}, {64}, {64}}, 4, 8.0 * 3 * 5 * 64,
                          [](auto on, const auto& in) {
                              using B = typename decltype(on)::Backend;
                              return B::layer_norm(in[0], in[1], in[2], 1e-5f);
                          }));
    v.push_back(make_case("layer_norm2d", "[2, 16, 5, 7]", {{2, 16, 5, 7}, {16}, {16}}, 4, 8.0 * 2 * 16 * 35,
                          [](auto on, const auto& in) {
                              using B = typename decltype(on)::Backend;
                              return B::layer_norm2d(in[0], in[1], in[2], 1e-6f);
                          }));
    v.push_back(make_case("group_norm", "[2, 16, 5, 7] groups 4", {{2, 16, 5, 7}, {16}, {16}}, 4, 8.0 * 2 * 16 * 35,
                          [](auto on, const auto& in) {
                              using B = typename decltype(on)::Backend;
                              return B::group_norm(in[0], 4, in[1], in[2], 1e-5f);
                          }));
    // ---- fused epilogues: act(op(...)) + residual, the residual whole or broadcast over dim 0 ----
    using errseg::Activation;
    const auto act_name = [](Activation a) { return std::string(errseg::activation_name(a)); };
    for (auto [M, N, K, act, res] : {std::tuple<int64_t, int64_t, int64_t, Activation, int>{37, 67, 40, Activation::Gelu, 2},
                                     {37, 67, 40, Activation::QuickGelu, 1},
                                     {200, 96, 64, Activation::Relu6, 0},   // a GEMM split by rows
                                     {30, 500, 64, Activation::Gelu, 1}}) { // ... and by columns
        // x [2, M, K]; residual [2, M, N] (2), [M, N] (1, broadcast) or none (0).
        std::vector<Shape> in{{2, M, K}, {N, K}, {N}};
        if (res) in.push_back(res == 2 ? Shape{2, M, N} : Shape{M, N});
        v.push_back(make_fused_case(
            "linear",
            "[2, " + std::to_string(M) + ", " + std::to_string(K) + "] x [" + std::to_string(N) + ", " +
                std::to_string(K) + "] " + act_name(act) + (res == 2 ? " + residual" : res ? " + residual [M, N]" : ""),
            in, std::sqrt(double(K)), 4.0 * M * N * K,
            [act = act](auto on, const auto& x) {
                using B = typename decltype(on)::Backend;
                return B::linear(x[0], x[1], x[2], act, x.size() > 3 ? x[3] : typename B::Tensor());
            },
            [act = act](auto, const auto& x) {
                Tensor y = errseg::ops::activation(errseg::ops::linear(x[0], x[1], x[2]), act);
                return x.size() > 3 ? errseg::ops::add(y, x[3]) : y;
            }));
    }
    // gated_mlp: x [3, 150, 32] is 450 rows, more than one of its row chunks and a partial one.
    for (auto [act1, act3, res] : {std::tuple<Activation, Activation, bool>{Activation::Relu6, Activation::None, false},
                                   {Activation::Gelu, Activation::Relu6, true}}) {
        std::vector<Shape> in{{3, 150, 32}, {96, 32}, {96}, {96, 32}, {96}, {32, 96}, {32}};
        if (res) in.push_back({3, 150, 32});
        v.push_back(make_fused_case(
            "gated_mlp",
            "[3, 150, 32] hidden 96 " + act_name(act1) + " then " + act_name(act3) + (res ? " + residual" : ""), in,
            std::sqrt(96.0), 2.0 * 450 * 32 * 96 * 3,
            [act1 = act1, act3 = act3](auto on, const auto& x) {
                using B = typename decltype(on)::Backend;
                return B::gated_mlp(x[0], x[1], x[2], act1, x[3], x[4], x[5], x[6], act3,
                                    x.size() > 7 ? x[7] : typename B::Tensor());
            },
            [act1 = act1, act3 = act3](auto, const auto& x) {
                namespace ops = errseg::ops;
                const Tensor u = ops::mul(ops::linear(x[0], x[1], x[2], act1), ops::linear(x[0], x[3], x[4]));
                return ops::linear(u, x[5], x[6], act3, x.size() > 7 ? x[7] : Tensor());
            }));
    }
    {
        struct ConvCase {
            const char* what;
            Shape x, w;
            Conv2dParams p;
            Activation act;
            bool broadcast;
        };
        Conv2dParams s2;
        s2.stride_h = s2.stride_w = 2;
        s2.pad_h = s2.pad_w = 1;
        Conv2dParams dw;
        dw.pad_h = dw.pad_w = 3;
        dw.groups = 16;
        for (const ConvCase& k : {ConvCase{"3x3 s2 p1", {2, 8, 13, 11}, {16, 8, 3, 3}, s2, Activation::Relu6, false},
                                  ConvCase{"1x1", {2, 24, 9, 7}, {40, 24, 1, 1}, Conv2dParams{}, Activation::Gelu, true},
                                  ConvCase{"depthwise 7x7 p3", {2, 16, 12, 10}, {16, 1, 7, 7}, dw, Activation::QuickGelu, false},
                                  ConvCase{"2x2 s2", {3, 16, 8, 8}, {32, 16, 2, 2}, [] {
                                      Conv2dParams q;
                                      q.stride_h = q.stride_w = 2;
                                      return q;
                                  }(), Activation::None, true}}) {
            const errseg::ops::Conv2dShape cs = errseg::ops::conv2d_shape(k.x, k.w, k.p);
            const Shape res{k.broadcast ? 1 : cs.N, cs.O, cs.Ho, cs.Wo};
            v.push_back(make_fused_case(
                "conv2d",
                std::string(k.what) + " " + errseg::shape_str(k.x) + " " + act_name(k.act) + " + residual " +
                    errseg::shape_str(res),
                {k.x, k.w, {cs.O}, res}, 8, 2.0 * cs.N * cs.O * cs.Ho * cs.Wo * k.w[1] * k.w[2] * k.w[3],
                [k](auto on, const auto& x) {
                    using B = typename decltype(on)::Backend;
                    return B::conv2d(x[0], x[1], x[2], k.p, k.act, x[3]);
                },
                [k](auto, const auto& x) {
                    return errseg::ops::add(errseg::ops::activation(errseg::ops::conv2d(x[0], x[1], x[2], k.p), k.act), x[3]);
                }));
        }
    }
    for (bool broadcast : {false, true})
        v.push_back(make_fused_case(
            "group_norm", std::string("[2, 16, 5, 7] groups 4 relu + residual ") + (broadcast ? "[16, 5, 7]" : "[2, 16, 5, 7]"),
            {{2, 16, 5, 7}, {16}, {16}, broadcast ? Shape{16, 5, 7} : Shape{2, 16, 5, 7}}, 4, 8.0 * 2 * 16 * 35,
            [](auto on, const auto& x) {
                using B = typename decltype(on)::Backend;
                return B::group_norm(x[0], 4, x[1], x[2], 1e-5f, errseg::Activation::Relu, x[3]);
            },
            [](auto, const auto& x) {
                return errseg::ops::add(errseg::ops::relu(errseg::ops::group_norm(x[0], 4, x[1], x[2], 1e-5f)), x[3]);
            }));
    v.push_back(make_case("l2_normalize", "[6, 33]", {{6, 33}}, 1, 3.0 * 6 * 33, [](auto on, const auto& in) {
        using B = typename decltype(on)::Backend;
        return B::l2_normalize(in[0], 1e-12f);
    }));
    v.push_back(make_case("normalize_rows", "[6, 33]", {{6, 33}}, 1, 3.0 * 6 * 33, [](auto on, const auto& in) {
        using B = typename decltype(on)::Backend;
        return B::normalize_rows(in[0]);
    }));
    // ---- elementwise and reductions ----
    unary("gelu", ERRSEG_CALL(B::gelu(x)));
    unary("quick_gelu", ERRSEG_CALL(B::quick_gelu(x)));
    unary("relu", ERRSEG_CALL(B::relu(x)));
    unary("relu6", ERRSEG_CALL(B::relu6(B::scale(x, 8.f))));
    unary("clamp", ERRSEG_CALL(B::clamp(x, -0.5f, 0.25f)));
    unary("scale", ERRSEG_CALL(B::scale(x, 1.7f)));
    v.push_back(make_case("add", "[2, 3, 4] + [3, 1] (broadcast)", {{2, 3, 4}, {3, 1}}, 2, 24, [](auto on, const auto& in) {
        using B = typename decltype(on)::Backend;
        return B::add(in[0], in[1]);
    }));
    v.push_back(make_case("mul", "[2, 3, 4] * [4]", {{2, 3, 4}, {4}}, 1, 24, [](auto on, const auto& in) {
        using B = typename decltype(on)::Backend;
        return B::mul(in[0], in[1]);
    }));
    v.push_back(make_case("add_", "[5, 7] += [5, 7]", {{5, 7}, {5, 7}}, 2, 35, [](auto on, const auto& in) {
        using B = typename decltype(on)::Backend;
        typename B::Tensor a = B::scale(in[0], 1.f);  // a fresh tensor (add_ needs its own storage)
        B::add_(a, in[1]);
        return a;
    }));
    for (int64_t dim : {2, 1})
        v.push_back(make_case("mean", "[2, 16, 35] dim " + std::to_string(dim), {{2, 16, 35}}, 1, 2 * 16 * 35,
                              [dim](auto on, const auto& in) {
                                  using B = typename decltype(on)::Backend;
                                  return B::mean(in[0], dim);
                              }));
    // ---- resampling ----
    for (bool align : {false, true})
        v.push_back(make_case("resize_bilinear", std::string("[1, 3, 7, 9] -> 13x5") + (align ? " align_corners" : ""),
                              {{1, 3, 7, 9}}, 1, 8.0 * 3 * 13 * 5, [align](auto on, const auto& in) {
                                  using B = typename decltype(on)::Backend;
                                  return B::resize_bilinear(in[0], 13, 5, align);
                              }));
    v.push_back(make_case("avg_pool2d", "[1, 4, 8, 8] k2 s2", {{1, 4, 8, 8}}, 1, 4 * 64, [](auto on, const auto& in) {
        using B = typename decltype(on)::Backend;
        return B::avg_pool2d(in[0], 2, 2);
    }));
    // ---- attention ----
    for (auto [L, C] : {std::array<int64_t, 2>{10, 64}, {1024, 512}})
        v.push_back(make_case("attention_tokens",
                              "q [2, " + std::to_string(L) + ", " + std::to_string(C) + "] kv [2, " + std::to_string(L + 2) +
                                  "] heads 4",
                              {{2, L, C}, {2, L + 2, C}, {2, L + 2, C}}, 1, 4.0 * 2 * L * (L + 2) * C,
                              [](auto on, const auto& in) {
                                  using B = typename decltype(on)::Backend;
                                  return B::attention_tokens(in[0], in[1], in[2], 4, 0.125f);
                              }));
    for (bool causal : {false, true})
        v.push_back(make_case("multi_head_self_attention", std::string("[2, 7, 32] heads 4") + (causal ? " causal" : ""),
                              {{2, 7, 32}, {96, 32}, {96}, {32, 32}, {32}}, 2, 2.0 * 2 * 7 * 32 * 128 + 4.0 * 2 * 49 * 32,
                              [causal](auto on, const auto& in) {
                                  using B = typename decltype(on)::Backend;
                                  return B::multi_head_self_attention(in[0], in[1], in[2], in[3], in[4], 4, causal);
                              }));
#undef ERRSEG_CALL
    add_device_test_cases(v);
    return v;
}

// atol / rtol for outputs stored in dt, relative to the typical output magnitude.
std::pair<double, double> tolerance(DType dt, double scale) {
    switch (dt) {
        case DType::F16: return {4e-3 * scale, 4e-3};
        case DType::BF16: return {3e-2 * scale, 3e-2};
        default: return {3e-5 * scale, 3e-5};
    }
}

// "" when got matches want; otherwise what is wrong.
std::string compare(const Tensor& got, const Tensor& want, DType dt, double scale) {
    if (got.shape() != want.shape())
        return "shape " + errseg::shape_str(got.shape()) + ", want " + errseg::shape_str(want.shape());
    const auto [atol, rtol] = tolerance(dt, scale);
    const float* g = got.data<float>();
    const float* w = want.data<float>();
    int64_t bad = 0, worst = -1;
    double worst_excess = 0;
    for (int64_t i = 0; i < got.numel(); ++i) {
        const double d = std::fabs(double(g[i]) - double(w[i])), lim = atol + rtol * std::fabs(double(w[i]));
        if (!(d <= lim) && !(std::isnan(g[i]) && std::isnan(w[i]))) {
            ++bad;
            if (worst < 0 || d - lim > worst_excess) worst = i, worst_excess = d - lim;
        }
    }
    if (!bad) return "";
    char buf[256];
    std::snprintf(buf, sizeof buf, "%lld of %lld out of tolerance; worst at %lld: got %g, want %g (atol %g, rtol %g)",
                  (long long)bad, (long long)got.numel(), (long long)worst, double(g[worst]), double(w[worst]), atol,
                  rtol);
    return buf;
}

struct Options {
    bool perf = false;
    std::string only;
};

struct Totals {
    int passed = 0, failed = 0, skipped = 0;
};

// Runs one case on backend B in dtype dt: check against the reference, then (--perf) time it.
// "" when got has exactly want's bits.
std::string compare_exact(const Tensor& got, const Tensor& want) {
    if (got.shape() != want.shape())
        return "shape " + errseg::shape_str(got.shape()) + ", want " + errseg::shape_str(want.shape());
    const float* g = got.data<float>();
    const float* w = want.data<float>();
    for (int64_t i = 0; i < got.numel(); ++i)
        if (std::memcmp(&g[i], &w[i], sizeof(float)) != 0) {
            char buf[160];
            std::snprintf(buf, sizeof buf, "not bit-identical to the separate ops at %lld: got %a, want %a",
                          (long long)i, double(g[i]), double(w[i]));
            return buf;
        }
    return "";
}

// Runs one case on backend B in dtype dt: check against the reference (exactly: `exact`, at 1
// and 3 threads), then (--perf) time it.
template <class B, class Run>
void run_on(const char* backend, DType dt, const OpCase& c, const std::vector<Tensor>& host_inputs,
            const Tensor& reference, const Options& opt, Run run, Totals& totals, bool exact = false) {
    std::vector<typename B::Tensor> in;
    for (const Tensor& h : host_inputs) in.push_back(h.defined() && h.numel() ? B::upload(h) : typename B::Tensor());
    std::string problem;
    try {
        if (exact) {
            const int threads = errseg::get_num_threads();
            for (int t : {1, 3}) {
                errseg::set_num_threads(t);
                if (problem.empty()) problem = compare_exact(B::download(run(On<B>{}, in)).to_f32(), reference);
            }
            errseg::set_num_threads(threads);
        } else {
            problem = compare(B::download(run(On<B>{}, in)).to_f32(), reference, dt, c.tol_scale);
        }
    } catch (const std::exception& e) {
        problem = std::string("threw: ") + e.what();
    }
    std::printf("  %-5s %-4s %-60s %s\n", backend, errseg::dtype_name(dt), c.name.c_str(),
                problem.empty() ? "OK" : ("FAIL " + problem).c_str());
    (problem.empty() ? totals.passed : totals.failed)++;
    if (!opt.perf || !problem.empty() || c.flops <= 0) return;
    int iters = 1;
    double seconds = 0;
    for (;; iters *= 4) {  // at least ~0.2 s of work
        const auto t0 = std::chrono::steady_clock::now();
        typename B::Tensor last;
        for (int i = 0; i < iters; ++i) last = run(On<B>{}, in);
        (void)B::download(last);  // waits for the GPU
        seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (seconds > 0.2 || iters >= (1 << 20)) break;
    }
    std::printf("        perf: %10.3f us/call  %8.2f GFLOP/s\n", 1e6 * seconds / iters, c.flops * iters / seconds / 1e9);
}

}  // namespace

int main(int argc, char** argv) {
    Options opt;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--perf")) opt.perf = true;
        else if (!std::strcmp(argv[i], "-o") && i + 1 < argc) opt.only = argv[++i];
        else {
            std::fprintf(stderr, "usage: %s [--perf] [-o OP]\n", argv[0]);
            return 2;
        }
    }
    const std::vector<OpCase> cases = all_cases();

    // Every op of the Backend interface has a case (upload/download take part in every one).
    std::set<std::string> covered{"upload", "download"};
    for (const OpCase& c : cases) covered.insert(c.op);
    int missing = 0;
#define ERRSEG_COVERED(Ret, name, params, args)                                        \
    if (!covered.count(#name)) {                                                       \
        std::printf("no case for Backend op '%s' (add one to all_cases)\n", #name);   \
        ++missing;                                                                     \
    }
    ERRSEG_BACKEND_OPS(ERRSEG_COVERED)
#undef ERRSEG_COVERED
    if (missing) return 1;

#if defined(ERRSEG_WITH_CUDA)
    const bool gpu = errseg::cuda::cuda_device_count() > 0;
    if (!gpu)
        std::printf("cuda: SKIPPED - no CUDA device (%s); CPU runs only\n",
                    errseg::cuda::cuda_unavailable_reason().c_str());
#endif
    Totals totals;
    uint32_t seed = 1;
    for (const OpCase& c : cases) {
        if (!opt.only.empty() && c.name.rfind(opt.only, 0) != 0) continue;
        const bool perf_sized = c.flops > 1e8;  // the large cases only run with --perf
        if (perf_sized && !opt.perf) continue;
        std::vector<Tensor> f32_inputs;
        for (size_t i = 0; i < c.inputs.size(); ++i) {
            const auto [lo, hi] = i < c.ranges.size() ? c.ranges[i] : std::pair<float, float>{c.lo, c.hi};
            f32_inputs.push_back(c.inputs[i].empty() ? Tensor() : errseg_test::rand_tensor(c.inputs[i], seed++, lo, hi));
        }
        if (c.prepare) c.prepare(f32_inputs);
        for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
#if defined(ERRSEG_WITH_CUDA)
            if (dt != DType::F32 && !gpu) {
                ++totals.skipped;
                continue;
            }
#else
            if (dt != DType::F32) continue;  // only the GPU computes in F16 / BF16
#endif
            std::vector<Tensor> inputs;
            for (const Tensor& t : f32_inputs) inputs.push_back(t.defined() ? errseg_test::quantize(t, dt) : Tensor());
            const Tensor reference = (c.unfused ? c.unfused : c.on_cpu)(On<errseg::CpuBackend>{}, inputs).to_f32();
            if (dt == DType::F32)
                run_on<errseg::CpuBackend>("cpu", dt, c, inputs, reference, opt, c.on_cpu, totals, bool(c.unfused));
#if defined(ERRSEG_WITH_CUDA)
            if (gpu) {
                errseg::cuda::PrecisionScope scope(dt);
                run_on<errseg::cuda::CudaBackend>("cuda", dt, c, inputs, reference, opt, c.on_cuda, totals);
            } else {
                ++totals.skipped;
            }
#endif
        }
    }
    std::printf("%d passed, %d failed, %d skipped (no device)\n", totals.passed, totals.failed, totals.skipped);
#if defined(ERRSEG_WITH_CUDA)
    if (!gpu) std::printf("test_backend_ops: SKIPPED - no CUDA device for the GPU runs\n");
#endif
    return totals.failed ? 1 : 0;
}
