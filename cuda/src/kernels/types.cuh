// Element types on the device: float, __half, __nv_bfloat16 storage, always computed in fp32.
// load_f32 / store_f32 are the only conversions kernels use, so a kernel templated on T works
// for all three storage types.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "errseg/core/dtype.hpp"
#include "errseg/cuda/error.hpp"

namespace errseg::cuda::kernels {

__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }

template <class T>
__device__ __forceinline__ T from_f32(float v);
template <>
__device__ __forceinline__ float from_f32<float>(float v) { return v; }
template <>
__device__ __forceinline__ __half from_f32<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

// Read-only load through the non-coherent cache, converted to float.
template <class T>
__device__ __forceinline__ float ldg_f32(const T* p) { return to_f32(__ldg(p)); }

// Host-side mapping from storage type to errseg::DType.
template <class T> struct device_dtype;
template <> struct device_dtype<float> { static constexpr DType value = DType::F32; };
template <> struct device_dtype<__half> { static constexpr DType value = DType::F16; };
template <> struct device_dtype<__nv_bfloat16> { static constexpr DType value = DType::BF16; };

template <class T>
constexpr bool is_half_type = sizeof(T) == 2;

__host__ __device__ constexpr inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Warp-wide reductions (all 32 lanes must take part).
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Block-wide sum for blockDim.x a multiple of 32 (<= 1024); every thread gets the result.
// `scratch` needs 32 floats of shared memory; the call ends with the scratch free for reuse.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float t = lane < nwarps ? scratch[lane] : 0.f;
    t = warp_sum(t);
    __syncthreads();
    return t;
}

}  // namespace errseg::cuda::kernels
