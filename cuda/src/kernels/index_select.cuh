// x.index_select(dim, idx) on a tensor viewed as [outer, D, inner] with device-resident indices
// (e.g. the CRM selection, which then never visits the host): out[o, j, i] = x[o, idx[j], i].
// Indices outside [0, D) cannot be reported without a host sync; their slices are zero-filled.
// Works on raw elements of any size (E = storage type of 1, 2, 4 or 8 bytes).
#pragma once
#include <cuda_runtime.h>

#include "types.cuh"

namespace errseg::cuda::kernels {

template <class E, class I>
__global__ void index_select_kernel(const E* __restrict__ x, const I* __restrict__ idx, E* __restrict__ y,
                                    int64_t outer, int64_t D, int64_t J, int64_t inner) {
    const int64_t total = outer * J * inner;
    for (int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += int64_t(gridDim.x) * blockDim.x) {
        const int64_t i = t % inner, j = (t / inner) % J, o = t / (inner * J);
        const int64_t src = int64_t(idx[j]);
        y[t] = (src >= 0 && src < D) ? x[(o * D + src) * inner + i] : E{};
    }
}

template <class E, class I>
void launch_index_select(const E* x, const I* idx, E* y, int64_t outer, int64_t D, int64_t J, int64_t inner,
                         cudaStream_t stream) {
    const int64_t total = outer * J * inner;
    if (total == 0) return;
    const int64_t blocks = ceil_div(total, 256);
    index_select_kernel<E, I><<<unsigned(blocks < 65536 ? blocks : 65536), 256, 0, stream>>>(x, idx, y, outer, D, J,
                                                                                             inner);
}

}  // namespace errseg::cuda::kernels
