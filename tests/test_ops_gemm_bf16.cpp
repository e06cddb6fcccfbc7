// The bf16 GEMM of --precision bf16 on the CPU (ops/detail/sgemm_bf16.hpp): against a double
// reference on the same bf16-rounded inputs (equal up to fp32 accumulation rounding), the ops
// under CpuPrecisionScope(BF16) against their fp32 results (within bf16 rounding), thread-count
// invariance, the weight cache and the refusal where the CPU lacks AVX512-BF16.
#include <cmath>
#include <vector>

#include "random_tensors.hpp"
#include "test_ops_util.hpp"

using namespace errseg;

#if defined(ERRSEG_HAVE_BF16_GEMM)
namespace {

using ops::detail::Bf16Operand;
using ops::detail::Bf16Packed;
using ops::detail::MatArg;

float rounded(float x) { return bf16_to_float(ops::detail::bf16_bits(x)); }

// op(X)(i, j) of a row-major buffer stored as [rows, cols] or, when trans, as [cols, rows].
float element(const std::vector<float>& x, int64_t ld, bool trans, int64_t i, int64_t j) {
    return trans ? x[size_t(j * ld + i)] : x[size_t(i * ld + j)];
}

struct Case {
    int64_t M, N, K;
    bool ta, tb;
};

// Largest |got - want| / (sum_k |a_ik b_kj| + tiny) over C, with `want` in double on bf16-rounded
// inputs (plus c0 when accumulating).
double worst_relative_error(const Case& c, const std::vector<float>& a, const std::vector<float>& b,
                            const std::vector<float>& c0, const std::vector<float>& got, bool round_inputs) {
    const int64_t lda = c.ta ? c.M : c.K, ldb = c.tb ? c.K : c.N;
    double worst = 0;
    for (int64_t i = 0; i < c.M; ++i)
        for (int64_t j = 0; j < c.N; ++j) {
            double want = c0.empty() ? 0.0 : c0[size_t(i * c.N + j)], scale = std::fabs(want);
            for (int64_t k = 0; k < c.K; ++k) {
                double x = element(a, lda, c.ta, i, k), y = element(b, ldb, c.tb, k, j);
                if (round_inputs) x = rounded(float(x)), y = rounded(float(y));
                want += x * y;
                scale += std::fabs(x * y);
            }
            worst = std::max(worst, std::fabs(got[size_t(i * c.N + j)] - want) / (scale + 1e-30));
        }
    return worst;
}

std::vector<float> random_values(int64_t n, uint32_t seed) {
    const Tensor t = errseg_test::rand_tensor({n}, seed);
    return std::vector<float>(t.data<float>(), t.data<float>() + n);
}

}  // namespace

TEST_CASE("bf16 packing rounds like vcvtneps2bf16: nearest even, denormals to zero, NaN quiet") {
    if (!cpu_bf16_supported()) {
        MESSAGE("skipped: ", detail::cpu_bf16_missing_reason());
        return;
    }
    std::vector<float> x = {1.f, -1.f, 0.f, -0.f, 1.00390625f /* tie, even down */, 1.01171875f /* tie, up */,
                            3.4e38f, -3.4e38f, INFINITY, -INFINITY, NAN, 1e-39f /* denormal */, -1e-39f,
                            1.1754944e-38f /* smallest normal */, 0.1f, 65504.f, 1e-20f};
    const std::vector<float> more = random_values(45, 7);
    x.insert(x.end(), more.begin(), more.end());  // 62 values: two vectors and a tail
    std::vector<uint32_t> pairs((x.size() + 1) / 2);
    ops::detail::bf16_pairs_from_row(x.data(), int64_t(x.size()), pairs.data());
    for (size_t i = 0; i < x.size(); ++i) {
        const uint16_t got = uint16_t(i % 2 ? pairs[i / 2] >> 16 : pairs[i / 2] & 0xffff);
        INFO("value ", i, " = ", x[i]);
        CHECK(got == ops::detail::bf16_bits(x[i]));
    }
    CHECK(ops::detail::bf16_bits(1.00390625f) == 0x3f80);
    CHECK(ops::detail::bf16_bits(1.01171875f) == 0x3f82);
    CHECK(ops::detail::bf16_bits(1e-39f) == 0x0000);
    CHECK(ops::detail::bf16_bits(-1e-39f) == 0x8000);
    CHECK(std::isnan(rounded(NAN)));
}

