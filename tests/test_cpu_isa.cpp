// Run-time CPU dispatch (core/cpu_isa.hpp, ops/detail/isa_kernels.hpp): every dispatched kernel
// on every instruction-set path this CPU supports, against a naive float64 reference and against
// the baseline path; the ERR-Seg fixtures' labels across paths; the choice and its errors.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#include "errseg/errseg.hpp"
#include "error_of.hpp"
#include "random_tensors.hpp"

using namespace errseg;
using errseg_test::rand_tensor;

namespace {

// The paths this CPU can run, lowest first.
std::vector<CpuIsa> supported_isas() {
    std::vector<CpuIsa> v;
    for (CpuIsa isa : {CpuIsa::sse2, CpuIsa::avx2, CpuIsa::avx512})
        if (isa <= detect_cpu_isa()) v.push_back(isa);
    return v;
}

// Runs f on `isa`, then restores the path that was active.
template <class F>
auto on_isa(CpuIsa isa, F&& f) {
    const CpuIsa before = active_cpu_isa();
    set_cpu_isa(isa);
    struct Restore {
        CpuIsa isa;
        ~Restore() { set_cpu_isa(isa); }
    } restore{before};
    return f();
}

// max |got - want| / (1 + |want|) over all elements; shapes must match.
double max_scaled_err(const Tensor& got, const std::vector<double>& want) {
    REQUIRE(size_t(got.numel()) == want.size());
    double e = 0;
    for (size_t i = 0; i < want.size(); ++i)
        e = std::max(e, std::fabs(double(got.data<float>()[i]) - want[i]) / (1.0 + std::fabs(want[i])));
    return e;
}

bool bit_equal(const Tensor& a, const Tensor& b) {
    return a.shape() == b.shape() &&
           std::memcmp(a.data<float>(), b.data<float>(), size_t(a.numel()) * sizeof(float)) == 0;
}

// C = A B^T (or A B) in float64.
std::vector<double> ref_matmul(const Tensor& a, const Tensor& b, bool trans_b) {
    const int64_t M = a.size(0), K = a.size(1), N = trans_b ? b.size(0) : b.size(1);
    std::vector<double> c(size_t(M * N), 0.0);
    const float *A = a.data<float>(), *B = b.data<float>();
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
            double s = 0;
            for (int64_t k = 0; k < K; ++k) s += double(A[i * K + k]) * (trans_b ? B[j * K + k] : B[k * N + j]);
            c[size_t(i * N + j)] = s;
        }
    return c;
}

// Depthwise conv, NCHW, float64: weight [C, 1, k, k].
std::vector<double> ref_depthwise(const Tensor& x, const Tensor& w, const Tensor& bias, int k, int stride, int pad,
                                  int dil) {
    const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    const int64_t Ho = (H + 2 * pad - dil * (k - 1) - 1) / stride + 1, Wo = (W + 2 * pad - dil * (k - 1) - 1) / stride + 1;
    std::vector<double> out(size_t(N * C * Ho * Wo));
    for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < C; ++c)
            for (int64_t oh = 0; oh < Ho; ++oh)
                for (int64_t ow = 0; ow < Wo; ++ow) {
                    double s = bias.data<float>()[c];
                    for (int i = 0; i < k; ++i)
                        for (int j = 0; j < k; ++j) {
                            const int64_t ih = oh * stride - pad + i * dil, iw = ow * stride - pad + j * dil;
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                            s += double(x.data<float>()[((n * C + c) * H + ih) * W + iw]) *
                                 w.data<float>()[(c * k + i) * k + j];
                        }
                    out[size_t(((n * C + c) * Ho + oh) * Wo + ow)] = s;
                }
    return out;
}

// NHWC <-> NCHW for the channels-last conv.
Tensor to_nhwc(const Tensor& x) { return x.permute({0, 2, 3, 1}).contiguous(); }
Tensor to_nchw(const Tensor& x) { return x.permute({0, 3, 1, 2}).contiguous(); }

}  // namespace

