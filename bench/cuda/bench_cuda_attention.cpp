// Fused attention at ERR-Seg shapes. Yardstick (when cuBLAS is available): the unfused
// pipeline S = Q K^T (cuBLAS strided-batched), our softmax, O = P V (cuBLAS), which
// materialises the B*H*Lq*Lk score matrix. Reports TFLOP/s counting 4*B*H*Lq*Lk*D.
#include <cublas_v2.h>

#include "bench_util.hpp"

using namespace cuda_bench;
namespace ec = errseg::cuda;

namespace {

struct AttnShape {
    const char* name;
    int64_t B, H, Lq, Lk, D;
    bool causal;
};
const AttnShape kShapes[] = {
    {"errseg_b_spatial_K32", 32, 4, 1600, 400, 32, false},  // spatial fusion: 40x40 queries, 20x20 keys
    {"errseg_b_class_K32", 400, 4, 32, 32, 32, false},      // class fusion: 400 positions x 32 classes
    {"issue_6400x1600_d32", 8, 4, 6400, 1600, 32, false},
    {"issue_6400x1600_d64", 4, 8, 6400, 1600, 64, false},
    {"text_tower_causal", 32, 10, 77, 77, 64, true},
    {"vit_l_d64", 1, 16, 577, 577, 64, false},
};

double attn_flops(const AttnShape& s) { return 4.0 * double(s.B * s.H) * double(s.Lq) * double(s.Lk) * double(s.D); }

void BM_attention_ours(benchmark::State& state, AttnShape s, DType dt) {
    DeviceTensor q = random_device({s.B, s.H, s.Lq, s.D}, dt), k = random_device({s.B, s.H, s.Lk, s.D}, dt),
                 v = random_device({s.B, s.H, s.Lk, s.D}, dt);
    DeviceTensor o;
    time_loop(state, q.stream(), [&] { o = ec::ops::attention(q, k, v, s.causal); });
    state.counters["TFLOPS"] = benchmark::Counter(attn_flops(s) * 1e-12, benchmark::Counter::kIsIterationInvariantRate);
}

#ifdef ERRSEG_BENCH_HAVE_CUBLAS
void BM_attention_unfused_cublas(benchmark::State& state, AttnShape s, DType dt) {
    if (s.causal) {
        state.SkipWithError("unfused yardstick has no causal mask");
        return;
    }
    DeviceTensor q = random_device({s.B, s.H, s.Lq, s.D}, dt), k = random_device({s.B, s.H, s.Lk, s.D}, dt),
                 v = random_device({s.B, s.H, s.Lk, s.D}, dt);
    DeviceTensor scores = DeviceTensor::empty({s.B * s.H, s.Lq, s.Lk}, dt), o = DeviceTensor::empty(q.shape(), dt);
    cublasHandle_t h;
    if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) {
        state.SkipWithError("cublasCreate failed");
        return;
    }
    cublasSetStream(h, q.stream());
    const cudaDataType_t t = dt == DType::F32 ? CUDA_R_32F : dt == DType::F16 ? CUDA_R_16F : CUDA_R_16BF;
    const float scale = 1.f / std::sqrt(float(s.D)), one = 1.f, zero = 0.f;
    const int batch = int(s.B * s.H);
    time_loop(state, q.stream(), [&] {
        // column-major S^T (Lk x Lq) = K (Lk x D as op T of stored D x Lk) . Q^T (D x Lq)
        cublasGemmStridedBatchedEx(h, CUBLAS_OP_T, CUBLAS_OP_N, int(s.Lk), int(s.Lq), int(s.D), &scale, k.data(), t,
                                   int(s.D), s.Lk * s.D, q.data(), t, int(s.D), s.Lq * s.D, &zero, scores.data(), t,
                                   int(s.Lk), s.Lq * s.Lk, batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        DeviceTensor p = ec::ops::softmax(scores, -1);
        // column-major O^T (D x Lq) = V^T (D x Lk, stored) . P^T (Lk x Lq, stored)
        cublasGemmStridedBatchedEx(h, CUBLAS_OP_N, CUBLAS_OP_N, int(s.D), int(s.Lq), int(s.Lk), &one, v.data(), t,
                                   int(s.D), s.Lk * s.D, p.data(), t, int(s.Lk), s.Lq * s.Lk, &zero, o.data(), t, int(s.D),
                                   s.Lq * s.D, batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    });
    cublasDestroy(h);
    state.counters["TFLOPS"] = benchmark::Counter(attn_flops(s) * 1e-12, benchmark::Counter::kIsIterationInvariantRate);
}
#endif

int register_all() {
    for (const AttnShape& s : kShapes)
        for (DType dt : {DType::F32, DType::F16}) {
            const std::string tag = std::string(s.name) + "/" + dtype_label(dt);
            benchmark::RegisterBenchmark(("attention_ours/" + tag).c_str(), BM_attention_ours, s, dt)
                ->UseManualTime()
                ->Unit(benchmark::kMicrosecond);
#ifdef ERRSEG_BENCH_HAVE_CUBLAS
            if (!s.causal)
                benchmark::RegisterBenchmark(("attention_unfused_cublas/" + tag).c_str(), BM_attention_unfused_cublas, s, dt)
                    ->UseManualTime()
                    ->Unit(benchmark::kMicrosecond);
#endif
        }
    return 0;
}
const int registered = register_all();

}  // namespace
