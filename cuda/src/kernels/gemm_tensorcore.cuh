// Tensor-core GEMM for fp16 / bf16 storage (fp32 accumulate) through WMMA (HMMA on sm_80+).
//
// Block tile 128 x 128, K in 32-deep slices, 8 warps arranged 2 (M) x 4 (N), each warp owning a
// 64 x 32 sub-tile = 4 x 2 WMMA 16x16x16 accumulators. Two shared-memory stages: while the
// tensor cores consume one slice, cp.async fills the other (VEC = true: 16-byte copies, needs
// K, N, leading dimensions and batch strides that are multiples of 8 elements and 16-byte aligned
// bases; VEC = false: plain element loads, any shape and alignment).
// B is staged in its stored layout: [k][n] rows for B (K x N) → WMMA row_major operand, or [n][k]
// rows for B given N x K (trans_b, the nn.Linear weight) → WMMA col_major operand; no transpose.
// Epilogue: each warp parks one accumulator at a time in shared memory and the lanes apply the
// Epilogue functor (bias, activation, residual, store) to its 256 values.
#pragma once
#include <cuda_runtime.h>
#include <mma.h>

#include <type_traits>

#include "async_copy.cuh"
#include "types.cuh"

namespace errseg::cuda::kernels {

template <class T>
struct TcGemmOperands {
    const T* a;
    int64_t lda, batch_stride_a;
    const T* b;
    int64_t ldb, batch_stride_b;
    int M, N, K, batch;
};

template <bool TRANS_B>
struct TcTile {
    static constexpr int BM = 128, BN = 128, BK = 32;
    static constexpr int WARPS_M = 2, WARPS_N = 4, THREADS = 32 * WARPS_M * WARPS_N;
    static constexpr int WM = BM / WARPS_M, WN = BN / WARPS_N;  // 64 x 32 per warp
    static constexpr int FM = WM / 16, FN = WN / 16;             // 4 x 2 accumulators per warp
    static constexpr int PAD = 8;                                // 16 bytes: keeps rows 16B-aligned
    static constexpr int A_LD = BK + PAD;                        // A stage: [BM][BK + PAD]
    static constexpr int A_STAGE = BM * A_LD;
    static constexpr int B_LD = TRANS_B ? BK + PAD : BN + PAD;   // B stage: [BN][BK + PAD] or [BK][BN + PAD]
    static constexpr int B_STAGE = TRANS_B ? BN * B_LD : BK * B_LD;
    static constexpr int SMEM_BYTES = 2 * (A_STAGE + B_STAGE) * 2;  // two stages of 2-byte elements
};

template <class T, bool TRANS_B, bool VEC, class Epilogue>
__global__ void __launch_bounds__(TcTile<TRANS_B>::THREADS) wmma_gemm_kernel(TcGemmOperands<T> op, Epilogue epi) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    namespace wmma = nvcuda::wmma;
    using Tl = TcTile<TRANS_B>;
    constexpr int BM = Tl::BM, BN = Tl::BN, BK = Tl::BK, NT = Tl::THREADS;
    constexpr int A_LD = Tl::A_LD, B_LD = Tl::B_LD;
    constexpr int A_STAGE = Tl::A_STAGE, B_STAGE = Tl::B_STAGE;
    constexpr int SMEM = Tl::SMEM_BYTES;
    static_assert(sizeof(T) == 2, "fp16 / bf16 operands");
    static_assert(SMEM >= Tl::THREADS / 32 * 256 * int(sizeof(float)), "epilogue scratch must fit");
    __shared__ __align__(128) unsigned char smem_raw[SMEM];
    T* As = reinterpret_cast<T*>(smem_raw);  // [2][BM][A_LD]
    T* Bs = As + 2 * A_STAGE;                // [2][B_STAGE]

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wm = warp / Tl::WARPS_N, wn = warp % Tl::WARPS_N;
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
    const int M = op.M, N = op.N, K = op.K;