TEST_CASE("cpu isa: detection, names and forcing") {
    const CpuIsa cpu = detect_cpu_isa();
    MESSAGE("this CPU: " << std::string(cpu_isa_name(cpu)) << ", active: " << std::string(cpu_isa_name(active_cpu_isa())));
    CHECK(active_cpu_isa() <= cpu);
#if defined(ERRSEG_PORTABLE_VEC)
    CHECK(cpu == CpuIsa::sse2);  // only the baseline copy exists
#elif defined(__x86_64__)
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    CHECK((cpu >= CpuIsa::avx2) == avx2);
    CHECK((cpu == CpuIsa::avx512) == (avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                                      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")));
#endif
    for (CpuIsa isa : supported_isas()) {
        CHECK(parse_cpu_isa(cpu_isa_name(isa)) == isa);
        on_isa(isa, [&] { CHECK(active_cpu_isa() == isa); return 0; });
    }
    CHECK(error_of([] { parse_cpu_isa("avx3"); }).find("unknown CPU instruction set 'avx3'") != std::string::npos);
    if (cpu != CpuIsa::avx512) {
        const std::string e = error_of([] { set_cpu_isa(CpuIsa::avx512); });
        CHECK(e.find("avx512 requested but this CPU supports at most") != std::string::npos);
    }
}

TEST_CASE("cpu isa: ERRSEG_ISA lowers the path; more than the CPU has, or a bad name, is an error") {
    const char* old = std::getenv("ERRSEG_ISA");
    const std::string saved = old ? old : "";
    ::setenv("ERRSEG_ISA", "sse2", 1);
    CHECK(default_cpu_isa() == CpuIsa::sse2);
    ::setenv("ERRSEG_ISA", "sse4", 1);
    CHECK(error_of([] { default_cpu_isa(); }).find("ERRSEG_ISA: unknown CPU instruction set 'sse4'") !=
          std::string::npos);
    if (detect_cpu_isa() != CpuIsa::avx512) {
        ::setenv("ERRSEG_ISA", "avx512", 1);
        CHECK(error_of([] { default_cpu_isa(); }).find("asks for avx512 but this CPU supports at most") !=
              std::string::npos);
    }
    ::setenv("ERRSEG_ISA", "", 1);
    CHECK(default_cpu_isa() == detect_cpu_isa());
    if (old) ::setenv("ERRSEG_ISA", saved.c_str(), 1);
    else ::unsetenv("ERRSEG_ISA");
}

TEST_CASE("cpu isa: the GEMM on every path against float64, partial tiles and every transpose") {
    // Sizes around every path's tiles (6x8, 6x16, 8x48), the k block (256), the column chunks
    // (at most 768, split evenly: 1,700 = 576 + 576 + 548) and thread splits. Up to 32 rows the
    // kernel reads a row-major B in place (ragged panels packed), else packs it.
    const int64_t shapes[][3] = {{1, 1, 1},    {5, 7, 3},      {6, 16, 8},     {8, 48, 17},
                                 {13, 50, 257}, {25, 97, 64},  {96, 130, 300}, {200, 60, 520},
                                 {7, 2100, 33}, {32, 96, 300}, {17, 32, 513},  {40, 128, 129},
                                 {40, 1700, 270}};
    for (const auto& s : shapes) {
        const int64_t M = s[0], N = s[1], K = s[2];
        for (bool trans_b : {false, true}) {
            const Tensor a = rand_tensor({M, K}, uint32_t(M * 7 + K));
            const Tensor b = trans_b ? rand_tensor({N, K}, uint32_t(N + 3)) : rand_tensor({K, N}, uint32_t(N + 3));
            const std::vector<double> want = ref_matmul(a, b, trans_b);
            Tensor base;
            for (CpuIsa isa : supported_isas()) {
                const Tensor c = on_isa(isa, [&] { return ops::matmul(a, b, trans_b); });
                INFO(cpu_isa_name(isa) << " M=" << M << " N=" << N << " K=" << K << " trans_b=" << trans_b);
                CHECK(max_scaled_err(c, want) < 2e-6 * std::sqrt(double(K)) + 1e-6);
                if (!base.defined()) base = c;
                else CHECK(max_scaled_err(c, std::vector<double>(base.data<float>(), base.data<float>() + base.numel())) < 1e-5);
            }
        }
    }
    // Transposed A (the GEMM's packing of op(A) = A^T) and accumulation, through the raw entry.
    const int64_t M = 30, N = 70, K = 45;
    const Tensor at = rand_tensor({K, M}, 11), b = rand_tensor({K, N}, 12), c0 = rand_tensor({M, N}, 13);
    std::vector<double> want(size_t(M * N));
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
            double acc = c0.data<float>()[i * N + j];
            for (int64_t k = 0; k < K; ++k) acc += double(at.data<float>()[k * M + i]) * b.data<float>()[k * N + j];
            want[size_t(i * N + j)] = acc;
        }
    for (CpuIsa isa : supported_isas()) {
        Tensor c = c0.clone();
        on_isa(isa, [&] {
            ops::detail::gemm(M, N, K, {at.data<float>(), M, true}, {b.data<float>(), N, false}, c.data<float>(), N,
                              /*accumulate=*/true);
            return 0;
        });
        INFO(cpu_isa_name(isa));
        CHECK(max_scaled_err(c, want) < 1e-5);
    }
}

TEST_CASE("cpu isa: every GEMM kernel variant sums in the same order (bit-identical rows), on every path") {
    // 32 rows read B in place, 33 pack it; the row-major A is read in place, its transpose packed;
    // N = 40 ends in a narrower tile than N = 96. Each row's bits must not change between them.
    for (int64_t N : {40, 96}) {
        const Tensor a = rand_tensor({33, 300}, 21), b = rand_tensor({300, N}, 22);
        const Tensor at = a.transpose(0, 1).contiguous();
        for (CpuIsa isa : supported_isas()) {
            on_isa(isa, [&] {
                const Tensor all = ops::matmul(a, b);
                const Tensor top = ops::matmul(a.slice(0, 0, 32).contiguous(), b);
                Tensor via_at = Tensor::empty({33, N});
                ops::detail::gemm(33, N, 300, {at.data<float>(), 33, true}, {b.data<float>(), N, false},
                                  via_at.data<float>(), N);
                INFO(cpu_isa_name(isa) << " N=" << N);
                CHECK(bit_equal(top, all.slice(0, 0, 32).contiguous()));
                CHECK(bit_equal(all, via_at));
                return 0;
            });
        }
    }
}

TEST_CASE("cpu isa: a bias added in the GEMM's store gives the bits of adding it after, on every path") {
    // linear: one bias per column; conv2d: one per GEMM row (output channel). K = 300 spans two
    // k blocks (the bias joins the first); 40 columns end in a narrow tile; 3 output channels are
    // a partial row tile.
    const Tensor x = rand_tensor({33, 300}, 31), w = rand_tensor({40, 300}, 32), bias = rand_tensor({40}, 33);
    const Tensor img = rand_tensor({2, 20, 9, 11}, 34), cw = rand_tensor({3, 20, 3, 3}, 35), cb = rand_tensor({3}, 36);
    for (CpuIsa isa : supported_isas()) {
        on_isa(isa, [&] {
            INFO(cpu_isa_name(isa));
            // What linear did before: C filled with the bias, then every k block added to it.
            Tensor filled = Tensor::empty({33, 40});
            for (int64_t i = 0; i < 33; ++i) std::copy_n(bias.data<float>(), 40, filled.data<float>() + i * 40);
            ops::detail::gemm(33, 40, 300, {x.data<float>(), 300, false}, {w.data<float>(), 300, true},
                              filled.data<float>(), 40, /*accumulate=*/true);
            CHECK(bit_equal(ops::linear(x, w, bias), filled));
            // One k block: the same bits as adding the bias to the product.
            const Tensor x1 = x.slice(1, 0, 200).contiguous(), w1 = w.slice(1, 0, 200).contiguous();
            CHECK(bit_equal(ops::linear(x1, w1, bias), ops::add(ops::matmul(x1, w1, true), bias)));
            const Tensor plain = ops::conv2d(img, cw, Tensor(), ops::Conv2dParams{1, 1, 1, 1});
            CHECK(bit_equal(ops::conv2d(img, cw, cb, ops::Conv2dParams{1, 1, 1, 1}),
                            ops::add(plain, cb.reshape({1, 3, 1, 1}))));
            return 0;
        });
    }
}

TEST_CASE("cpu isa: GEMM results do not depend on the thread count, on every path") {
    const Tensor a = rand_tensor({300, 200}, 1), b = rand_tensor({500, 200}, 2);
    const int threads = get_num_threads();
    for (CpuIsa isa : supported_isas()) {
        on_isa(isa, [&] {
            set_num_threads(1);
            const Tensor one = ops::matmul(a, b, true);
            set_num_threads(std::max(2, threads));
            const Tensor many = ops::matmul(a, b, true);
            set_num_threads(threads);
            INFO(cpu_isa_name(isa));
            CHECK(bit_equal(one, many));
            return 0;
        });
    }
}

TEST_CASE("cpu isa: depthwise convolutions (NCHW fast and general, NHWC) on every path against float64") {
    struct Case {
        int k, stride, pad, dil;
        int64_t C, H, W;
    };
    // k 3/5/7 stride 1 take dw_plane_s1 (widths around 4/8/16 lanes); the others the general loop.
    const Case cases[] = {{7, 1, 3, 1, 5, 19, 23}, {7, 1, 3, 1, 3, 8, 16},  {5, 1, 2, 1, 4, 9, 33},
                          {3, 1, 1, 1, 6, 13, 5},  {3, 2, 1, 1, 4, 11, 12}, {3, 1, 2, 2, 3, 10, 9}};
    for (const Case& cs : cases) {
        const Tensor x = rand_tensor({2, cs.C, cs.H, cs.W}, 5), w = rand_tensor({cs.C, 1, cs.k, cs.k}, 6),
                     bias = rand_tensor({cs.C}, 7);
        const std::vector<double> want = ref_depthwise(x, w, bias, cs.k, cs.stride, cs.pad, cs.dil);
        ops::Conv2dParams p;
        p.stride_h = p.stride_w = cs.stride;
        p.pad_h = p.pad_w = cs.pad;
        p.dilation_h = p.dilation_w = cs.dil;
        p.groups = int(cs.C);
        for (CpuIsa isa : supported_isas()) {
            INFO(cpu_isa_name(isa) << " k=" << cs.k << " stride=" << cs.stride << " dil=" << cs.dil << " "
                                   << cs.H << "x" << cs.W);
            const Tensor y = on_isa(isa, [&] { return ops::conv2d(x, w, bias, p); });
            CHECK(max_scaled_err(y, want) < 1e-5);
            if (cs.stride == 1 && cs.dil == 1) {
                const Tensor yl = on_isa(isa, [&] { return ops::conv2d_depthwise_nhwc(to_nhwc(x), w, bias, cs.pad, cs.pad); });
                CHECK(max_scaled_err(to_nchw(yl), want) < 1e-5);
            }
        }
    }
    // Channels-last with more channels than one register block (64) plus a tail.
    const Tensor x = rand_tensor({1, 150, 6, 7}, 8), w = rand_tensor({150, 1, 7, 7}, 9), bias = rand_tensor({150}, 10);
    const std::vector<double> want = ref_depthwise(x, w, bias, 7, 1, 3, 1);
    for (CpuIsa isa : supported_isas()) {
        INFO(cpu_isa_name(isa));
        const Tensor yl = on_isa(isa, [&] { return ops::conv2d_depthwise_nhwc(to_nhwc(x), w, bias, 3, 3); });
        CHECK(max_scaled_err(to_nchw(yl), want) < 1e-5);
    }
}

TEST_CASE("cpu isa: ERR-Seg fixture labels agree across paths") {
    const std::string model_path = std::string(ERRSEG_BUILD_DIR) + "/test_models/errseg_tiny.safetensors";
    const std::string fixtures = std::string(ERRSEG_TEST_DATA) + "/fixtures/";
    const models::ErrSegModel m = models::ErrSegModel::load(model_path);
    const std::vector<std::string> vocab = {"wall", "floor", "ceiling", "bed", "window", "cabinet",
                                            "person", "door", "table", "sky", "tree", "grass"};
    const Tensor text = m.encode_classes(vocab);
    for (const std::string image : {"sample_400x300.png", "sample_257x385.png"}) {
        const Image img = load_image(fixtures + image);
        Tensor base_labels;
        for (CpuIsa isa : supported_isas()) {
            const auto r = on_isa(isa, [&] { return m.segment(img, text); });
            if (!base_labels.defined()) {
                base_labels = r.labels;
                continue;
            }
            int64_t same = 0;
            for (int64_t i = 0; i < r.labels.numel(); ++i)
                same += r.labels.data<int32_t>()[i] == base_labels.data<int32_t>()[i];
            const double agree = double(same) / double(r.labels.numel());
            MESSAGE(image << ": " << std::string(cpu_isa_name(isa)) << " labels agree with sse2 on " << 100.0 * agree << " %");
            CHECK(agree >= 0.9999);
        }
    }
}

namespace {

// Every 4099th float bit pattern (both signs, zeros, subnormals, normals, infinities, NaNs).
std::vector<float> float_sweep() {
    std::vector<float> v;
    for (uint64_t b = 0; b <= 0xffffffffull; b += 4099) {
        const uint32_t bits = uint32_t(b);
        float f;
        std::memcpy(&f, &bits, 4);
        v.push_back(f);
    }
    for (float f : {0.f, -0.f, 1.f, -1.f, 0.5f, -0.5f, 0.49999997f, 88.72283f, 88.72284f, -87.33654f, -103.97f,
                    -104.f, 1e-30f, -1e-30f, HUGE_VALF, -HUGE_VALF, NAN})
        v.push_back(f);
    return v;
}

// Runs a dispatched vmath kernel (out = f(in)) on `isa`.
template <class Kernel>
std::vector<float> run_block(CpuIsa isa, const std::vector<float>& in, Kernel k) {
    std::vector<float> out(in.size());
    on_isa(isa, [&] {
        ops::detail::on_cpu_isa([&](auto tag) { k(tag, in.data(), out.data(), int64_t(in.size())); });
        return 0;
    });
    return out;
}

}  // namespace

TEST_CASE("cpu isa: vector exp against std::exp over the whole float range, every path") {
    const std::vector<float> x = float_sweep();
    for (CpuIsa isa : supported_isas()) {
        const std::vector<float> y =
            run_block(isa, x, [](auto tag, const float* i, float* o, int64_t n) { exp_block(tag, i, o, n); });
        double max_rel = 0;
        int64_t bad = 0;
        for (size_t i = 0; i < x.size(); ++i) {
            const double want = std::exp(double(x[i]));
            const float wantf = float(want);
            if (std::isnan(x[i]) || std::isinf(wantf) || wantf == 0.f) {
                // NaN stays NaN; overflow is inf; results below half the smallest subnormal are 0
                // (within one subnormal step of the boundary either is right).
                const bool ok = std::isnan(x[i]) ? std::isnan(y[i])
                                                 : (y[i] == wantf || std::fabs(double(y[i]) - want) <= 1.5e-45);
                bad += !ok;
                continue;
            }
            if (wantf < 1.17549435e-38f) {  // subnormal results: absolute, one step
                bad += std::fabs(double(y[i]) - want) > 1.5e-45;
                continue;
            }
            const double rel = std::fabs(double(y[i]) - want) / want;
            max_rel = std::max(max_rel, rel);
            bad += rel > 2.5e-7;  // 2 ulp
        }
        MESSAGE(std::string(cpu_isa_name(isa)) << ": exp max rel err " << max_rel << " over " << x.size() << " floats");
        CHECK(bad == 0);
    }
}

TEST_CASE("cpu isa: vector erf and GELU against std::erf over the whole float range, every path") {
    const std::vector<float> x = float_sweep();
    for (CpuIsa isa : supported_isas()) {
        const std::vector<float> e =
            run_block(isa, x, [](auto tag, const float* i, float* o, int64_t n) { erf_block(tag, i, o, n); });
        const std::vector<float> g =
            run_block(isa, x, [](auto tag, const float* i, float* o, int64_t n) { gelu_block(tag, i, o, n); });
        double max_abs = 0, max_rel_small = 0, gelu_rel = 0;
        int64_t bad = 0;
        for (size_t i = 0; i < x.size(); ++i) {
            const double xd = x[i];
            if (std::isnan(xd)) {
                bad += !std::isnan(e[i]) + !std::isnan(g[i]);
                continue;
            }
            const double want = std::erf(xd), d = std::fabs(double(e[i]) - want);
            max_abs = std::max(max_abs, d);
            bad += d > 4e-7;  // absolute: A&S 7.1.26's 1.5e-7 plus fp32 rounding (3e-7 seen)
            if (std::fabs(xd) < 0.5 && std::fabs(want) > 1.2e-38) {  // small |x|: relative accuracy
                const double rel = d / std::fabs(want);
                max_rel_small = std::max(max_rel_small, rel);
                bad += rel > 2.5e-7;
            } else if (std::fabs(xd) < 0.5) {  // subnormal results: one step
                bad += d > 1.5e-45;
            }
            const double gw = 0.5 * xd * (1.0 + std::erf(xd / std::sqrt(2.0)));
            if (std::isinf(xd)) {
                bad += xd > 0 ? !(g[i] == HUGE_VALF) : !std::isnan(g[i]);  // -inf * 0, as 0.5 x (1 + erf)
                continue;
            }
            // GELU: error relative to |x| (the erf error scaled by x / 2) plus fp32 rounding of gw.
            const double gd = std::fabs(double(g[i]) - gw);
            if (std::fabs(xd) > 1e-30) gelu_rel = std::max(gelu_rel, gd / std::fabs(xd));
            bad += gd > 2.5e-7 * std::fabs(xd) + 1e-45;
        }
        MESSAGE(std::string(cpu_isa_name(isa)) << ": erf max abs err " << max_abs << ", max rel err (|x| < 0.5) "
                                                << max_rel_small << "; gelu max err / |x| " << gelu_rel);
        CHECK(bad == 0);
    }
}

TEST_CASE("cpu isa: softmax, sigmoid and GELU ops on every path agree within fp32 rounding") {
    const Tensor x = rand_tensor({7, 131}, 21, -30.f, 30.f);
    Tensor masked = rand_tensor({3, 20}, 22);
    for (int64_t j = 0; j < 20; ++j) masked.data<float>()[j] = -HUGE_VALF;  // a fully masked row
    const Tensor x3 = rand_tensor({4, 37, 9}, 23, -10.f, 10.f);
    for (CpuIsa isa : supported_isas()) {
        INFO(cpu_isa_name(isa));
        on_isa(isa, [&] {
            // softmax along the last dim (rows) and a middle dim, against float64.
            const Tensor s = ops::softmax(x), s3 = ops::softmax(x3, 1);
            for (int64_t r = 0; r < 7; ++r) {
                double m = -1e300, sum = 0;
                for (int64_t j = 0; j < 131; ++j) m = std::max(m, double(x.data<float>()[r * 131 + j]));
                for (int64_t j = 0; j < 131; ++j) sum += std::exp(double(x.data<float>()[r * 131 + j]) - m);
                for (int64_t j = 0; j < 131; ++j) {
                    // fp32 rounds x - max (|x - max| * 2^-24) before the exp: a relative error
                    // that grows with the distance from the max.
                    const double xm = double(x.data<float>()[r * 131 + j]) - m, want = std::exp(xm) / sum;
                    CHECK(std::fabs(s.data<float>()[r * 131 + j] - want) <= (1e-6 + 6e-8 * std::fabs(xm)) * want);
                }
            }
            for (int64_t a = 0; a < 4; ++a)
                for (int64_t c = 0; c < 9; ++c) {
                    double m = -1e300, sum = 0;
                    auto at = [&](int64_t d) { return double(x3.data<float>()[(a * 37 + d) * 9 + c]); };
                    for (int64_t d = 0; d < 37; ++d) m = std::max(m, at(d));
                    for (int64_t d = 0; d < 37; ++d) sum += std::exp(at(d) - m);
                    for (int64_t d = 0; d < 37; ++d) {
                        const double want = std::exp(at(d) - m) / sum;
                        CHECK(std::fabs(s3.data<float>()[(a * 37 + d) * 9 + c] - want) <=
                              (1e-6 + 6e-8 * std::fabs(at(d) - m)) * want);
                    }
                }
            const Tensor sm = ops::softmax(masked);
            for (int64_t j = 0; j < 20; ++j) CHECK(std::isnan(sm.data<float>()[j]));  // as PyTorch
            CHECK(std::fabs(sm.data<float>()[20]) <= 1.f);
            // sigmoid and quick_gelu against float64.
            const Tensor sg = ops::sigmoid(x), qg = ops::quick_gelu(x);
            for (int64_t i = 0; i < x.numel(); ++i) {
                const double v = x.data<float>()[i];
                // quick_gelu's 1.702 x is rounded to fp32 before the exp, as in PyTorch.
                const double kx = double(1.702f * x.data<float>()[i]);
                const double want = 1.0 / (1.0 + std::exp(-v)), wq = v / (1.0 + std::exp(-kx));
                CHECK(std::fabs(sg.data<float>()[i] - want) <= 3e-7 * want);
                CHECK(std::fabs(qg.data<float>()[i] - wq) <= 3e-7 * std::fabs(wq) + 1e-30);
            }
            return 0;
        });
    }
}

namespace {

// F.interpolate(mode='bilinear') in float64, written from PyTorch's formula (source position
// scale * (o + 0.5) - 0.5 clamped at 0, or scale * o with align_corners).
std::vector<double> ref_bilinear(const Tensor& x, int64_t OH, int64_t OW, bool ac) {
    const int64_t P = x.size(0) * x.size(1), H = x.size(2), W = x.size(3);
    auto taps = [ac](int64_t in, int64_t out, int64_t o, int64_t& i0, int64_t& i1, double& l1) {
        const double scale = ac ? (out > 1 ? double(float(in - 1) / float(out - 1)) : 0.0) : double(float(in) / float(out));
        const double src = ac ? scale * double(o) : std::max(scale * (double(o) + 0.5) - 0.5, 0.0);
        i0 = std::min(int64_t(src), in - 1);
        i1 = std::min(i0 + 1, in - 1);
        l1 = std::min(src - double(i0), 1.0);
    };
    std::vector<double> out(size_t(P * OH * OW));
    for (int64_t p = 0; p < P; ++p)
        for (int64_t oy = 0; oy < OH; ++oy)
            for (int64_t ox = 0; ox < OW; ++ox) {
                int64_t y0, y1, x0, x1;
                double ly, lx;
                taps(H, OH, oy, y0, y1, ly);
                taps(W, OW, ox, x0, x1, lx);
                auto at = [&](int64_t y, int64_t xx) { return double(x.data<float>()[(p * H + y) * W + xx]); };
                out[size_t((p * OH + oy) * OW + ox)] = (1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x1)) +
                                                       ly * ((1 - lx) * at(y1, x0) + lx * at(y1, x1));
            }
    return out;
}

}  // namespace