TEST_CASE("bf16 GEMM equals a double product of the bf16-rounded inputs up to fp32 accumulation") {
    if (!cpu_bf16_supported()) {
        MESSAGE("skipped: ", detail::cpu_bf16_missing_reason());
        return;
    }
    // Partial register tiles (M % 6, N % 64), odd K, several k blocks (K > 256), both layouts of
    // each operand, packed weights on either side, and accumulation into C.
    const std::vector<Case> cases = {{1, 1, 1, false, false},    {7, 65, 3, false, true},   {13, 130, 257, false, true},
                                     {50, 70, 600, true, false},  {6, 64, 512, true, true},  {200, 33, 95, false, false},
                                     {97, 300, 1029, false, true}, {70, 100, 64, false, true}};
    // Both micro-kernels where the CPU has AMX (the AVX512-BF16 one alone elsewhere).
    bool& amx = ops::detail::bf16_amx_enabled();
    const bool amx_available = amx;
    if (!amx_available) MESSAGE("AMX unavailable: the AVX512-BF16 kernel alone is checked");
    uint32_t seed = 1;
    for (const bool use_amx : {false, true}) {
        if (use_amx && !amx_available) continue;
        amx = use_amx;
        for (const Case& c : cases)
        for (int mode = 0; mode < 4; ++mode) {  // 0: both fp32, 1: A packed, 2: B packed, 3: accumulate
            INFO("AMX ", use_amx, " M ", c.M, " N ", c.N, " K ", c.K, " trans ", c.ta, c.tb, " mode ", mode);
            const std::vector<float> a = random_values(c.M * c.K, seed++), b = random_values(c.K * c.N, seed++);
            const MatArg am{a.data(), c.ta ? c.M : c.K, c.ta}, bm{b.data(), c.tb ? c.K : c.N, c.tb};
            const Bf16Packed ap = ops::detail::bf16_pack_weight(am, Bf16Packed::Side::A, c.M, c.K);
            const Bf16Packed bp = ops::detail::bf16_pack_weight(bm, Bf16Packed::Side::B, c.N, c.K);
            std::vector<float> c0 = mode == 3 ? random_values(c.M * c.N, seed++) : std::vector<float>();
            std::vector<float> out = mode == 3 ? c0 : std::vector<float>(size_t(c.M * c.N), 12345.f);
            Bf16Operand A{am, mode == 1 ? &ap : nullptr}, B{bm, mode == 2 ? &bp : nullptr};
            std::vector<float> by_threads[2];
            const int threads_before = get_num_threads();
            for (int threads : {1, 2}) {
                set_num_threads(threads);
                std::vector<float> o = out;
                ops::detail::gemm_bf16(c.M, c.N, c.K, A, B, o.data(), c.N, mode == 3);
                by_threads[threads - 1] = o;
            }
            set_num_threads(threads_before);
            // fp32 sums of exact products (bf16 x bf16 fits in fp32): error ~ K * 2^-24 relative to sum |ab|.
            CHECK(worst_relative_error(c, a, b, c0, by_threads[0], true) <= 1e-6 * (1 + std::sqrt(double(c.K))));
            // Against the unrounded inputs: each input rounded to 8 significant bits (u = 2^-8), a
            // product within 2u.
            CHECK(worst_relative_error(c, a, b, c0, by_threads[0], false) <= 1.0 / 128 + 1e-6);
            CHECK(by_threads[0] == by_threads[1]);
        }
    }
    amx = amx_available;
}

TEST_CASE("linear, conv2d and matmul under CpuPrecisionScope(BF16) match fp32 within bf16 rounding") {
    if (!cpu_bf16_supported()) {
        MESSAGE("skipped: ", detail::cpu_bf16_missing_reason());
        return;
    }
    using errseg_test::rand_tensor;
    const Tensor x = rand_tensor({2, 37, 96}, 11), w = rand_tensor({130, 96}, 12), bias = rand_tensor({130}, 13);
    const Tensor img = rand_tensor({2, 24, 19, 23}, 14), cw = rand_tensor({40, 24, 3, 3}, 15),
                 pw = rand_tensor({48, 24, 1, 1}, 16), cb = rand_tensor({40}, 17);
    ops::Conv2dParams same;
    same.pad_h = same.pad_w = 1;
    const Tensor lin32 = ops::linear(x, w, bias), conv32 = ops::conv2d(img, cw, cb, same),
                 pw32 = ops::conv2d(img, pw, Tensor(), {}), mm32 = ops::matmul(x, w, true),
                 bmm32 = ops::matmul(x, x, true);
    Tensor lin, conv, point, mm, bmm;
    {
        CpuPrecisionScope bf16(DType::BF16);
        CHECK(cpu_precision() == DType::BF16);
        lin = ops::linear(x, w, bias);
        conv = ops::conv2d(img, cw, cb, same);
        point = ops::conv2d(img, pw, Tensor(), {});
        mm = ops::matmul(x, w, true);
        bmm = ops::matmul(x, x, true);
        // Same weight again: the packed copy is reused, and gives the same result.
        const size_t cached = ops::detail::Bf16WeightCache::instance().size();
        CHECK(optest::check_close(ops::linear(x, w, bias), lin, 0, 0, "linear again").max_abs == 0);
        CHECK(ops::detail::Bf16WeightCache::instance().size() == cached);
    }
    CHECK(cpu_precision() == DType::F32);
    // Inputs in [-1, 1): |error| <= 2^-7 sum|x w| < 2^-7 K (bias and accumulation exact enough);
    // the results must also differ from fp32 (bf16 really ran).
    optest::check_close(lin, lin32, 96.0 / 128, 0, "linear");
    optest::check_close(conv, conv32, 216.0 / 128, 0, "conv2d 3x3");
    optest::check_close(point, pw32, 24.0 / 128, 0, "conv2d 1x1");
    optest::check_close(mm, mm32, 96.0 / 128, 0, "matmul, 2-d weight");
    optest::check_close(bmm, bmm32, 96.0 / 128, 0, "batched matmul");
    CHECK(optest::check_close(lin, lin32, 1, 1, "linear differs").max_abs > 0);
    CHECK(optest::check_close(conv, conv32, 1, 1, "conv differs").max_abs > 0);
}

