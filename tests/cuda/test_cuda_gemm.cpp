// The raw GEMM (GemmArgs: SIMT and tensor-core paths forced, bias per column / per row, batches
// with shared and per-batch B) against the CPU ops: odd sizes that are not multiples of any
// tile, both B layouts, every activation, a residual. matmul / linear: tests/backend_ops.
#include "cuda_test_util.hpp"
#include "errseg/ops.hpp"

using namespace cuda_test;
namespace ec = errseg::cuda;

namespace {

struct Case {
    int64_t M, N, K, batch;
    bool trans_b, shared_b;
    ec::BiasMode bias;
    ec::Activation act;
    bool residual;
};

// Reference: the CPU ops on the quantised inputs, composed as GemmArgs describes the epilogue.
Tensor gemm_ref(const Case& c, const Tensor& A, const Tensor& B, const Tensor& bias, const Tensor& R) {
    namespace ops = errseg::ops;
    Tensor y = ops::matmul(A, c.shared_b ? B.select(0, 0) : B, c.trans_b);  // [batch, M, N]
    if (c.bias == ec::BiasMode::PerColumn) y = ops::add(y, bias);
    if (c.bias == ec::BiasMode::PerRow) y = ops::add(y, bias.reshape({c.M, 1}));
    y = ops::activation(y, c.act);
    return c.residual ? ops::add(y, R) : y;
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