TEST_CASE("cpu isa: bilinear and bicubic resize on every path (short, tail and wide rows)") {
    struct Case {
        int64_t H, W, OH, OW;
        bool ac;
    };
    // Output widths below, at and around 4 / 8 / 16 lanes (the overlapping tail vector), up and down.
    const Case cases[] = {{20, 20, 40, 40, false}, {20, 20, 40, 40, true}, {41, 41, 40, 40, false},
                          {5, 3, 7, 6, false},     {9, 13, 4, 17, true},   {16, 31, 33, 67, false},
                          {12, 8, 12, 8, false}};
    for (const Case& cs : cases) {
        const Tensor x = rand_tensor({2, 3, cs.H, cs.W}, 31);
        const std::vector<double> want = ref_bilinear(x, cs.OH, cs.OW, cs.ac);
        const Tensor cubic_base = on_isa(CpuIsa::sse2, [&] { return ops::resize_bicubic(x, cs.OH, cs.OW, cs.ac); });
        for (CpuIsa isa : supported_isas()) {
            INFO(cpu_isa_name(isa) << " " << cs.H << "x" << cs.W << " -> " << cs.OH << "x" << cs.OW << " ac=" << cs.ac);
            const Tensor y = on_isa(isa, [&] { return ops::resize_bilinear(x, cs.OH, cs.OW, cs.ac); });
            CHECK(max_scaled_err(y, want) < 1e-6);
            // Bicubic (checked against PyTorch in test_ops_resize.cpp on the active path): every
            // path within fp32 rounding of the baseline's.
            const Tensor yc = on_isa(isa, [&] { return ops::resize_bicubic(x, cs.OH, cs.OW, cs.ac); });
            std::vector<double> base(cubic_base.data<float>(), cubic_base.data<float>() + cubic_base.numel());
            CHECK(max_scaled_err(yc, base) < 2e-6);
        }
    }
}

