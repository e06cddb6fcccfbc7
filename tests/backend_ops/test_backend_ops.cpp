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
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <set>
#include <string>
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
    double tol_scale = 1.0;                  // typical output magnitude (scales atol)
    double flops = 0;                        // per call, for --perf
    std::function<Tensor(On<errseg::CpuBackend>, const std::vector<Tensor>&)> on_cpu;
#if defined(ERRSEG_WITH_CUDA)
    std::function<errseg::cuda::DeviceTensor(On<errseg::cuda::CudaBackend>,
                                             const std::vector<errseg::cuda::DeviceTensor>&)>
        on_cuda;
#endif
};

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
template <class B, class Run>
void run_on(const char* backend, DType dt, const OpCase& c, const std::vector<Tensor>& host_inputs,
            const Tensor& reference, const Options& opt, Run run, Totals& totals) {
    std::vector<typename B::Tensor> in;
    for (const Tensor& h : host_inputs) in.push_back(h.defined() && h.numel() ? B::upload(h) : typename B::Tensor());
    std::string problem;
    try {
        const Tensor got = B::download(run(On<B>{}, in)).to_f32();
        problem = compare(got, reference, dt, c.tol_scale);
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
        for (const Shape& s : c.inputs)
            f32_inputs.push_back(s.empty() ? Tensor() : errseg_test::rand_tensor(s, seed++, c.lo, c.hi));
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
            const Tensor reference = c.on_cpu(On<errseg::CpuBackend>{}, inputs).to_f32();  // errseg::ops
            if (dt == DType::F32)
                run_on<errseg::CpuBackend>("cpu", dt, c, inputs, reference, opt, c.on_cpu, totals);
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
