// Host <-> device transfers.
//
// to_device(host, as): one host Tensor (any strides, any dtype) -> a dense DeviceTensor,
//   optionally converting float data to F16/BF16 (or back to F32) on the way. Conversion runs on
//   the host, chunk by chunk, into a pinned staging buffer while the previous chunk is copied.
// upload_weights(named, as): all tensors of a model at once (one Uploader, so the staging
//   buffers are reused), returning name -> DeviceTensor. Done once at model load.
// to_host(dev): back to a host Tensor of the same dtype (to_f32() it for comparisons).
#pragma once
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "../core/dtype.hpp"
#include "../core/tensor.hpp"
#include "device_tensor.hpp"
#include "error.hpp"
#include "pinned.hpp"
#include "stream.hpp"

namespace errseg::cuda {

namespace detail {
// Converts n elements between float storage types (F32/F16/BF16); other dtypes must match.
inline void convert_elements(const void* src, DType from, void* dst, DType to, size_t n) {
    if (from == to) {
        std::memcpy(dst, src, n * dtype_size(from));
        return;
    }
    ERRSEG_CHECK(is_float_dtype(from) && is_float_dtype(to), "cannot convert ", dtype_name(from), " to ",
                 dtype_name(to));
    auto load = [&](size_t i) -> float {
        if (from == DType::F32) return static_cast<const float*>(src)[i];
        const uint16_t h = static_cast<const uint16_t*>(src)[i];
        return from == DType::F16 ? half_to_float(h) : bf16_to_float(h);
    };
    for (size_t i = 0; i < n; ++i) {
        const float v = load(i);
        if (to == DType::F32)
            static_cast<float*>(dst)[i] = v;
        else if (to == DType::F16)
            static_cast<uint16_t*>(dst)[i] = float_to_half(v);
        else
            static_cast<uint16_t*>(dst)[i] = float_to_bf16(v);
    }
}
}  // namespace detail

// Double-buffered pinned staging for host -> device copies on one stream.
class Uploader {
public:
    explicit Uploader(cudaStream_t stream = current_stream(), size_t chunk_bytes = size_t(8) << 20)
        : stream_(stream), chunk_(std::max<size_t>(chunk_bytes, 4096)) {}
    ~Uploader() {
        // Staging memory must outlive the copies reading it.
        (void)cudaStreamSynchronize(stream_);
    }
    Uploader(const Uploader&) = delete;
    Uploader& operator=(const Uploader&) = delete;

    // Copies (and converts) a host tensor; `as` = target dtype (default: the host dtype).
    DeviceTensor upload(const Tensor& host, std::optional<DType> as = std::nullopt) {
        ERRSEG_CHECK(host.defined(), "to_device: undefined host tensor");
        const DType to = as.value_or(host.dtype());
        const Tensor src = host.contiguous();
        DeviceTensor dev = DeviceTensor::empty(src.shape(), to, stream_);
        const size_t n = size_t(src.numel());
        if (n == 0) return dev;
        const size_t in_es = dtype_size(src.dtype()), out_es = dtype_size(to);
        const size_t per_chunk = std::max<size_t>(1, chunk_ / std::max(in_es, out_es));
        for (size_t done = 0; done < n; done += per_chunk) {
            const size_t m = std::min(per_chunk, n - done);
            PinnedBuffer& buf = buf_[cur_];
            if (used_[cur_]) ready_[cur_].wait();  // the copy that last read this half is done
            // Grows (never shrinks) to the largest chunk of this tensor; only after the wait above,
            // since growing frees the old block.
            buf.reserve(std::min(per_chunk, n) * std::max(in_es, out_es));
            detail::convert_elements(static_cast<const uint8_t*>(src.raw()) + done * in_es, src.dtype(),
                                     buf.data(), to, m);
            ERRSEG_CUDA_CHECK(cudaMemcpyAsync(static_cast<uint8_t*>(dev.data()) + done * out_es, buf.data(),
                                              m * out_es, cudaMemcpyHostToDevice, stream_));
            ready_[cur_].record(stream_);
            used_[cur_] = true;
            cur_ ^= 1;
        }
        return dev;
    }

    void finish() { ERRSEG_CUDA_CHECK(cudaStreamSynchronize(stream_)); }
    cudaStream_t stream() const { return stream_; }

private:
    cudaStream_t stream_;
    size_t chunk_;
    PinnedBuffer buf_[2];
    Event ready_[2];
    bool used_[2] = {false, false};
    int cur_ = 0;
};

inline DeviceTensor to_device(const Tensor& host, std::optional<DType> as = std::nullopt,
                              cudaStream_t stream = current_stream()) {
    ERRSEG_CHECK(host.defined(), "to_device: undefined host tensor");
    // Up to 1 MiB: convert (if asked) into ordinary memory and copy from there; pinned staging
    // only pays off for large tensors. A copy from pageable memory has consumed its source when
    // cudaMemcpyAsync returns, so the temporary may go right after.
    const DType to = as.value_or(host.dtype());
    if (size_t(host.numel()) * dtype_size(to) <= (size_t(1) << 20)) {
        const Tensor src = host.contiguous();
        DeviceTensor dev = DeviceTensor::empty(src.shape(), to, stream);
        const size_t n = size_t(src.numel());
        if (n == 0) return dev;
        if (to == src.dtype()) {
            ERRSEG_CUDA_CHECK(cudaMemcpyAsync(dev.data(), src.raw(), dev.nbytes(), cudaMemcpyHostToDevice, stream));
        } else {
            std::vector<uint8_t> tmp(dev.nbytes());
            detail::convert_elements(src.raw(), src.dtype(), tmp.data(), to, n);
            ERRSEG_CUDA_CHECK(cudaMemcpyAsync(dev.data(), tmp.data(), dev.nbytes(), cudaMemcpyHostToDevice, stream));
        }
        return dev;
    }
    Uploader up(stream);
    DeviceTensor d = up.upload(host, as);
    up.finish();
    return d;
}

// Uploads every (name, Tensor) pair of a map-like container. Float tensors are converted to
// `float_as` when given; integer tensors keep their dtype.
template <class NamedTensors>
std::unordered_map<std::string, DeviceTensor> upload_weights(const NamedTensors& named,
                                                             std::optional<DType> float_as = std::nullopt,
                                                             cudaStream_t stream = current_stream()) {
    std::unordered_map<std::string, DeviceTensor> out;
    Uploader up(stream);
    for (const auto& kv : named) {
        const Tensor& t = kv.second;
        const bool conv = float_as && is_float_dtype(t.dtype());
        out.emplace(kv.first, up.upload(t, conv ? float_as : std::nullopt));
    }
    up.finish();
    return out;
}

// Device -> host, same dtype; waits for the tensor's stream.
inline Tensor to_host(const DeviceTensor& dev) {
    ERRSEG_CHECK(dev.defined(), "to_host: undefined DeviceTensor");
    Tensor host = Tensor::empty(dev.shape(), dev.dtype());
    if (dev.nbytes()) {
        // data<T>() is typed; write through the storage pointer (fresh, writable, contiguous).
        void* dst = host.storage()->data();
        ERRSEG_CUDA_CHECK(cudaMemcpyAsync(dst, dev.data(), dev.nbytes(), cudaMemcpyDeviceToHost, dev.stream()));
    }
    ERRSEG_CUDA_CHECK(cudaStreamSynchronize(dev.stream()));
    return host;
}

}  // namespace errseg::cuda
