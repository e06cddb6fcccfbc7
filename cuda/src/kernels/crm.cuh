// ERR-Seg CRM (training-free class selection) on the device, spec §2.7.1:
//   1. per pixel, the r = min(3, T) classes with the largest cost (mean over the P prompt
//      maps), in descending order; ties go to the lower class index (scan in index order with
//      strict '>');
//   2. per-rank histograms count[rank][t] (shared-memory privatised, then added to global);
//   3. w[t] = 0 + count0 * 1 + fl32(count1 * 0.1f) + fl32(count2 * 0.01f), each step rounded
//      to float32 in that order (no FMA contraction);
//   4. rank[t] = #{u : w[u] > w[t] or (w[u] == w[t] and u < t)}; t is selected iff rank < K;
//   5. the selected classes are written in ascending index order (one-warp ballot scan).
// Step 4 is O(T^2) comparisons in parallel (T <= a few thousand vocabulary classes).
#pragma once
#include <cuda_runtime.h>

#include "types.cuh"

namespace errseg::cuda::kernels {

constexpr int kCrmMaxRanks = 3;

// cost [P, T, HW]; counts [r, T] int32, zeroed by the caller.
template <class T>
__global__ void crm_topr_histogram_kernel(const T* __restrict__ cost, int* __restrict__ counts, int P, int nT,
                                          int64_t HW, int r, bool smem_hist) {
    extern __shared__ int hist[];  // [r * nT] when smem_hist
    if (smem_hist) {
        for (int i = threadIdx.x; i < r * nT; i += blockDim.x) hist[i] = 0;
        __syncthreads();
    }
    const int64_t pix = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (pix < HW) {
        float best[kCrmMaxRanks];
        int arg[kCrmMaxRanks];
#pragma unroll
        for (int i = 0; i < kCrmMaxRanks; ++i) {
            best[i] = -INFINITY;
            arg[i] = -1;
        }
        for (int t = 0; t < nT; ++t) {
            float v = 0.f;
            for (int pp = 0; pp < P; ++pp) v += to_f32(cost[(int64_t(pp) * nT + t) * HW + pix]);
            if (P > 1) v /= float(P);
            // Insert into the descending top-r list; equal values keep the earlier (lower) index.
            if (arg[r - 1] < 0 || v > best[r - 1]) {
                int pos = r - 1;
                while (pos > 0 && (arg[pos - 1] < 0 || v > best[pos - 1])) {
                    best[pos] = best[pos - 1];
                    arg[pos] = arg[pos - 1];
                    --pos;
                }
                best[pos] = v;
                arg[pos] = t;
            }
        }
        for (int i = 0; i < r; ++i) {
            if (arg[i] < 0) continue;
            if (smem_hist) atomicAdd(&hist[i * nT + arg[i]], 1);
            else atomicAdd(&counts[i * nT + arg[i]], 1);
        }
    }
    if (smem_hist) {
        __syncthreads();
        for (int i = threadIdx.x; i < r * nT; i += blockDim.x)
            if (hist[i]) atomicAdd(&counts[i], hist[i]);
    }
}

// weights[t] from the counts, then selected[t] = rank(t) < K.
__global__ void crm_weights_kernel(const int* __restrict__ counts, float* __restrict__ weights, int nT, int r) {
    const int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= nT) return;
    const float factor[kCrmMaxRanks] = {1.f, 0.1f, 0.01f};
    float w = 0.f;
    for (int i = 0; i < r; ++i) w = __fadd_rn(w, __fmul_rn(float(counts[i * nT + t]), factor[i]));
    weights[t] = w;
}

__global__ void crm_rank_kernel(const float* __restrict__ weights, int* __restrict__ selected, int nT, int K) {
    const int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= nT) return;
    const float wt = weights[t];
    int rank = 0;
    for (int u = 0; u < nT && rank < K; ++u) {
        const float wu = weights[u];
        rank += (wu > wt || (wu == wt && u < t)) ? 1 : 0;
    }
    selected[t] = rank < K ? 1 : 0;
}

// One warp: compacts the selected class indices in ascending order.
__global__ void crm_compact_kernel(const int* __restrict__ selected, int64_t* __restrict__ indices, int nT) {
    const int lane = threadIdx.x;
    int base = 0;
    for (int t0 = 0; t0 < nT; t0 += 32) {
        const int t = t0 + lane;
        const bool sel = t < nT && selected[t];
        const unsigned mask = __ballot_sync(0xffffffffu, sel);
        if (sel) indices[base + __popc(mask & ((1u << lane) - 1u))] = t;
        base += __popc(mask);
    }
}

// counts [r, nT] (int32), weights [nT] (f32), selected scratch [nT] (int32), indices [K] (int64).
template <class T>
void launch_crm_select(const T* cost, int P, int nT, int64_t HW, int K, int* counts, float* weights, int* selected,
                       int64_t* indices, cudaStream_t stream) {
    const int r = nT < kCrmMaxRanks ? nT : kCrmMaxRanks;
    ERRSEG_CUDA_CHECK(cudaMemsetAsync(counts, 0, sizeof(int) * size_t(r) * size_t(nT), stream));
    const size_t hist_bytes = sizeof(int) * size_t(r) * size_t(nT);
    const bool smem_hist = hist_bytes <= 32 * 1024;
    constexpr int kThreads = 256;
    if (HW > 0)
        crm_topr_histogram_kernel<T><<<unsigned(ceil_div(HW, kThreads)), kThreads, smem_hist ? hist_bytes : 0, stream>>>(
            cost, counts, P, nT, HW, r, smem_hist);
    crm_weights_kernel<<<unsigned(ceil_div(nT, 256)), 256, 0, stream>>>(counts, weights, nT, r);
    crm_rank_kernel<<<unsigned(ceil_div(nT, 256)), 256, 0, stream>>>(weights, selected, nT, K);
    crm_compact_kernel<<<1, 32, 0, stream>>>(selected, indices, nT);
}

}  // namespace errseg::cuda::kernels