TEST_CASE("cpu isa: layer_norm2d on every path against float64") {
    // Pixel counts below, at and past the vector widths and the 128-pixel tile, with and without affine.
    const Shape shapes[] = {{2, 5, 3, 1}, {1, 7, 4, 4}, {2, 33, 9, 17}, {1, 64, 1, 300}};
    for (const Shape& s : shapes) {
        const Tensor x = rand_tensor(s, 41, -3.f, 5.f), w = rand_tensor({s[1]}, 42), b = rand_tensor({s[1]}, 43);
        const int64_t C = s[1], P = s[2] * s[3];
        for (bool affine : {true, false}) {
            std::vector<double> want(size_t(x.numel()));
            for (int64_t n = 0; n < s[0]; ++n)
                for (int64_t p = 0; p < P; ++p) {
                    auto at = [&](int64_t c) { return double(x.data<float>()[(n * C + c) * P + p]); };
                    double m = 0, v = 0;
                    for (int64_t c = 0; c < C; ++c) m += at(c) / double(C);
                    for (int64_t c = 0; c < C; ++c) v += (at(c) - m) * (at(c) - m) / double(C);
                    for (int64_t c = 0; c < C; ++c) {
                        double y = (at(c) - m) / std::sqrt(v + 1e-6);
                        if (affine) y = y * w.data<float>()[c] + b.data<float>()[c];
                        want[size_t((n * C + c) * P + p)] = y;
                    }
                }
            for (CpuIsa isa : supported_isas()) {
                INFO(cpu_isa_name(isa) << " " << shape_str(s) << " affine=" << affine);
                const Tensor y = on_isa(isa, [&] {
                    return affine ? ops::layer_norm2d(x, w, b, 1e-6f) : ops::layer_norm2d(x, Tensor(), Tensor(), 1e-6f);
                });
                CHECK(max_scaled_err(y, want) < 2e-6);
            }
        }
    }
}

