// Page-locked ("pinned") host memory. Copies from pageable memory are staged by the driver
// through its own small pinned buffer and cannot overlap host work; from pinned memory they
// run as asynchronous DMA. PinnedBuffer is the RAII block; the Uploader (upload.hpp) uses two
// of them to overlap host-side conversion with the copy of the previous chunk.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <utility>

#include "error.hpp"

namespace errseg::cuda {

class PinnedBuffer {
public:
    PinnedBuffer() = default;
    explicit PinnedBuffer(size_t bytes) { reserve(bytes); }
    ~PinnedBuffer() { release(); }
    PinnedBuffer(const PinnedBuffer&) = delete;
    PinnedBuffer& operator=(const PinnedBuffer&) = delete;
    PinnedBuffer(PinnedBuffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
    PinnedBuffer& operator=(PinnedBuffer&& o) noexcept {
        if (this != &o) {
            release();
            p_ = std::exchange(o.p_, nullptr);
            bytes_ = std::exchange(o.bytes_, 0);
        }
        return *this;
    }

    // Grows to at least `bytes` (contents are not kept).
    void reserve(size_t bytes) {
        if (bytes <= bytes_) return;
        release();
        ERRSEG_CUDA_CHECK(cudaMallocHost(&p_, bytes));
        bytes_ = bytes;
    }
    uint8_t* data() const { return static_cast<uint8_t*>(p_); }
    size_t bytes() const { return bytes_; }

private:
    void release() noexcept {
        if (p_) (void)cudaFreeHost(p_);
        p_ = nullptr;
        bytes_ = 0;
    }
    void* p_ = nullptr;
    size_t bytes_ = 0;
};

// A CUDA event without timing: tells the host when the work recorded before it has finished.
class Event {
public:
    Event() { ERRSEG_CUDA_CHECK(cudaEventCreateWithFlags(&e_, cudaEventDisableTiming)); }
    ~Event() {
        if (e_) (void)cudaEventDestroy(e_);
    }
    Event(const Event&) = delete;
    Event& operator=(const Event&) = delete;
    void record(cudaStream_t s) { ERRSEG_CUDA_CHECK(cudaEventRecord(e_, s)); }
    void wait() { ERRSEG_CUDA_CHECK(cudaEventSynchronize(e_)); }
    cudaEvent_t get() const { return e_; }

private:
    cudaEvent_t e_ = nullptr;
};

}  // namespace errseg::cuda
