// Explicit instantiation of the fused attention launcher for float storage.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/attention.cuh"

template void errseg::cuda::kernels::launch_flash_attention<float>(
    const errseg::cuda::kernels::AttentionParams<float>&, cudaStream_t);
