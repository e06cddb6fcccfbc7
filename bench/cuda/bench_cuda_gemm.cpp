// GEMM at ERR-Seg-B / ConvNeXt-B shapes: ours (tensor cores for F16/BF16, SIMT for F32) vs
// cuBLAS (yardstick only; F32 without TF32, F16/BF16 with fp32 compute). Layout: nn.Linear,
// C[M, N] = A[M, K] . W[N, K]^T. Reports TFLOP/s.
#include <cublas_v2.h>

#include "bench_util.hpp"

using namespace cuda_bench;
namespace ec = errseg::cuda;

namespace {

struct Shape3 {
    int64_t M, N, K;
};
// (tokens, out, in): HSM / stage-3 MLP at 40x40, spatial-fusion MLP at 80x80-equivalent
// token counts, the text tower, and the two shapes named in the issue.
const Shape3 kShapes[] = {{1600, 640, 2560}, {6400, 128, 512}, {1600, 4096, 1024},
                          {1600, 1024, 4096}, {51200, 384, 128}, {77, 2560, 640}};

void BM_gemm_ours(benchmark::State& state, Shape3 s, DType dt) {
    DeviceTensor a = random_device({s.M, s.K}, dt), w = random_device({s.N, s.K}, dt, -0.05f, 0.05f);
    DeviceTensor c = DeviceTensor::empty({s.M, s.N}, dt);
    ec::GemmArgs g;
    g.M = s.M, g.N = s.N, g.K = s.K;
    g.a = a.data(), g.lda = s.K;
    g.b = w.data(), g.ldb = s.K, g.trans_b = true;
    g.c = c.data(), g.ldc = s.N;
    time_loop(state, c.stream(), [&] { ec::ops::gemm(g, dt, c.stream()); });
    state.counters["TFLOPS"] =
        benchmark::Counter(2.0 * double(s.M) * double(s.N) * double(s.K) * 1e-12, benchmark::Counter::kIsIterationInvariantRate);
}

#ifdef ERRSEG_BENCH_HAVE_CUBLAS
void BM_gemm_cublas(benchmark::State& state, Shape3 s, DType dt) {
    DeviceTensor a = random_device({s.M, s.K}, dt), w = random_device({s.N, s.K}, dt, -0.05f, 0.05f);
    DeviceTensor c = DeviceTensor::empty({s.M, s.N}, dt);
    cublasHandle_t h;
    if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) {
        state.SkipWithError("cublasCreate failed");
        return;
    }
    cublasSetStream(h, c.stream());
    cublasSetMathMode(h, CUBLAS_DEFAULT_MATH);  // no TF32 for F32: same arithmetic class as ours
    const cudaDataType_t t = dt == DType::F32 ? CUDA_R_32F : dt == DType::F16 ? CUDA_R_16F : CUDA_R_16BF;
    const float alpha = 1.f, beta = 0.f;
    // Row-major C = A W^T is column-major C^T = W . A^T: (N x K, op T on the stored K x N) x (K x M).
    time_loop(state, c.stream(), [&] {
        cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, int(s.N), int(s.M), int(s.K), &alpha, w.data(), t, int(s.K), a.data(),
                     t, int(s.K), &beta, c.data(), t, int(s.N), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    });
    cublasDestroy(h);
    state.counters["TFLOPS"] =
        benchmark::Counter(2.0 * double(s.M) * double(s.N) * double(s.K) * 1e-12, benchmark::Counter::kIsIterationInvariantRate);
}
#endif

int register_all() {
    for (const Shape3& s : kShapes)
        for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
            const std::string tag = std::to_string(s.M) + "x" + std::to_string(s.N) + "x" + std::to_string(s.K) + "/" +
                                    dtype_label(dt);
            benchmark::RegisterBenchmark(("gemm_ours/" + tag).c_str(), BM_gemm_ours, s, dt)->UseManualTime()->Unit(
                benchmark::kMicrosecond);
#ifdef ERRSEG_BENCH_HAVE_CUBLAS
            benchmark::RegisterBenchmark(("gemm_cublas/" + tag).c_str(), BM_gemm_cublas, s, dt)->UseManualTime()->Unit(
                benchmark::kMicrosecond);
#endif
        }
    return 0;
}
const int registered = register_all();

}  // namespace