TEST_CASE("cpu isa: group_norm on every path against float64") {
    // Planes below, at and past the vector widths; an offset mean (the shifted statistics).
    const Shape shapes[] = {{2, 6, 1, 3}, {1, 8, 4, 4}, {2, 16, 9, 17}};
    for (const Shape& s : shapes) {
        const Tensor x = rand_tensor(s, 44, 97.f, 103.f), w = rand_tensor({s[1]}, 45), b = rand_tensor({s[1]}, 46);
        const int64_t C = s[1], P = s[2] * s[3], groups = 2, cg = C / groups;
        std::vector<double> want(size_t(x.numel()));
        for (int64_t n = 0; n < s[0]; ++n)
            for (int64_t g = 0; g < groups; ++g) {
                const float* p = x.data<float>() + (n * C + g * cg) * P;
                double m = 0, v = 0;
                for (int64_t i = 0; i < cg * P; ++i) m += double(p[i]) / double(cg * P);
                for (int64_t i = 0; i < cg * P; ++i) v += (p[i] - m) * (p[i] - m) / double(cg * P);
                for (int64_t i = 0; i < cg * P; ++i) {
                    const int64_t c = g * cg + i / P;
                    want[size_t((n * C + g * cg) * P + i)] =
                        (p[i] - m) / std::sqrt(v + 1e-5) * w.data<float>()[c] + b.data<float>()[c];
                }
            }
        for (CpuIsa isa : supported_isas()) {
            INFO(cpu_isa_name(isa) << " " << shape_str(s));
            const Tensor y = on_isa(isa, [&] { return ops::group_norm(x, int(groups), w, b, 1e-5f); });
            CHECK(max_scaled_err(y, want) < 2e-5);
        }
    }
}

