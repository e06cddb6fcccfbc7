// torch.argmax over one dimension of a tensor viewed as [outer, D, inner] -> int64
// [outer, inner]: the first maximal index; NaN compares as larger than everything (the first
// NaN wins), as in PyTorch. One thread per (outer, inner); for inner > 1 (classes of an NCHW
// map) consecutive threads read consecutive pixels.
#pragma once
#include <cuda_runtime.h>

#include "types.cuh"

namespace errseg::cuda::kernels {

template <class T>
__global__ void argmax_kernel(const T* __restrict__ x, int64_t* __restrict__ out, int64_t outer, int D,
                              int64_t inner) {
    const int64_t total = outer * inner;
    for (int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += int64_t(gridDim.x) * blockDim.x) {
        const T* p = x + (t / inner) * D * inner + t % inner;
        float best = to_f32(p[0]);
        int arg = 0;
        for (int d = 1; d < D && best == best; ++d) {  // stop at the first NaN
            const float v = to_f32(p[int64_t(d) * inner]);
            if (v > best || v != v) {
                best = v;
                arg = d;
            }
        }
        out[t] = arg;
    }
}

template <class T>
void launch_argmax(const T* x, int64_t* out, int64_t outer, int64_t D, int64_t inner, cudaStream_t stream) {
    const int64_t total = outer * inner;
    if (total == 0) return;
    const int64_t blocks = ceil_div(total, 256);
    argmax_kernel<T><<<unsigned(blocks < 65536 ? blocks : 65536), 256, 0, stream>>>(x, out, outer, int(D), inner);
}

}  // namespace errseg::cuda::kernels
