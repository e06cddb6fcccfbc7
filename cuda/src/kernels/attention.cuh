// Fused scaled-dot-product attention with an online ("flash") softmax: the Lq x Lk score
// matrix is never written to memory. fp32 arithmetic on F32/F16/BF16 storage.
//
//   O[b, h, i, :] = sum_j softmax_j(scale * Q[b,h,i,:] . K[b,h,j,:]) V[b,h,j,:]
//
// Lq and Lk are independent (spatial-reduction keys: 1600 queries attend to 400 keys in
// ERR-Seg); causal masking is top-left aligned (key j visible to query i iff j <= i, PyTorch's
// is_causal). Any head dim D <= 128 (padded to 32/64/128 in shared memory). Tensors are given
// by base pointer and element strides for batch, head and sequence (the head-dim stride is 1),
// so both [B, H, L, D] and token-major [B, L, H*D] layouts (and slices of a packed QKV tensor)
// work without copies.
//
// One block = 64 queries of one (b, h), 128 threads. Per tile of BKV keys:
//   1. S = Q K^T (scaled, in log2 units) into shared memory; masked entries = -inf;
//   2. per query row (2 threads each): new running max m', rescale factor alpha = 2^(m - m'),
//      P = 2^(S - m') in place, running sum l = l * alpha + sum(P);
//   3. O = O * alpha + P V, with O held in registers (thread: 4 rows x D/8 columns).
// At the end O / l is written.
#pragma once
#include <cuda_runtime.h>

#include "types.cuh"

