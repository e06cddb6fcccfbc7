// GEMM (SIMT and tensor-core paths) against a double-precision CPU loop: odd sizes that are not
// multiples of any tile, both B layouts, batches with shared and per-batch B, bias per column /
// per row, every activation, a residual, and the facade's matmul / linear.
#include "cuda_test_util.hpp"

using namespace cuda_test;
namespace ec = errseg::cuda;

namespace {

double act_ref(double x, ec::Activation a) {
    switch (a) {
        case ec::Activation::None: return x;
        case ec::Activation::Gelu: return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
        case ec::Activation::QuickGelu: return x / (1 + std::exp(-1.702 * x));
        case ec::Activation::Relu: return x > 0 ? x : 0;
        case ec::Activation::Relu6: return std::min(std::max(x, 0.0), 6.0);
        case ec::Activation::Sigmoid: return 1 / (1 + std::exp(-x));
    }
    return x;
}

struct Case {
    int64_t M, N, K, batch;
    bool trans_b, shared_b;
    ec::BiasMode bias;
    ec::Activation act;
    bool residual;
};

// Reference on quantised inputs; layouts exactly as GemmArgs describes them.
Tensor gemm_ref(const Case& c, const Tensor& A, const Tensor& B, const Tensor& bias, const Tensor& R) {
    Tensor out = Tensor::empty({c.batch, c.M, c.N});
    const float* a = A.data<float>();
    const float* b = B.data<float>();
    float* o = out.data<float>();
    for (int64_t bt = 0; bt < c.batch; ++bt) {
        const float* bb = b + (c.shared_b ? 0 : bt * c.K * c.N);
        for (int64_t m = 0; m < c.M; ++m)
            for (int64_t n = 0; n < c.N; ++n) {
                double s = 0;
                for (int64_t k = 0; k < c.K; ++k)
                    s += double(a[(bt * c.M + m) * c.K + k]) * double(c.trans_b ? bb[n * c.K + k] : bb[k * c.N + n]);
                if (c.bias == ec::BiasMode::PerColumn) s += bias.data<float>()[n];
                if (c.bias == ec::BiasMode::PerRow) s += bias.data<float>()[m];
                s = act_ref(s, c.act);
                if (c.residual) s += R.data<float>()[(bt * c.M + m) * c.N + n];
                o[(bt * c.M + m) * c.N + n] = float(s);
            }
    }
    return out;
}

void run_case(const Case& c, DType dt, ec::GemmPath path, uint32_t seed) {
    const float range = 1.f / std::sqrt(float(std::max<int64_t>(c.K, 1)));  // keeps outputs O(1)
    const Tensor A = quantize(rand_tensor({c.batch, c.M, c.K}, seed, -1.f, 1.f), dt);
    const Shape bshape = c.trans_b ? Shape{c.shared_b ? 1 : c.batch, c.N, c.K} : Shape{c.shared_b ? 1 : c.batch, c.K, c.N};
    const Tensor B = quantize(rand_tensor(bshape, seed + 1, -range * 3, range * 3), dt);
    const int64_t nb = c.bias == ec::BiasMode::PerRow ? c.M : c.N;
    const Tensor bias = quantize(rand_tensor({nb}, seed + 2), dt);
    const Tensor R = quantize(rand_tensor({c.batch, c.M, c.N}, seed + 3), dt);
    DeviceTensor dA = up(A, dt), dB = up(B, dt), dbias = up(bias, dt), dR = up(R, dt);
    DeviceTensor dC = DeviceTensor::empty({c.batch, c.M, c.N}, dt);
    ec::GemmArgs g;
    g.M = c.M;
    g.N = c.N;
    g.K = c.K;
    g.batch = c.batch;
    g.a = dA.data();
    g.lda = c.K;
    g.batch_stride_a = c.M * c.K;
    g.b = dB.data();
    g.ldb = c.trans_b ? c.K : c.N;
    g.batch_stride_b = c.shared_b ? 0 : c.K * c.N;
    g.trans_b = c.trans_b;
    g.c = dC.data();
    g.ldc = c.N;
    g.batch_stride_c = c.M * c.N;
    if (c.bias != ec::BiasMode::None) {
        g.bias = dbias.data();
        g.bias_mode = c.bias;
    }
    if (c.residual) {
        g.residual = dR.data();
        g.ldr = c.N;
        g.batch_stride_r = c.M * c.N;
    }
    g.act = c.act;
    g.path = path;
    ec::ops::gemm(g, dt, dC.stream());
    const Tensor want = gemm_ref(c, A, B, bias, R);
    const std::string what = "M=" + std::to_string(c.M) + " N=" + std::to_string(c.N) + " K=" + std::to_string(c.K) +
                             " batch=" + std::to_string(c.batch) + (c.trans_b ? " trans_b" : "") +
                             (c.shared_b ? " shared_b" : "") + " act=" + ec::activation_name(c.act) + " " +
                             dtype_label(dt) + (path == ec::GemmPath::Simt ? " simt" : " auto");
    // fp32 accumulate of K products of O(1/sqrt K)-scaled values: errors scale with sqrt(K).
    Tol tol = tol_for(dt, 1.0);
    if (dt == DType::F32) tol.atol = 1e-5 * std::sqrt(double(std::max<int64_t>(c.K, 1)));
    check_close(down(dC), want, tol, what);
}

}  // namespace

