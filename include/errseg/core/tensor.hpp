// The tensor: a typed, strided view onto shared storage. Views (reshape of contiguous
// data, permute, slice) share bytes; ops produce fresh contiguous tensors.
#pragma once
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "dtype.hpp"
#include "error.hpp"
#include "shape.hpp"
#include "storage.hpp"
#include "strided_copy.hpp"

namespace errseg {

class Tensor {
public:
    Tensor() = default;

    // ---- construction ----
    static Tensor empty(const Shape& shape, DType dtype = DType::F32) {
        Tensor t;
        t.shape_ = shape;
        t.strides_ = contiguous_strides(shape);
        t.dtype_ = dtype;
        t.storage_ = std::make_shared<HeapStorage>(size_t(shape_numel(shape)) * dtype_size(dtype));
        return t;
    }
    static Tensor zeros(const Shape& shape, DType dtype = DType::F32) {
        Tensor t = empty(shape, dtype);
        std::fill_n(t.storage_->data(), t.nbytes(), uint8_t(0));
        return t;
    }
    static Tensor full(const Shape& shape, float value) {
        Tensor t = empty(shape);
        std::fill_n(t.data<float>(), t.numel(), value);
        return t;
    }
    template <class T>
    static Tensor from_vector(const Shape& shape, const std::vector<T>& v) {
        ERRSEG_CHECK(int64_t(v.size()) == shape_numel(shape), "from_vector: ", v.size(),
                     " values do not fill shape ", shape_str(shape));
        Tensor t = empty(shape, dtype_of<T>::value);
        std::copy(v.begin(), v.end(), t.data<T>());
        return t;
    }
    // A view onto bytes owned by `storage` (e.g. a memory-mapped weight file).
    static Tensor view_of(std::shared_ptr<Storage> storage, size_t byte_offset, const Shape& shape,
                          DType dtype) {
        ERRSEG_CHECK(byte_offset + size_t(shape_numel(shape)) * dtype_size(dtype) <= storage->bytes(),
                     "tensor view exceeds its storage");
        Tensor t;
        t.storage_ = std::move(storage);
        t.offset_bytes_ = byte_offset;
        t.shape_ = shape;
        t.strides_ = contiguous_strides(shape);
        t.dtype_ = dtype;
        return t;
    }

    // ---- inspection ----
    bool defined() const { return storage_ != nullptr; }
    DType dtype() const { return dtype_; }
    const Shape& shape() const { return shape_; }
    const Shape& strides() const { return strides_; }
    int64_t dim() const { return int64_t(shape_.size()); }
    int64_t size(int64_t d) const { return shape_.at(size_t(wrap_dim(d))); }
    int64_t numel() const { return shape_numel(shape_); }
    size_t nbytes() const { return size_t(numel()) * dtype_size(dtype_); }
    const std::shared_ptr<Storage>& storage() const { return storage_; }

    bool is_contiguous() const {
        int64_t acc = 1;
        for (size_t i = shape_.size(); i-- > 0;) {
            if (shape_[i] != 1 && strides_[i] != acc) return false;
            acc *= shape_[i];
        }
        return true;
    }

    template <class T>
    T* data() {
        check_type<T>();
        ERRSEG_CHECK(storage_->writable(), "tensor is read-only (memory-mapped); copy it first");
        return reinterpret_cast<T*>(storage_->data() + offset_bytes_);
    }
    template <class T>
    const T* data() const {
        check_type<T>();
        return reinterpret_cast<const T*>(storage_->data() + offset_bytes_);
    }
    const void* raw() const { return storage_->data() + offset_bytes_; }