TEST_CASE("cpu isa: broadcast binary ops give the same bits as scalar float on every path") {
    const Tensor a = rand_tensor({3, 5, 37}, 51), b = rand_tensor({3, 5, 37}, 52, 0.5f, 2.f);
    const Tensor row = rand_tensor({37}, 53, 0.5f, 2.f), col = rand_tensor({3, 5, 1}, 54, 0.5f, 2.f);
    const Tensor bt = rand_tensor({37, 5, 3}, 55, 0.5f, 2.f).permute({2, 1, 0});  // strided operand
    using Fn = std::function<float(float, float)>;
    const std::pair<const char*, Fn> fns[] = {{"add", [](float x, float y) { return x + y; }},
                                              {"sub", [](float x, float y) { return x - y; }},
                                              {"mul", [](float x, float y) { return x * y; }},
                                              {"div", [](float x, float y) { return x / y; }}};
    // want[i] = f(a[i], other broadcast to a's shape), in float.
    auto expect = [&](const Fn& f, const Tensor& l, const Tensor& r) {
        const Shape sl = ops::detail::broadcast_strides(l, a.shape()), sr = ops::detail::broadcast_strides(r, a.shape());
        Tensor e = Tensor::empty(a.shape());
        for (int64_t i = 0; i < 3; ++i)
            for (int64_t j = 0; j < 5; ++j)
                for (int64_t k = 0; k < 37; ++k)
                    e.data<float>()[(i * 5 + j) * 37 + k] = f(l.data<float>()[i * sl[0] + j * sl[1] + k * sl[2]],
                                                              r.data<float>()[i * sr[0] + j * sr[1] + k * sr[2]]);
        return e;
    };
    for (CpuIsa isa : supported_isas()) {
        on_isa(isa, [&] {
            for (const auto& name_fn : fns) {
                const char* name = name_fn.first;  // (lambdas cannot capture structured bindings in C++17)
                const Fn& f = name_fn.second;
                INFO(cpu_isa_name(isa) << " " << name);
                auto op = [&](const Tensor& l, const Tensor& r) {
                    const std::string n = name;
                    return n == "add" ? ops::add(l, r) : n == "sub" ? ops::sub(l, r) : n == "mul" ? ops::mul(l, r) : ops::div(l, r);
                };
                CHECK(bit_equal(op(a, b), expect(f, a, b)));
                CHECK(bit_equal(op(a, row), expect(f, a, row)));
                CHECK(bit_equal(op(col, a), expect(f, col, a)));
                CHECK(bit_equal(op(a, bt), expect(f, a, bt)));
            }
            Tensor ia = a.clone();
            ops::add_(ia, col);
            CHECK(bit_equal(ia, expect(fns[0].second, a, col)));
            ops::mul_(ia, row);
            CHECK(bit_equal(ia, expect(fns[2].second, expect(fns[0].second, a, col), row)));
            return 0;
        });
    }
}

