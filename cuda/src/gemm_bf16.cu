// Explicit instantiation of the GEMM launcher for __nv_bfloat16 storage.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/gemm.cuh"

template void errseg::cuda::kernels::launch_gemm<__nv_bfloat16>(const errseg::cuda::GemmArgs&, cudaStream_t);