TEST_CASE("gemm: odd sizes, layouts, batches, epilogues, all dtypes and paths") {
    const std::vector<Case> cases{
        {1, 1, 1, 1, false, true, ec::BiasMode::None, ec::Activation::None, false},
        {37, 53, 29, 1, false, true, ec::BiasMode::PerColumn, ec::Activation::Gelu, false},
        {37, 53, 29, 1, true, true, ec::BiasMode::PerRow, ec::Activation::Relu6, true},
        {130, 67, 257, 2, true, false, ec::BiasMode::PerColumn, ec::Activation::QuickGelu, false},
        {129, 136, 64, 3, false, false, ec::BiasMode::None, ec::Activation::Relu, true},  // vector path (N, K % 8 == 0)
        {200, 264, 96, 1, true, true, ec::BiasMode::PerColumn, ec::Activation::Sigmoid, true},  // vector path, trans
        {5, 300, 0, 1, false, true, ec::BiasMode::PerColumn, ec::Activation::None, false},      // K = 0: bias only
        {257, 129, 33, 1, false, true, ec::BiasMode::None, ec::Activation::None, false},
    };
    uint32_t seed = 100;
    for (const Case& c : cases)
        for (DType dt : float_types()) {
            run_case(c, dt, ec::GemmPath::Simt, seed);
            if (dt != DType::F32) run_case(c, dt, ec::GemmPath::Auto, seed);  // tensor cores on sm_80+
            seed += 10;
        }
}

TEST_CASE("gemm: argument errors are reported") {
    ec::GemmArgs g;
    g.M = 4;
    g.N = 4;
    g.K = 4;
    g.lda = 2;  // < K
    DeviceTensor d = DeviceTensor::zeros({16}, DType::F32);
    g.a = g.b = d.data();
    g.c = d.data();
    g.ldb = g.ldc = 4;
    CHECK_THROWS_AS(ec::ops::gemm(g, DType::F32, d.stream()), errseg::Error);
}

TEST_CASE("matmul and linear facade") {
    for (DType dt : float_types()) {
        // matmul with per-batch B and with a shared 2-D B (folded into one GEMM).
        const Tensor a = quantize(rand_tensor({2, 3, 17, 23}, 7), dt);
        const Tensor b = quantize(rand_tensor({2, 3, 23, 19}, 8), dt);
        const Tensor b2 = quantize(rand_tensor({19, 23}, 9), dt);  // used with trans_b
        const Tensor got = down(ec::ops::matmul(up(a, dt), up(b, dt)));
        const Tensor got2 = down(ec::ops::matmul(up(a, dt), up(b2, dt), true));
        Tensor want = Tensor::empty({2, 3, 17, 19}), want2 = Tensor::empty({2, 3, 17, 19});
        for (int64_t bt = 0; bt < 6; ++bt)
            for (int64_t m = 0; m < 17; ++m)
                for (int64_t n = 0; n < 19; ++n) {
                    double s = 0, s2 = 0;
                    for (int64_t k = 0; k < 23; ++k) {
                        const double av = a.data<float>()[(bt * 17 + m) * 23 + k];
                        s += av * b.data<float>()[(bt * 23 + k) * 19 + n];
                        s2 += av * b2.data<float>()[n * 23 + k];
                    }
                    want.data<float>()[(bt * 17 + m) * 19 + n] = float(s);
                    want2.data<float>()[(bt * 17 + m) * 19 + n] = float(s2);
                }
        check_close(got, want, tol_for(dt, 5.0), "matmul batched " + dtype_label(dt));
        check_close(got2, want2, tol_for(dt, 5.0), "matmul shared trans_b " + dtype_label(dt));

        // linear with bias, GELU and a residual: x [2, 9, 31] -> [2, 9, 45].
        const Tensor x = quantize(rand_tensor({2, 9, 31}, 10), dt);
        const Tensor w = quantize(rand_tensor({45, 31}, 11, -0.2f, 0.2f), dt);
        const Tensor bias = quantize(rand_tensor({45}, 12), dt);
        const Tensor res = quantize(rand_tensor({2, 9, 45}, 13), dt);
        const Tensor y = down(ec::ops::linear(up(x, dt), up(w, dt), up(bias, dt), ec::Activation::Gelu, up(res, dt)));
        Tensor ref = Tensor::empty({2, 9, 45});
        for (int64_t r = 0; r < 18; ++r)
            for (int64_t o = 0; o < 45; ++o) {
                double s = bias.data<float>()[o];
                for (int64_t i = 0; i < 31; ++i) s += double(x.data<float>()[r * 31 + i]) * w.data<float>()[o * 31 + i];
                ref.data<float>()[r * 45 + o] = float(act_ref(s, ec::Activation::Gelu) + res.data<float>()[r * 45 + o]);
            }
        check_close(y, ref, tol_for(dt, 2.0), "linear " + dtype_label(dt));
    }
    // Mixed dtypes are rejected with a message.
    CHECK_THROWS_AS(ec::ops::linear(up(rand_tensor({2, 4}, 1), DType::F32), up(rand_tensor({3, 4}, 2), DType::F16)),
                    errseg::Error);
}
