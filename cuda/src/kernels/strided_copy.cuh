// Copy between two layouts of the same index space: dst[offset_d(i)] = src[offset_s(i)] for
// every multi-index i of `size`, with arbitrary element strides on both sides. permute (dense
// destination, permuted source strides) and concat (dense source, destination = a slab of the
// output) are both this kernel. Works on raw elements (E of 1, 2, 4 or 8 bytes), any dtype.
#pragma once
#include <cuda_runtime.h>

#include "types.cuh"

namespace errseg::cuda::kernels {

constexpr int kCopyMaxDims = 8;

struct CopyIndex {
    int ndim = 0;
    int64_t size[kCopyMaxDims] = {};
    int64_t src_stride[kCopyMaxDims] = {};
    int64_t dst_stride[kCopyMaxDims] = {};
};

template <class E>
__global__ void strided_copy_kernel(const E* __restrict__ src, E* __restrict__ dst, int64_t n, CopyIndex ix) {
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        int64_t rem = i, os = 0, od = 0;
        for (int d = ix.ndim - 1; d >= 0; --d) {
            const int64_t c = rem % ix.size[d];
            rem /= ix.size[d];
            os += c * ix.src_stride[d];
            od += c * ix.dst_stride[d];
        }
        dst[od] = src[os];
    }
}

template <class E>
void launch_strided_copy(const E* src, E* dst, int64_t n, const CopyIndex& ix, cudaStream_t stream) {
    if (n <= 0) return;
    const int64_t blocks = ceil_div(n, 256);
    strided_copy_kernel<E><<<unsigned(blocks < 65536 ? blocks : 65536), 256, 0, stream>>>(src, dst, n, ix);
}

}  // namespace errseg::cuda::kernels
