// ERR-Seg output reconstruction (spec H14): out [N, T, HW] = fill everywhere, then the K
// computed class maps are written at their class rows: out[n, idx[j], :] = src[n, j, :].
// One pass: each output element finds its source through an inverse map class -> j (or -1),
// built by a tiny kernel from idx (duplicate indices: the last j wins, like a sequential scatter).
#pragma once
#include <cuda_runtime.h>

#include "types.cuh"

namespace errseg::cuda::kernels {

template <class I>
__global__ void inverse_index_kernel(const I* __restrict__ idx, int K, int* __restrict__ inv, int nT) {
    // Single thread block: clear, then record j for each idx[j] in order (last wins).
    for (int t = threadIdx.x; t < nT; t += blockDim.x) inv[t] = -1;
    __syncthreads();
    if (threadIdx.x == 0)
        for (int j = 0; j < K; ++j) {
            const int64_t t = int64_t(idx[j]);
            if (t >= 0 && t < nT) inv[t] = j;
        }
}

template <class T>
__global__ void scatter_classes_kernel(const T* __restrict__ src, const int* __restrict__ inv, T* __restrict__ out,
                                       int N, int K, int nT, int64_t HW, float fill) {
    const int64_t total = int64_t(N) * nT * HW;
    const T f = from_f32<T>(fill);
    for (int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += int64_t(gridDim.x) * blockDim.x) {
        const int64_t p = t % HW;
        const int cls = int((t / HW) % nT);
        const int64_t n = t / (HW * nT);
        const int j = inv[cls];
        out[t] = j >= 0 ? src[(n * K + j) * HW + p] : f;
    }
}

template <class T, class I>
void launch_scatter_classes(const T* src, const I* idx, int* inv_scratch, T* out, int N, int K, int nT, int64_t HW,
                            float fill, cudaStream_t stream) {
    inverse_index_kernel<I><<<1, 256, 0, stream>>>(idx, K, inv_scratch, nT);
    const int64_t total = int64_t(N) * nT * HW;
    if (total == 0) return;
    const int64_t blocks = ceil_div(total, 256);
    scatter_classes_kernel<T><<<unsigned(blocks < 65536 ? blocks : 65536), 256, 0, stream>>>(src, inv_scratch, out, N, K,
                                                                                             nT, HW, fill);
}

}  // namespace errseg::cuda::kernels