    for (int batch = blockIdx.z; batch < op.batch; batch += gridDim.z) {
        const T* A = op.a + int64_t(batch) * op.batch_stride_a;
        const T* B = op.b + int64_t(batch) * op.batch_stride_b;

        // Stages slice [k0, k0 + BK) of A and B into stage s.
        auto load_stage = [&](int s, int k0) {
            T* as = As + s * A_STAGE;
            T* bs = Bs + s * B_STAGE;
            if constexpr (VEC) {
                // A: BM rows x (BK / 8) vectors.
#pragma unroll
                for (int e = 0; e < BM * BK / 8 / NT; ++e) {
                    const int v = tid + e * NT, r = v / (BK / 8), c = (v % (BK / 8)) * 8;
                    const bool ok = m0 + r < M && k0 + c < K;
                    cp_async_16(as + r * A_LD + c, ok ? A + int64_t(m0 + r) * op.lda + k0 + c : A, ok);
                }
                if constexpr (TRANS_B) {  // B rows are n: BN rows x (BK / 8) vectors
#pragma unroll
                    for (int e = 0; e < BN * BK / 8 / NT; ++e) {
                        const int v = tid + e * NT, r = v / (BK / 8), c = (v % (BK / 8)) * 8;
                        const bool ok = n0 + r < N && k0 + c < K;
                        cp_async_16(bs + r * B_LD + c, ok ? B + int64_t(n0 + r) * op.ldb + k0 + c : B, ok);
                    }
                } else {  // B rows are k: BK rows x (BN / 8) vectors
#pragma unroll
                    for (int e = 0; e < BK * BN / 8 / NT; ++e) {
                        const int v = tid + e * NT, r = v / (BN / 8), c = (v % (BN / 8)) * 8;
                        const bool ok = k0 + r < K && n0 + c < N;
                        cp_async_16(bs + r * B_LD + c, ok ? B + int64_t(k0 + r) * op.ldb + n0 + c : B, ok);
                    }
                }
            } else {
                const T zero = from_f32<T>(0.f);
#pragma unroll 4
                for (int e = 0; e < BM * BK / NT; ++e) {
                    const int i = tid + e * NT, r = i / BK, c = i % BK;
                    const bool ok = m0 + r < M && k0 + c < K;
                    as[r * A_LD + c] = ok ? A[int64_t(m0 + r) * op.lda + k0 + c] : zero;
                }
                if constexpr (TRANS_B) {
#pragma unroll 4
                    for (int e = 0; e < BN * BK / NT; ++e) {
                        const int i = tid + e * NT, r = i / BK, c = i % BK;
                        const bool ok = n0 + r < N && k0 + c < K;
                        bs[r * B_LD + c] = ok ? B[int64_t(n0 + r) * op.ldb + k0 + c] : zero;
                    }
                } else {
#pragma unroll 4
                    for (int e = 0; e < BK * BN / NT; ++e) {
                        const int i = tid + e * NT, r = i / BN, c = i % BN;
                        const bool ok = k0 + r < K && n0 + c < N;
                        bs[r * B_LD + c] = ok ? B[int64_t(k0 + r) * op.ldb + n0 + c] : zero;
                    }
                }
            }
        };

        using BLayout = typename std::conditional<TRANS_B, wmma::col_major, wmma::row_major>::type;
        wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[Tl::FM][Tl::FN];
#pragma unroll
        for (int i = 0; i < Tl::FM; ++i)
#pragma unroll
            for (int j = 0; j < Tl::FN; ++j) wmma::fill_fragment(acc[i][j], 0.f);

        const int ntiles = (K + BK - 1) / BK;
        load_stage(0, 0);
        cp_async_commit();
        for (int t = 0; t < ntiles; ++t) {
            if (t + 1 < ntiles) {
                load_stage((t + 1) & 1, (t + 1) * BK);  // overlaps the math below
                cp_async_commit();
                cp_async_wait<1>();                     // slice t has landed
            } else {
                cp_async_wait<0>();
            }
            __syncthreads();
            const T* as = As + (t & 1) * A_STAGE;
            const T* bs = Bs + (t & 1) * B_STAGE;
#pragma unroll
            for (int kk = 0; kk < BK; kk += 16) {
                // Both B fragments stay live; A fragments are loaded one at a time to keep register
                // pressure down (ptxas still uses ~255 registers: 1 block of 8 warps per SM; a cap
                // at 128 for 2 blocks spills 300-600 bytes per thread).
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, BLayout> fb[Tl::FN];
#pragma unroll
                for (int j = 0; j < Tl::FN; ++j) {
                    const int n = wn * Tl::WN + j * 16;
                    // col_major [n][k] rows: element (k, n) at n*B_LD + k; row_major: k*B_LD + n.
                    const T* p = TRANS_B ? bs + n * B_LD + kk : bs + kk * B_LD + n;
                    wmma::load_matrix_sync(fb[j], p, B_LD);
                }
#pragma unroll
                for (int i = 0; i < Tl::FM; ++i) {
                    wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> fa;
                    wmma::load_matrix_sync(fa, as + (wm * Tl::WM + i * 16) * A_LD + kk, A_LD);
#pragma unroll
                    for (int j = 0; j < Tl::FN; ++j) wmma::mma_sync(acc[i][j], fa, fb[j], acc[i][j]);
                }
            }
            __syncthreads();  // stage t & 1 is refilled two iterations from now
        }

        // With K == 0 the loop never ran: the prologue copies must land before the stage memory
        // is reused as scratch (a no-op otherwise).
        cp_async_wait<0>();
        __syncthreads();

        // Epilogue through a per-warp 16x16 float scratch (reusing the stage memory).
        float* scratch = reinterpret_cast<float*>(smem_raw) + warp * 256;
#pragma unroll
        for (int i = 0; i < Tl::FM; ++i) {
#pragma unroll
            for (int j = 0; j < Tl::FN; ++j) {
                wmma::store_matrix_sync(scratch, acc[i][j], 16, wmma::mem_row_major);
                __syncwarp();
                const int mb = m0 + wm * Tl::WM + i * 16, nb = n0 + wn * Tl::WN + j * 16;
#pragma unroll
                for (int e = 0; e < 8; ++e) {
                    const int idx = e * 32 + lane, r = idx / 16, c = idx % 16;  // 2 rows x 16 cols per step
                    if (mb + r < M && nb + c < N) epi(batch, mb + r, nb + c, scratch[idx]);
                }
                __syncwarp();
            }
        }
        __syncthreads();  // scratch aliases the stages used by the next batch entry
    }
#else
    // Built for a device without bf16 WMMA / cp.async: the host never selects this kernel there.
    __trap();
#endif
}

