// Elementwise kernels: unary maps (activations, scale, clamp), numpy-broadcasting binary
// arithmetic, and dtype casts. Memory-bound; grid-stride loops over flat indices.
#pragma once
#include <cuda_runtime.h>

#include "activation.cuh"
#include "types.cuh"

namespace errseg::cuda::kernels {

// ---- unary ----
enum class UnaryKind : int { Activation = 0, Scale, Clamp };
struct UnaryOp {
    UnaryKind kind = UnaryKind::Activation;
    Activation act = Activation::None;
    float a = 0.f, b = 0.f;  // Scale: factor a; Clamp: [a, b]
    __device__ float operator()(float x) const {
        switch (kind) {
            case UnaryKind::Activation: return apply_activation(x, act);
            case UnaryKind::Scale: return x * a;
            case UnaryKind::Clamp: return x != x ? x : fminf(fmaxf(x, a), b);  // NaN stays NaN, as torch.clamp
        }
        return x;
    }
};

template <class T>
__global__ void unary_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t n, UnaryOp op) {
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        y[i] = from_f32<T>(op(to_f32(x[i])));
}

// Enough blocks to fill the device a few times over; the grid-stride loop does the rest.
inline unsigned elementwise_blocks(int64_t n, int threads) {
    const int64_t b = ceil_div(n, threads);
    return unsigned(b < 65536 ? (b > 0 ? b : 1) : 65536);
}

template <class T>
void launch_unary(const T* x, T* y, int64_t n, UnaryOp op, cudaStream_t stream) {
    if (n <= 0) return;
    unary_kernel<T><<<elementwise_blocks(n, 256), 256, 0, stream>>>(x, y, n, op);
}

// ---- binary with broadcasting ----
enum class BinaryKind : int { Add = 0, Sub, Mul, Div };
constexpr int kMaxDims = 8;

// Output shape and, for each input, its element strides in output coordinates (0 where the
// input is broadcast along that dimension).
struct BroadcastIndex {
    int ndim = 0;
    int64_t size[kMaxDims] = {};
    int64_t stride_a[kMaxDims] = {};
    int64_t stride_b[kMaxDims] = {};
};

__device__ __forceinline__ float binary_apply(BinaryKind k, float a, float b) {
    switch (k) {
        case BinaryKind::Add: return a + b;
        case BinaryKind::Sub: return a - b;
        case BinaryKind::Mul: return a * b;
        case BinaryKind::Div: return a / b;
    }
    return a;
}

template <class T>
__global__ void binary_same_shape_kernel(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y,
                                         int64_t n, BinaryKind k) {
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        y[i] = from_f32<T>(binary_apply(k, to_f32(a[i]), to_f32(b[i])));
}

template <class T>
__global__ void binary_broadcast_kernel(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y,
                                        int64_t n, BroadcastIndex ix, BinaryKind k) {
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        int64_t rem = i, oa = 0, ob = 0;
        for (int d = ix.ndim - 1; d >= 0; --d) {  // innermost dimension first
            const int64_t c = rem % ix.size[d];
            rem /= ix.size[d];
            oa += c * ix.stride_a[d];
            ob += c * ix.stride_b[d];
        }
        y[i] = from_f32<T>(binary_apply(k, to_f32(a[oa]), to_f32(b[ob])));
    }
}

template <class T>
void launch_binary(const T* a, const T* b, T* y, int64_t n, const BroadcastIndex* ix, BinaryKind k,
                   cudaStream_t stream) {
    if (n <= 0) return;
    if (!ix) binary_same_shape_kernel<T><<<elementwise_blocks(n, 256), 256, 0, stream>>>(a, b, y, n, k);
    else binary_broadcast_kernel<T><<<elementwise_blocks(n, 256), 256, 0, stream>>>(a, b, y, n, *ix, k);
}

// ---- casts between float storage types ----
template <class From, class To>
__global__ void cast_kernel(const From* __restrict__ x, To* __restrict__ y, int64_t n) {
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        y[i] = from_f32<To>(to_f32(x[i]));
}

template <class From, class To>
void launch_cast(const From* x, To* y, int64_t n, cudaStream_t stream) {
    if (n <= 0) return;
    cast_kernel<From, To><<<elementwise_blocks(n, 256), 256, 0, stream>>>(x, y, n);
}

}  // namespace errseg::cuda::kernels