namespace errseg::cuda::kernels {

template <class T>
struct AttentionParams {
    const T* q;
    const T* k;
    const T* v;
    T* o;
    int64_t q_sb, q_sh, q_sl;  // element strides: batch, head, sequence
    int64_t k_sb, k_sh, k_sl;
    int64_t v_sb, v_sh, v_sl;
    int64_t o_sb, o_sh, o_sl;
    int B, H, Lq, Lk, D;
    float scale;  // softmax scale (already resolved, e.g. 1/sqrt(D))
    bool causal;
};

template <int DP>
struct AttentionTile {
    static constexpr int BQ = 64;                  // queries per block
    static constexpr int BKV = DP <= 64 ? 64 : 32; // keys per tile (keeps shared memory < 80 KB)
    static constexpr int THREADS = 128;            // 16 row groups x 8 column groups
    static constexpr int RG = 16, CG = 8;
    static constexpr int RPT = BQ / RG;            // rows per thread (4)
    static constexpr int SCOLS = BKV / CG;         // score columns per thread
    static constexpr int OCOLS = DP / CG;          // output columns per thread
    // Shared memory in floats: Q [BQ][DP+1], K [BKV][DP+1], V [BKV][DP], S [BQ][BKV+1], row stats.
    static constexpr int Q_LD = DP + 1, K_LD = DP + 1, V_LD = DP, S_LD = BKV + 1;
    static constexpr int SMEM_FLOATS = BQ * Q_LD + BKV * K_LD + BKV * V_LD + BQ * S_LD + 3 * BQ;
    static constexpr size_t SMEM_BYTES = size_t(SMEM_FLOATS) * sizeof(float);
};

template <class T, int DP>
__global__ void __launch_bounds__(AttentionTile<DP>::THREADS) flash_attention_kernel(AttentionParams<T> p) {
    using Tl = AttentionTile<DP>;
    constexpr int BQ = Tl::BQ, BKV = Tl::BKV, NT = Tl::THREADS;
    extern __shared__ float smem[];
    float* Qs = smem;                       // [BQ][Q_LD]
    float* Ks = Qs + BQ * Tl::Q_LD;         // [BKV][K_LD]
    float* Vs = Ks + BKV * Tl::K_LD;        // [BKV][V_LD]
    float* Ss = Vs + BKV * Tl::V_LD;        // [BQ][S_LD]
    float* row_max = Ss + BQ * Tl::S_LD;    // running max (log2 units)
    float* row_sum = row_max + BQ;          // running sum of 2^(s - max)
    float* row_alpha = row_sum + BQ;        // rescale factor of the current tile

    const int tid = threadIdx.x;
    const int ry = tid / Tl::CG, cx = tid % Tl::CG;
    const int q0 = blockIdx.x * BQ;
    const int b = blockIdx.y / p.H, h = blockIdx.y % p.H;
    const T* Q = p.q + b * p.q_sb + h * p.q_sh;
    const T* K = p.k + b * p.k_sb + h * p.k_sh;
    const T* V = p.v + b * p.v_sb + h * p.v_sh;
    T* O = p.o + b * p.o_sb + h * p.o_sh;
    const float qscale = p.scale * 1.4426950408889634f;  // exp(x) = 2^(x log2 e)

    // Q tile, pre-scaled; zero rows/columns outside [Lq) x [D).
    for (int i = tid; i < BQ * DP; i += NT) {
        const int r = i / DP, d = i % DP;
        Qs[r * Tl::Q_LD + d] = (q0 + r < p.Lq && d < p.D) ? to_f32(Q[int64_t(q0 + r) * p.q_sl + d]) * qscale : 0.f;
    }
    for (int r = tid; r < BQ; r += NT) {
        row_max[r] = -INFINITY;
        row_sum[r] = 0.f;
    }
    float acc[Tl::RPT][Tl::OCOLS];
#pragma unroll
    for (int i = 0; i < Tl::RPT; ++i)
#pragma unroll
        for (int j = 0; j < Tl::OCOLS; ++j) acc[i][j] = 0.f;

    // Causal: keys past the block's last query are masked for every row in it.
    const int kv_end = p.causal ? min(p.Lk, q0 + BQ) : p.Lk;
    for (int kv0 = 0; kv0 < kv_end; kv0 += BKV) {
        __syncthreads();  // previous tile's K/V/S reads are done (and Q/stats are written)
        for (int i = tid; i < BKV * DP; i += NT) {
            const int r = i / DP, d = i % DP;
            const bool ok = kv0 + r < p.Lk && d < p.D;
            Ks[r * Tl::K_LD + d] = ok ? to_f32(K[int64_t(kv0 + r) * p.k_sl + d]) : 0.f;
            Vs[r * Tl::V_LD + d] = ok ? to_f32(V[int64_t(kv0 + r) * p.v_sl + d]) : 0.f;
        }
        __syncthreads();

        // 1. scores for rows ry + 16 i, columns cx + 8 j
        float s[Tl::RPT][Tl::SCOLS];
#pragma unroll
        for (int i = 0; i < Tl::RPT; ++i)
#pragma unroll
            for (int j = 0; j < Tl::SCOLS; ++j) s[i][j] = 0.f;
#pragma unroll 8
        for (int d = 0; d < DP; ++d) {
            float qv[Tl::RPT], kv[Tl::SCOLS];
#pragma unroll
            for (int i = 0; i < Tl::RPT; ++i) qv[i] = Qs[(ry + i * Tl::RG) * Tl::Q_LD + d];
#pragma unroll
            for (int j = 0; j < Tl::SCOLS; ++j) kv[j] = Ks[(cx + j * Tl::CG) * Tl::K_LD + d];
#pragma unroll
            for (int i = 0; i < Tl::RPT; ++i)
#pragma unroll
                for (int j = 0; j < Tl::SCOLS; ++j) s[i][j] = fmaf(qv[i], kv[j], s[i][j]);
        }
#pragma unroll
        for (int i = 0; i < Tl::RPT; ++i) {
            const int r = ry + i * Tl::RG;
#pragma unroll
            for (int j = 0; j < Tl::SCOLS; ++j) {
                const int c = cx + j * Tl::CG;
                const int key = kv0 + c;
                const bool masked = key >= p.Lk || (p.causal && key > q0 + r);
                Ss[r * Tl::S_LD + c] = masked ? -INFINITY : s[i][j];
            }
        }
        __syncthreads();

        // 2. online softmax update, two threads per row (adjacent lanes: combined by shuffle)
        {
            const int r = tid / 2, half = tid % 2;
            float* srow = Ss + r * Tl::S_LD + half * (BKV / 2);
            float mt = -INFINITY;
            for (int c = 0; c < BKV / 2; ++c) mt = fmaxf(mt, srow[c]);
            mt = fmaxf(mt, __shfl_xor_sync(0xffffffffu, mt, 1));
            const float m_old = row_max[r];
            const float m_new = fmaxf(m_old, mt);
            // Nothing visible yet (m_new = -inf): keep everything at zero, avoid inf - inf.
            const bool empty = m_new == -INFINITY;
            const float alpha = empty ? 1.f : exp2f(m_old - m_new);
            float sum = 0.f;
            for (int c = 0; c < BKV / 2; ++c) {
                const float e = empty ? 0.f : exp2f(srow[c] - m_new);
                srow[c] = e;
                sum += e;
            }
            sum += __shfl_xor_sync(0xffffffffu, sum, 1);
            __syncwarp();
            if (half == 0) {
                row_max[r] = m_new;
                row_sum[r] = row_sum[r] * alpha + sum;
                row_alpha[r] = alpha;
            }
        }
        __syncthreads();

        // 3. O = O * alpha + P V for rows ry + 16 i, columns cx + 8 j
#pragma unroll
        for (int i = 0; i < Tl::RPT; ++i) {
            const float a = row_alpha[ry + i * Tl::RG];
#pragma unroll
            for (int j = 0; j < Tl::OCOLS; ++j) acc[i][j] *= a;
        }
#pragma unroll 4
        for (int c = 0; c < BKV; ++c) {
            float pv[Tl::RPT], vv[Tl::OCOLS];
#pragma unroll
            for (int i = 0; i < Tl::RPT; ++i) pv[i] = Ss[(ry + i * Tl::RG) * Tl::S_LD + c];
#pragma unroll
            for (int j = 0; j < Tl::OCOLS; ++j) vv[j] = Vs[c * Tl::V_LD + cx + j * Tl::CG];
#pragma unroll
            for (int i = 0; i < Tl::RPT; ++i)
#pragma unroll
                for (int j = 0; j < Tl::OCOLS; ++j) acc[i][j] = fmaf(pv[i], vv[j], acc[i][j]);
        }
    }
    __syncthreads();

#pragma unroll
    for (int i = 0; i < Tl::RPT; ++i) {
        const int r = ry + i * Tl::RG;
        if (q0 + r >= p.Lq) continue;
        const float l = row_sum[r];
        const float inv = l > 0.f ? 1.f / l : 0.f;
#pragma unroll
        for (int j = 0; j < Tl::OCOLS; ++j) {
            const int d = cx + j * Tl::CG;
            if (d < p.D) O[int64_t(q0 + r) * p.o_sl + d] = from_f32<T>(acc[i][j] * inv);
        }
    }
}

template <class T, int DP>
void launch_flash_attention_dp(const AttentionParams<T>& p, cudaStream_t stream) {
    using Tl = AttentionTile<DP>;
    auto kernel = flash_attention_kernel<T, DP>;
    // More than 48 KB of dynamic shared memory must be opted into (per device; cheap to repeat).
    ERRSEG_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(Tl::SMEM_BYTES)));
    const dim3 grid(unsigned(ceil_div(p.Lq, Tl::BQ)), unsigned(p.B * p.H));
    kernel<<<grid, Tl::THREADS, Tl::SMEM_BYTES, stream>>>(p);
}

template <class T>
void launch_flash_attention(const AttentionParams<T>& p, cudaStream_t stream) {
    ERRSEG_CHECK(p.D >= 1 && p.D <= 128, "attention: head dim ", p.D, " not supported (1..128)");
    ERRSEG_CHECK(int64_t(p.B) * p.H <= 65535, "attention: batch * heads = ", int64_t(p.B) * p.H,
                 " exceeds one launch (65535)");
    ERRSEG_CHECK(p.Lk > 0 || p.Lq == 0, "attention: no keys");
    if (p.B == 0 || p.H == 0 || p.Lq == 0) return;
    if (p.D <= 32) launch_flash_attention_dp<T, 32>(p, stream);
    else if (p.D <= 64) launch_flash_attention_dp<T, 64>(p, stream);
    else launch_flash_attention_dp<T, 128>(p, stream);
}

}  // namespace errseg::cuda::kernels