// True when every 16-byte vector load of the operands is aligned and either fully inside or
// fully outside the matrices.
inline bool tc_gemm_vectorizable(const void* a, int64_t lda, int64_t bsa, const void* b, int64_t ldb, int64_t bsb,
                                 bool trans_b, int64_t N, int64_t K) {
    auto al = [](const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; };
    return al(a) && al(b) && K % 8 == 0 && lda % 8 == 0 && bsa % 8 == 0 && ldb % 8 == 0 && bsb % 8 == 0 &&
           (trans_b || N % 8 == 0);
}

template <class T, class Epilogue>
void launch_wmma_gemm(const TcGemmOperands<T>& op, bool trans_b, const Epilogue& epi, cudaStream_t stream) {
    static_assert(is_half_type<T>, "the tensor-core GEMM takes fp16 or bf16 operands");
    if (op.M <= 0 || op.N <= 0 || op.batch <= 0) return;
    using Tl = TcTile<false>;  // same block tile and thread count for both B layouts
    const dim3 grid(unsigned(ceil_div(op.N, Tl::BN)), unsigned(ceil_div(op.M, Tl::BM)),
                    unsigned(op.batch < 65535 ? op.batch : 65535));
    ERRSEG_CHECK(grid.y <= 65535u, "GEMM: M = ", op.M, " is too large for one launch");
    const bool vec = tc_gemm_vectorizable(op.a, op.lda, op.batch_stride_a, op.b, op.ldb, op.batch_stride_b, trans_b,
                                          op.N, op.K);
    if (trans_b) {
        if (vec) wmma_gemm_kernel<T, true, true><<<grid, Tl::THREADS, 0, stream>>>(op, epi);
        else wmma_gemm_kernel<T, true, false><<<grid, Tl::THREADS, 0, stream>>>(op, epi);
    } else {
        if (vec) wmma_gemm_kernel<T, false, true><<<grid, Tl::THREADS, 0, stream>>>(op, epi);
        else wmma_gemm_kernel<T, false, false><<<grid, Tl::THREADS, 0, stream>>>(op, epi);
    }
}

}  // namespace errseg::cuda::kernels