TEST_CASE("under bf16 the fused activation and residual equal the separate ops on the bf16 result") {
    if (!cpu_bf16_supported()) {
        MESSAGE("skipped: ", detail::cpu_bf16_missing_reason());
        return;
    }
    using errseg_test::rand_tensor;
    const Tensor x = rand_tensor({2, 37, 96}, 21), w = rand_tensor({130, 96}, 22), bias = rand_tensor({130}, 23);
    const Tensor res = rand_tensor({2, 37, 130}, 24), res_row = rand_tensor({37, 130}, 25);  // full and broadcast
    const Tensor img = rand_tensor({2, 24, 19, 23}, 26), cw = rand_tensor({40, 24, 3, 3}, 27), cb = rand_tensor({40}, 28);
    const Tensor cres = rand_tensor({2, 40, 19, 23}, 29);
    ops::Conv2dParams same;
    same.pad_h = same.pad_w = 1;
    CpuPrecisionScope bf16(DType::BF16);
    const auto exact = [](const Tensor& got, const Tensor& want, const char* what) {
        CHECK(optest::check_close(got, want, 0, 0, what).max_abs == 0);
    };
    exact(ops::linear(x, w, bias, Activation::Gelu, res), ops::add(ops::gelu(ops::linear(x, w, bias)), res),
          "linear + gelu + residual");
    exact(ops::linear(x, w, bias, Activation::None, res_row), ops::add(ops::linear(x, w, bias), res_row),
          "linear + broadcast residual");
    exact(ops::conv2d(img, cw, cb, same, Activation::Relu6, cres),
          ops::add(ops::relu6(ops::conv2d(img, cw, cb, same)), cres), "conv2d + relu6 + residual");
}

TEST_CASE("under bf16 gated_mlp equals its separate linear and mul ops") {
    if (!cpu_bf16_supported()) {
        MESSAGE("skipped: ", detail::cpu_bf16_missing_reason());
        return;
    }
    using errseg_test::rand_tensor;
    // 300 rows: more than one of gated_mlp's row chunks, the last one partial.
    const Tensor x = rand_tensor({300, 64}, 31), w1 = rand_tensor({192, 64}, 32), b1 = rand_tensor({192}, 33);
    const Tensor w2 = rand_tensor({192, 64}, 34), b2 = rand_tensor({192}, 35), w3 = rand_tensor({64, 192}, 36);
    const Tensor b3 = rand_tensor({64}, 37), res = rand_tensor({300, 64}, 38);
    CpuPrecisionScope bf16(DType::BF16);
    const Tensor u = ops::mul(ops::linear(x, w1, b1, Activation::Relu6), ops::linear(x, w2, b2));
    const Tensor want = ops::linear(u, w3, b3, Activation::Relu6, res);
    const Tensor got = ops::gated_mlp(x, w1, b1, Activation::Relu6, w2, b2, w3, b3, Activation::Relu6, res);
    CHECK(optest::check_close(got, want, 0, 0, "gated_mlp under bf16").max_abs == 0);
}

TEST_CASE("the bf16 weight cache drops a weight's packed copy once the weight is gone") {
    if (!cpu_bf16_supported()) {
        MESSAGE("skipped: ", detail::cpu_bf16_missing_reason());
        return;
    }
    auto& cache = ops::detail::Bf16WeightCache::instance();
    cache.clear();
    CpuPrecisionScope bf16(DType::BF16);
    const Tensor x = errseg_test::rand_tensor({5, 32}, 21);
    {
        const Tensor w = errseg_test::rand_tensor({16, 32}, 22);
        ops::linear(x, w);
        CHECK(cache.size() == 1);
    }
    const Tensor w2 = errseg_test::rand_tensor({16, 32}, 23);
    const Tensor y = ops::linear(x, w2);  // the first weight's entry is dropped here
    CHECK(cache.size() == 1);
    Tensor want;
    {
        CpuPrecisionScope fp32(DType::F32);
        want = ops::linear(x, w2);
    }
    optest::check_close(y, want, 32.0 / 128, 0, "linear with a new weight");
}
#endif  // ERRSEG_HAVE_BF16_GEMM

TEST_CASE("bf16 on the CPU is refused with the missing feature named where it cannot run") {
    if (cpu_bf16_supported()) {
        CHECK_NOTHROW(check_cpu_precision(DType::BF16));
    } else {
        CHECK_THROWS_WITH_AS(CpuPrecisionScope{DType::BF16}, doctest::Contains("--precision bf16 on the CPU: "), Error);
    }
    CHECK_THROWS_WITH_AS(check_cpu_precision(DType::F16), doctest::Contains("fp16 needs --device cuda"), Error);
    CHECK_NOTHROW(CpuPrecisionScope{DType::F32});
}
