// Explicit instantiation of the fused attention launcher for __nv_bfloat16 storage.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/attention.cuh"

template void errseg::cuda::kernels::launch_flash_attention<__nv_bfloat16>(
    const errseg::cuda::kernels::AttentionParams<__nv_bfloat16>&, cudaStream_t);
