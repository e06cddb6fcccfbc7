// Device-side activation functions (fp32), matching errseg::ops / PyTorch.
#pragma once
#include <cuda_runtime.h>

#include "errseg/cuda/activation.hpp"
#include "types.cuh"

namespace errseg::cuda::kernels {

__device__ __forceinline__ float gelu_f(float x) { return 0.5f * x * (1.f + erff(x * 0.70710678118654752f)); }
__device__ __forceinline__ float sigmoid_f(float x) { return 1.f / (1.f + expf(-x)); }
__device__ __forceinline__ float quick_gelu_f(float x) { return x * sigmoid_f(1.702f * x); }
__device__ __forceinline__ float relu_f(float x) { return x > 0.f ? x : (x == x ? 0.f : x); }  // keeps NaN
__device__ __forceinline__ float relu6_f(float x) { return x != x ? x : fminf(fmaxf(x, 0.f), 6.f); }

// Runtime-selected activation (a switch on a kernel argument: uniform across the grid).
__device__ __forceinline__ float apply_activation(float x, Activation a) {
    switch (a) {
        case Activation::None: return x;
        case Activation::Gelu: return gelu_f(x);
        case Activation::QuickGelu: return quick_gelu_f(x);
        case Activation::Relu: return relu_f(x);
        case Activation::Relu6: return relu6_f(x);
        case Activation::Sigmoid: return sigmoid_f(x);
    }
    return x;
}

// The fused epilogue of conv2d / group_norm (errseg::ops'): act(v) + residual, the residual
// repeating every `period` output values (the output's size, or one item of the first dim).
template <class T>
struct ResidualArg {
    const T* p = nullptr;
    int64_t period = 0;
    __device__ __forceinline__ float epilogue(float v, Activation act, int64_t i) const {
        v = apply_activation(v, act);
        return p ? v + ldg_f32(p + i % period) : v;
    }
};

}  // namespace errseg::cuda::kernels