TEST_CASE("cpu isa: attention (scaled queries) on every path against float64") {
    const int64_t B = 2, H = 3, L = 19, D = 12;
    const Tensor q = rand_tensor({B, H, L, D}, 61), k = rand_tensor({B, H, L, D}, 62), v = rand_tensor({B, H, L, D}, 63);
    for (bool causal : {false, true}) {
        std::vector<double> want(size_t(B * H * L * D), 0.0);
        for (int64_t bh = 0; bh < B * H; ++bh)
            for (int64_t i = 0; i < L; ++i) {
                std::vector<double> s(size_t(L), 0.0);
                double m = -1e300, sum = 0;
                const int64_t nk = causal ? i + 1 : L;
                for (int64_t j = 0; j < nk; ++j) {
                    for (int64_t d = 0; d < D; ++d)
                        s[size_t(j)] += double(q.data<float>()[(bh * L + i) * D + d]) * k.data<float>()[(bh * L + j) * D + d];
                    s[size_t(j)] /= std::sqrt(double(D));
                    m = std::max(m, s[size_t(j)]);
                }
                for (int64_t j = 0; j < nk; ++j) sum += (s[size_t(j)] = std::exp(s[size_t(j)] - m));
                for (int64_t j = 0; j < nk; ++j)
                    for (int64_t d = 0; d < D; ++d)
                        want[size_t((bh * L + i) * D + d)] += s[size_t(j)] / sum * v.data<float>()[(bh * L + j) * D + d];
            }
        for (CpuIsa isa : supported_isas()) {
            INFO(cpu_isa_name(isa) << " causal=" << causal);
            const Tensor y = on_isa(isa, [&] { return ops::attention(q, k, v, causal); });
            CHECK(max_scaled_err(y, want) < 1e-5);
        }
    }
}
