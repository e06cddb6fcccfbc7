// Explicit instantiation of the GEMM launcher for float storage.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/gemm.cuh"

template void errseg::cuda::kernels::launch_gemm<float>(const errseg::cuda::GemmArgs&, cudaStream_t);
