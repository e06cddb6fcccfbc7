// DeviceTensor: a contiguous, row-major tensor in device memory. Unlike the host Tensor it has
// no general strides: GPU ops take and return dense tensors, and layout changes are explicit
// copies (ops::permute, ops::concat...). Views that stay dense share the block: reshape, and
// slicing/selecting along the first dimension.
//
// dtype: F32/F16/BF16 for data (ops compute in fp32 whatever the storage type), I32/I64/U8
// for indices and labels. The stream is the one the tensor was produced on; ops launch on the
// stream of their first input.
#pragma once
#include <cuda_runtime_api.h>

#include <memory>
#include <utility>

#include "../core/dtype.hpp"
#include "../core/tensor.hpp"
#include "allocator.hpp"
#include "error.hpp"
#include "stream.hpp"

namespace errseg::cuda {

class DeviceTensor {
public:
    DeviceTensor() = default;

    // Uninitialised contents.
    static DeviceTensor empty(const Shape& shape, DType dtype = DType::F32,
                              cudaStream_t stream = current_stream()) {
        DeviceTensor t;
        t.shape_ = shape;
        t.dtype_ = dtype;
        t.stream_ = stream;
        t.block_ = std::make_shared<DeviceBlock>(std::max<size_t>(t.nbytes(), 1), stream);
        return t;
    }
    static DeviceTensor zeros(const Shape& shape, DType dtype = DType::F32,
                              cudaStream_t stream = current_stream()) {
        DeviceTensor t = empty(shape, dtype, stream);
        if (t.nbytes()) ERRSEG_CUDA_CHECK(cudaMemsetAsync(t.data(), 0, t.nbytes(), stream));
        return t;
    }

    bool defined() const { return block_ != nullptr; }
    DType dtype() const { return dtype_; }
    const Shape& shape() const { return shape_; }
    int64_t dim() const { return int64_t(shape_.size()); }
    int64_t size(int64_t d) const { return shape_.at(size_t(wrap_dim(d))); }
    int64_t numel() const { return shape_numel(shape_); }
    size_t nbytes() const { return size_t(numel()) * dtype_size(dtype_); }
    cudaStream_t stream() const { return stream_; }

    void* data() {
        ERRSEG_CHECK(defined(), "access to an undefined DeviceTensor");
        return static_cast<uint8_t*>(block_->data()) + offset_;
    }
    const void* data() const {
        ERRSEG_CHECK(defined(), "access to an undefined DeviceTensor");
        return static_cast<const uint8_t*>(block_->data()) + offset_;
    }
    // Typed pointer; T must be the storage type (float, int32_t, int64_t, uint8_t, or a 2-byte
    // type such as __half / __nv_bfloat16 / uint16_t for F16 and BF16).
    template <class T>
    T* data_as() {
        ERRSEG_CHECK(sizeof(T) == dtype_size(dtype_), "DeviceTensor of ", dtype_name(dtype_),
                     " accessed with an element of ", sizeof(T), " bytes");
        return static_cast<T*>(data());
    }
    template <class T>
    const T* data_as() const {
        ERRSEG_CHECK(sizeof(T) == dtype_size(dtype_), "DeviceTensor of ", dtype_name(dtype_),
                     " accessed with an element of ", sizeof(T), " bytes");
        return static_cast<const T*>(data());
    }

    // ---- views sharing the block ----
    DeviceTensor reshape(Shape shape) const {
        shape = resolve_reshape(shape_, std::move(shape), numel());
        DeviceTensor t = *this;
        t.shape_ = std::move(shape);
        return t;
    }
    // Rows [start, end) of dimension 0 (still dense).
    DeviceTensor slice0(int64_t start, int64_t end) const {
        ERRSEG_CHECK(dim() >= 1 && 0 <= start && start <= end && end <= shape_[0], "slice0 [", start, ", ",
                     end, ") out of range for ", shape_str(shape_));
        DeviceTensor t = *this;
        t.offset_ += size_t(start) * size_t(numel() / std::max<int64_t>(shape_[0], 1)) * dtype_size(dtype_);
        t.shape_[0] = end - start;
        return t;
    }
    // Index i of dimension 0, dropping it.
    DeviceTensor select0(int64_t i) const {
        DeviceTensor t = slice0(i, i + 1);
        t.shape_.erase(t.shape_.begin());
        return t;
    }
    // Same bytes, used on another stream from now on (the caller orders the two streams).
    DeviceTensor on_stream(cudaStream_t s) const {
        DeviceTensor t = *this;
        t.stream_ = s;
        return t;
    }

    int64_t wrap_dim(int64_t d) const {
        const int64_t n = dim();
        if (d < 0) d += n;
        ERRSEG_CHECK(d >= 0 && d < std::max<int64_t>(n, 1), "dimension ", d, " out of range for ", n,
                     "-d tensor");
        return d;
    }
    const std::shared_ptr<DeviceBlock>& block() const { return block_; }

private:
    std::shared_ptr<DeviceBlock> block_;
    size_t offset_ = 0;
    Shape shape_;
    DType dtype_ = DType::F32;
    cudaStream_t stream_ = cudaStreamPerThread;
};

inline bool is_float_dtype(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

}  // namespace errseg::cuda
