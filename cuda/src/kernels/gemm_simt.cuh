// fp32 SIMT GEMM main loop (CUDA cores), shared by the plain GEMM and the implicit-GEMM
// convolution: what is multiplied is described by two loader functors and what happens to each
// result by an epilogue functor, so the tiling below exists once.
//
// Block tile BM x BN, K consumed in BK-deep slices staged through shared memory; each thread
// accumulates TM x TN outputs in registers at rows ty + i*(BM/TM), columns tx + j*(BN/TN)
// (interleaved, so a warp reads consecutive shared-memory words and writes consecutive outputs).
// The next slice is fetched into registers while the current one is multiplied.
//
// Loader concept (A: element (m, k); B: element (k, n); both return 0 outside the matrix):
//   static constexpr bool k_fastest;          // consecutive k are adjacent in memory
//   __device__ Loader at(int batch) const;    // the loader for one batch entry
//   __device__ float operator()(int row_or_k, int k_or_col) const;
// Epilogue concept: __device__ void operator()(int batch, int m, int n, float acc) const,
//   called once for every in-range (m, n).
#pragma once
#include <cuda_runtime.h>

#include "types.cuh"

namespace errseg::cuda::kernels {

template <int BM_, int BN_, int BK_, int TM_, int TN_, int MIN_BLOCKS_ = 2>
struct SimtTile {
    static constexpr int BM = BM_, BN = BN_, BK = BK_, TM = TM_, TN = TN_;
    static constexpr int MIN_BLOCKS = MIN_BLOCKS_;  // blocks per SM the register budget must allow
    static constexpr int ROW_THREADS = BM / TM, COL_THREADS = BN / TN;
    static constexpr int THREADS = ROW_THREADS * COL_THREADS;
    static_assert(BM % TM == 0 && BN % TN == 0, "tile must divide evenly");
    static_assert((BM * BK) % THREADS == 0 && (BK * BN) % THREADS == 0, "slices must divide evenly");
};
// Register budgets (ptxas, sm_90): the large tile takes ~255 registers (1 block / SM; capping it at
// 128 for 2 blocks / SM spills ~250 bytes per thread); the small one fits in 128 (2 blocks / SM).
using SimtTileLarge = SimtTile<128, 128, 8, 8, 8, 1>;  // 256 threads, 64 outputs each
using SimtTileSmall = SimtTile<64, 64, 16, 4, 4, 2>;   // 256 threads, 16 outputs each

template <class Tile, class LoadA, class LoadB, class Epilogue>
__global__ void __launch_bounds__(Tile::THREADS, Tile::MIN_BLOCKS)
    simt_gemm_kernel(int M, int N, int K, int batch, LoadA load_a, LoadB load_b, Epilogue epi) {
    constexpr int BM = Tile::BM, BN = Tile::BN, BK = Tile::BK, TM = Tile::TM, TN = Tile::TN;
    constexpr int NT = Tile::THREADS;
    constexpr int A_PER = BM * BK / NT, B_PER = BK * BN / NT;
    // +1 column of padding: the transposing stores (k-fastest loaders) hit distinct banks.
    __shared__ float As[BK][BM + 1];
    __shared__ float Bs[BK][BN + 1];

    const int tid = threadIdx.x;
    const int ty = tid / Tile::COL_THREADS, tx = tid % Tile::COL_THREADS;
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;

    // Position (row in tile, k in slice) of the e-th A element this thread stages.
    auto a_pos = [&](int e, int& r, int& k) {
        const int idx = tid + e * NT;
        if (LoadA::k_fastest) { r = idx / BK; k = idx % BK; }
        else { k = idx / BM; r = idx % BM; }
    };
    auto b_pos = [&](int e, int& k, int& c) {
        const int idx = tid + e * NT;
        if (LoadB::k_fastest) { c = idx / BK; k = idx % BK; }
        else { k = idx / BN; c = idx % BN; }
    };

    for (int b = blockIdx.z; b < batch; b += gridDim.z) {
        const LoadA la = load_a.at(b);
        const LoadB lb = load_b.at(b);
        float ra[A_PER], rb[B_PER];
        auto fetch = [&](int k0) {
#pragma unroll
            for (int e = 0; e < A_PER; ++e) {
                int r, k;
                a_pos(e, r, k);
                ra[e] = la(m0 + r, k0 + k);
            }
#pragma unroll
            for (int e = 0; e < B_PER; ++e) {
                int k, c;
                b_pos(e, k, c);
                rb[e] = lb(k0 + k, n0 + c);
            }
        };

        float acc[TM][TN];
#pragma unroll
        for (int i = 0; i < TM; ++i)
#pragma unroll
            for (int j = 0; j < TN; ++j) acc[i][j] = 0.f;

        fetch(0);
        for (int k0 = 0; k0 < K; k0 += BK) {
            __syncthreads();  // everyone is done reading the previous slice
#pragma unroll
            for (int e = 0; e < A_PER; ++e) {
                int r, k;
                a_pos(e, r, k);
                As[k][r] = ra[e];
            }
#pragma unroll
            for (int e = 0; e < B_PER; ++e) {
                int k, c;
                b_pos(e, k, c);
                Bs[k][c] = rb[e];
            }
            __syncthreads();
            if (k0 + BK < K) fetch(k0 + BK);  // global loads overlap the FMAs below
#pragma unroll
            for (int kk = 0; kk < BK; ++kk) {
                float af[TM], bf[TN];
#pragma unroll
                for (int i = 0; i < TM; ++i) af[i] = As[kk][ty + i * Tile::ROW_THREADS];
#pragma unroll
                for (int j = 0; j < TN; ++j) bf[j] = Bs[kk][tx + j * Tile::COL_THREADS];
#pragma unroll
                for (int i = 0; i < TM; ++i)
#pragma unroll
                    for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(af[i], bf[j], acc[i][j]);
            }
        }

#pragma unroll
        for (int i = 0; i < TM; ++i) {
            const int m = m0 + ty + i * Tile::ROW_THREADS;
            if (m >= M) continue;
#pragma unroll
            for (int j = 0; j < TN; ++j) {
                const int n = n0 + tx + j * Tile::COL_THREADS;
                if (n < N) epi(b, m, n, acc[i][j]);
            }
        }
        __syncthreads();  // the shared tiles are reused by the next batch entry
    }
}

template <class Tile, class LoadA, class LoadB, class Epilogue>
void launch_simt_gemm(int64_t M, int64_t N, int64_t K, int64_t batch, const LoadA& la, const LoadB& lb,
                      const Epilogue& epi, cudaStream_t stream) {
    if (M <= 0 || N <= 0 || batch <= 0) return;
    const dim3 grid(unsigned(ceil_div(N, Tile::BN)), unsigned(ceil_div(M, Tile::BM)),
                    unsigned(batch < 65535 ? batch : 65535));
    ERRSEG_CHECK(grid.y <= 65535u, "GEMM: M = ", M, " is too large for one launch");
    simt_gemm_kernel<Tile><<<grid, Tile::THREADS, 0, stream>>>(int(M), int(N), int(K), int(batch), la, lb, epi);
}

}  // namespace errseg::cuda::kernels
