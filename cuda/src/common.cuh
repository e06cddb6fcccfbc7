// Private helpers of the facade translation units: dtype dispatch and argument checks.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <utility>

#include "errseg/cuda/error.hpp"
#include "errseg/cuda/ops.hpp"
#include "kernels/types.cuh"

namespace errseg::cuda::ops::detail {

// Calls f(T{}) with T the storage type of a float dtype.
template <class F>
void dispatch_float(DType dt, const char* op, F&& f) {
    switch (dt) {
        case DType::F32: f(float{}); return;
        case DType::F16: f(__half{}); return;
        case DType::BF16: f(__nv_bfloat16{}); return;
        default: fail(op, ": unsupported dtype ", dtype_name(dt), " (expected F32, F16 or BF16)");
    }
}

inline void check_input(const DeviceTensor& x, const char* op, const char* what = "input") {
    ERRSEG_CHECK(x.defined(), op, ": ", what, " is an undefined DeviceTensor");
    ERRSEG_CHECK(is_float_dtype(x.dtype()), op, ": ", what, " must be F32, F16 or BF16 (got ", dtype_name(x.dtype()),
                 ", shape ", shape_str(x.shape()), ")");
}

inline void check_dims(const DeviceTensor& x, int64_t nd, const char* op, const char* what, const char* layout) {
    ERRSEG_CHECK(x.dim() == nd, op, ": ", what, " must be ", nd, "-d ", layout, ", got shape ", shape_str(x.shape()));
}

// A tensor that must share the input's float dtype.
inline void check_same_dtype(const DeviceTensor& t, DType dt, const char* op, const char* what) {
    ERRSEG_CHECK(t.dtype() == dt, op, ": ", what, " is ", dtype_name(t.dtype()), " but the input is ", dtype_name(dt),
                 " (upload all weights in the compute dtype)");
}

// Optional 1-D parameter (bias, norm weight) of n elements; nullptr when undefined.
template <class T>
const T* optional_param(const DeviceTensor& t, int64_t n, DType dt, const char* op, const char* what) {
    if (!t.defined()) return nullptr;
    ERRSEG_CHECK(t.numel() == n && t.dim() <= 1, op, ": ", what, " has shape ", shape_str(t.shape()), ", expected [",
                 n, "]");
    check_same_dtype(t, dt, op, what);
    return static_cast<const T*>(t.data());
}

// Optional residual of a fused epilogue (added after the activation), in the input's dtype:
// `data` null when undefined; it repeats every `period` output values (fused_residual_period:
// the output's shape, or broadcast over the first dim).
struct Residual {
    const void* data = nullptr;
    int64_t period = 0;
    template <class T>
    const T* as() const {
        return static_cast<const T*>(data);
    }
};
inline Residual optional_residual(const DeviceTensor& r, const Shape& out_shape, DType dt, const char* op) {
    if (!r.defined()) return {};
    const int64_t period = fused_residual_period(r.shape(), out_shape, op);
    check_same_dtype(r, dt, op, "residual");
    return {r.data(), period};
}

template <class T>
const T* cptr(const DeviceTensor& t) {
    return static_cast<const T*>(t.data());
}
template <class T>
T* mptr(DeviceTensor& t) {
    return static_cast<T*>(t.data());
}

}  // namespace errseg::cuda::ops::detail
