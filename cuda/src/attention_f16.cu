// Explicit instantiation of the fused attention launcher for __half storage.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/attention.cuh"

template void errseg::cuda::kernels::launch_flash_attention<__half>(
    const errseg::cuda::kernels::AttentionParams<__half>&, cudaStream_t);
