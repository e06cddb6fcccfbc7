// GEMM entry point for the device: GemmArgs (gemm_args.hpp) -> the tensor-core kernel (fp16/bf16
// on sm_80+) or the fp32 SIMT kernel (any storage type, any device). Both share the epilogue
// below: act(alpha * acc + bias) + residual, converted to the storage type.
#pragma once
#include <cuda_runtime.h>

#include "errseg/cuda/device.hpp"
#include "errseg/cuda/gemm_args.hpp"
#include "activation.cuh"
#include "gemm_simt.cuh"
#include "gemm_tensorcore.cuh"
#include "types.cuh"

namespace errseg::cuda::kernels {

// A: M x K row-major.
template <class T>
struct RowMajorLoaderA {
    static constexpr bool k_fastest = true;
    const T* p;
    int64_t ld, batch_stride;
    int M, K;
    __device__ RowMajorLoaderA at(int b) const {
        RowMajorLoaderA r = *this;
        r.p += int64_t(b) * batch_stride;
        return r;
    }
    __device__ float operator()(int m, int k) const {
        return (m < M && k < K) ? ldg_f32(p + int64_t(m) * ld + k) : 0.f;
    }
};

// B: K x N row-major, or (TRANS) N x K row-major.
template <class T, bool TRANS>
struct MatrixLoaderB {
    static constexpr bool k_fastest = TRANS;
    const T* p;
    int64_t ld, batch_stride;
    int K, N;
    __device__ MatrixLoaderB at(int b) const {
        MatrixLoaderB r = *this;
        r.p += int64_t(b) * batch_stride;
        return r;
    }
    __device__ float operator()(int k, int n) const {
        if (k >= K || n >= N) return 0.f;
        return ldg_f32(TRANS ? p + int64_t(n) * ld + k : p + int64_t(k) * ld + n);
    }
};

template <class T>
struct GemmEpilogue {
    T* c;
    int64_t ldc, batch_stride_c;
    const T* bias;
    BiasMode bias_mode;
    const T* residual;  // may alias c: read with a plain load, before the store
    int64_t ldr, batch_stride_r;
    float alpha;
    Activation act;
    __device__ void operator()(int b, int m, int n, float acc) const {
        float v = alpha * acc;
        if (bias) v += ldg_f32(bias + (bias_mode == BiasMode::PerRow ? m : n));
        v = apply_activation(v, act);
        if (residual) v += to_f32(residual[int64_t(b) * batch_stride_r + int64_t(m) * ldr + n]);
        c[int64_t(b) * batch_stride_c + int64_t(m) * ldc + n] = from_f32<T>(v);
    }
};

template <class T>
GemmEpilogue<T> make_gemm_epilogue(const GemmArgs& g) {
    return GemmEpilogue<T>{static_cast<T*>(g.c), g.ldc, g.batch_stride_c, static_cast<const T*>(g.bias),
                           g.bias ? g.bias_mode : BiasMode::None, static_cast<const T*>(g.residual), g.ldr,
                           g.batch_stride_r, g.alpha, g.act};
}

// Validates leading dimensions against the shapes (cheap; catches most layout mistakes).
inline void check_gemm_args(const GemmArgs& g) {
    ERRSEG_CHECK(g.M >= 0 && g.N >= 0 && g.K >= 0 && g.batch >= 0, "gemm: negative size M=", g.M, " N=", g.N,
                 " K=", g.K, " batch=", g.batch);
    ERRSEG_CHECK(g.M < (int64_t(1) << 31) && g.N < (int64_t(1) << 31) && g.K < (int64_t(1) << 31),
                 "gemm: dimension over 2^31");
    ERRSEG_CHECK(g.lda >= g.K, "gemm: lda ", g.lda, " < K ", g.K);
    ERRSEG_CHECK(g.ldb >= (g.trans_b ? g.K : g.N), "gemm: ldb ", g.ldb, " too small for ",
                 g.trans_b ? "N x K" : "K x N", " B (K=", g.K, ", N=", g.N, ")");
    ERRSEG_CHECK(g.ldc >= g.N, "gemm: ldc ", g.ldc, " < N ", g.N);
    ERRSEG_CHECK(!g.residual || g.ldr >= g.N, "gemm: residual ld ", g.ldr, " < N ", g.N);
    ERRSEG_CHECK(g.a && g.b && g.c, "gemm: null operand");
    ERRSEG_CHECK(!(g.bias && g.bias_mode == BiasMode::None), "gemm: bias given with BiasMode::None");
}

// True when the tensor-core kernel would run for storage type T on the current device.
template <class T>
bool gemm_uses_tensor_cores(const GemmArgs& g) {
    if constexpr (!is_half_type<T>) {
        (void)g;
        return false;
    } else {
        if (g.path == GemmPath::Simt) return false;
        const bool ok = device_info().has_tensor_core_path();
        ERRSEG_CHECK(ok || g.path != GemmPath::TensorCore, "gemm: tensor-core path requested on a device of compute "
                     "capability ", device_info().compute_capability(), " (needs 80+)");
        return ok;
    }
}

template <class T>
void launch_gemm(const GemmArgs& g, cudaStream_t stream) {
    check_gemm_args(g);
    if (g.M == 0 || g.N == 0 || g.batch == 0) return;
    const auto epi = make_gemm_epilogue<T>(g);
    const T* a = static_cast<const T*>(g.a);
    const T* b = static_cast<const T*>(g.b);
    if (gemm_uses_tensor_cores<T>(g)) {
        if constexpr (is_half_type<T>) {
            const TcGemmOperands<T> op{a, g.lda, g.batch_stride_a, b, g.ldb, g.batch_stride_b,
                                       int(g.M), int(g.N), int(g.K), int(g.batch)};
            launch_wmma_gemm<T>(op, g.trans_b, epi, stream);
        }
    } else {
        ERRSEG_CHECK(g.path != GemmPath::TensorCore || is_half_type<T>,
                     "gemm: the tensor-core path takes F16/BF16 operands");
        const RowMajorLoaderA<T> la{a, g.lda, g.batch_stride_a, int(g.M), int(g.K)};
        // Large tiles once there are enough of them to fill the machine; small ones otherwise.
        const bool large = ceil_div(g.M, 128) * ceil_div(g.N, 128) * g.batch >= 2 * int64_t(device_info().sm_count);
        auto run = [&](auto lb) {
            if (large) launch_simt_gemm<SimtTileLarge>(g.M, g.N, g.K, g.batch, la, lb, epi, stream);
            else launch_simt_gemm<SimtTileSmall>(g.M, g.N, g.K, g.batch, la, lb, epi, stream);
        };
        if (g.trans_b) run(MatrixLoaderB<T, true>{b, g.ldb, g.batch_stride_b, int(g.K), int(g.N)});
        else run(MatrixLoaderB<T, false>{b, g.ldb, g.batch_stride_b, int(g.K), int(g.N)});
    }
    ERRSEG_CUDA_CHECK_LAUNCH();
}

}  // namespace errseg::cuda::kernels