    // ---- views (no copy) ----
    Tensor reshape(Shape shape) const {
        shape = resolve_reshape(shape_, std::move(shape), numel());
        Tensor t = is_contiguous() ? *this : contiguous();
        t.shape_ = std::move(shape);
        t.strides_ = contiguous_strides(t.shape_);
        return t;
    }
    Tensor permute(const std::vector<int64_t>& order) const {
        ERRSEG_CHECK(order.size() == shape_.size(), "permute: order has ", order.size(),
                     " entries for a ", dim(), "-d tensor");
        Tensor t = *this;
        std::vector<bool> seen(order.size(), false);
        for (size_t i = 0; i < order.size(); ++i) {
            int64_t d = wrap_dim(order[i]);
            ERRSEG_CHECK(!seen[size_t(d)], "permute: repeated dimension");
            seen[size_t(d)] = true;
            t.shape_[i] = shape_[size_t(d)];
            t.strides_[i] = strides_[size_t(d)];
        }
        return t;
    }
    Tensor transpose(int64_t a, int64_t b) const {
        std::vector<int64_t> order(shape_.size());
        std::iota(order.begin(), order.end(), 0);
        std::swap(order[size_t(wrap_dim(a))], order[size_t(wrap_dim(b))]);
        return permute(order);
    }
    // Elements [start, end) along dimension d.
    Tensor slice(int64_t d, int64_t start, int64_t end) const {
        d = wrap_dim(d);
        ERRSEG_CHECK(0 <= start && start <= end && end <= shape_[size_t(d)], "slice [", start, ", ",
                     end, ") out of range for dim ", d, " of ", shape_str(shape_));
        Tensor t = *this;
        t.offset_bytes_ += size_t(start * strides_[size_t(d)]) * dtype_size(dtype_);
        t.shape_[size_t(d)] = end - start;
        return t;
    }
    // Index i along dimension d, dropping that dimension.
    Tensor select(int64_t d, int64_t i) const {
        d = wrap_dim(d);
        Tensor t = slice(d, i, i + 1);
        t.shape_.erase(t.shape_.begin() + d);
        t.strides_.erase(t.strides_.begin() + d);
        return t;
    }
    Tensor unsqueeze(int64_t d) const {
        if (d < 0) d += dim() + 1;
        Tensor t = *this;
        int64_t st = d < dim() ? strides_[size_t(d)] * shape_[size_t(d)] : 1;
        t.shape_.insert(t.shape_.begin() + d, 1);
        t.strides_.insert(t.strides_.begin() + d, st);
        return t;
    }

    // ---- copies ----
    // Dense row-major copy (shares storage when already contiguous and writable, unless forced).
    Tensor contiguous() const {
        if (is_contiguous()) return *this;
        return clone();
    }
    Tensor clone() const {
        Tensor out = empty(shape_, dtype_);
        const size_t es = dtype_size(dtype_);
        const uint8_t* src = storage_->data() + offset_bytes_;
        uint8_t* dst = out.storage_->data();
        if (is_contiguous()) {
            std::copy_n(src, size_t(numel()) * es, dst);
            return out;
        }
        detail::copy_strided(src, shape_, strides_, es, dst);
        return out;
    }
    // Converts any floating storage type (F32/F16/BF16) to a contiguous float32 tensor.
    Tensor to_f32() const {
        if (dtype_ == DType::F32) return contiguous();
        ERRSEG_CHECK(dtype_ == DType::F16 || dtype_ == DType::BF16, "to_f32: cannot convert ",
                     dtype_name(dtype_));
        Tensor c = contiguous();
        Tensor out = empty(shape_, DType::F32);
        const uint16_t* s = static_cast<const uint16_t*>(c.raw());
        float* d = out.data<float>();
        const int64_t n = numel();
        if (dtype_ == DType::F16)
            for (int64_t i = 0; i < n; ++i) d[i] = half_to_float(s[i]);
        else
            for (int64_t i = 0; i < n; ++i) d[i] = bf16_to_float(s[i]);
        return out;
    }

    int64_t wrap_dim(int64_t d) const {
        int64_t n = dim();
        if (d < 0) d += n;
        ERRSEG_CHECK(d >= 0 && d < std::max<int64_t>(n, 1), "dimension ", d, " out of range for ",
                     n, "-d tensor");
        return d;
    }

private:
    template <class T>
    void check_type() const {
        ERRSEG_CHECK(storage_, "access to an undefined tensor");
        ERRSEG_CHECK(dtype_of<T>::value == dtype_, "tensor holds ", dtype_name(dtype_), ", accessed as ",
                     dtype_name(dtype_of<T>::value));
    }

    std::shared_ptr<Storage> storage_;
    size_t offset_bytes_ = 0;
    Shape shape_;
    Shape strides_;
    DType dtype_ = DType::F32;
};

}  // namespace errseg
