// Streams. Every DeviceTensor remembers the stream it was produced on and ops run on the
// stream of their first input, so work on one stream stays ordered without host syncs.
// The default for new tensors is the calling thread's current stream (cudaStreamPerThread
// unless a StreamGuard says otherwise).
#pragma once
#include <cuda_runtime_api.h>

#include "error.hpp"

namespace errseg::cuda {

namespace detail {
inline cudaStream_t& current_stream_slot() {
    thread_local cudaStream_t s = cudaStreamPerThread;
    return s;
}
}  // namespace detail

inline cudaStream_t current_stream() { return detail::current_stream_slot(); }

// Makes `s` the current stream of this thread for the guard's lifetime.
class StreamGuard {
public:
    explicit StreamGuard(cudaStream_t s) : saved_(detail::current_stream_slot()) {
        detail::current_stream_slot() = s;
    }
    ~StreamGuard() { detail::current_stream_slot() = saved_; }
    StreamGuard(const StreamGuard&) = delete;
    StreamGuard& operator=(const StreamGuard&) = delete;

private:
    cudaStream_t saved_;
};

// An owned non-blocking stream.
class Stream {
public:
    Stream() { ERRSEG_CUDA_CHECK(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking)); }
    ~Stream() {
        if (s_) (void)cudaStreamDestroy(s_);
    }
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;
    Stream(Stream&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
    cudaStream_t get() const { return s_; }
    operator cudaStream_t() const { return s_; }
    void synchronize() const { ERRSEG_CUDA_CHECK(cudaStreamSynchronize(s_)); }

private:
    cudaStream_t s_ = nullptr;
};

inline void synchronize(cudaStream_t s) { ERRSEG_CUDA_CHECK(cudaStreamSynchronize(s)); }

}  // namespace errseg::cuda
