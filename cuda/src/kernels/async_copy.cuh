// cp.async (sm_80+): global -> shared copies that bypass registers and complete
// asynchronously, so the next tile loads while the current one is multiplied.
// With src_bytes = 0 the destination is zero-filled: out-of-range tile parts become zeros
// without a branch around the copy.
#pragma once
#include <cuda_runtime.h>

namespace errseg::cuda::kernels {

__device__ __forceinline__ void cp_async_16(void* smem_dst, const void* gmem_src, bool valid) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem_dst));
    const int src_bytes = valid ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(gmem_src), "r"(src_bytes));
#else
    // Older devices: a plain 16-byte copy (still correct, just not asynchronous).
    uint4 v = valid ? *static_cast<const uint4*>(gmem_src) : make_uint4(0, 0, 0, 0);
    *static_cast<uint4*>(smem_dst) = v;
#endif
}

__device__ __forceinline__ void cp_async_commit() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.commit_group;\n" ::);
#endif
}

// Waits until at most N committed groups are still in flight.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
#endif
}

}  // namespace errseg::cuda::kernels
