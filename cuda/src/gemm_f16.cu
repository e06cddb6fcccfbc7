// Explicit instantiation of the GEMM launcher for __half storage.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/gemm.cuh"

template void errseg::cuda::kernels::launch_gemm<__half>(const errseg::cuda::GemmArgs&, cudaStream_t);
