// CUDA error checking: every failing runtime call becomes an errseg::Error naming the call,
// the CUDA error (name and text) and the file/line, like the rest of the library's errors.
// Host-only header: compiles with a plain C++ compiler (needs the CUDA runtime headers).
#pragma once
#include <cuda_runtime_api.h>

#include "../core/error.hpp"

namespace errseg::cuda::detail {

[[noreturn]] inline void throw_cuda_error(cudaError_t e, const char* expr, const char* file, int line) {
    fail("CUDA error ", int(e), " (", cudaGetErrorName(e), ": ", cudaGetErrorString(e), ") in `", expr,
         "` at ", file, ":", line);
}

}  // namespace errseg::cuda::detail

// Wraps a CUDA runtime call: ERRSEG_CUDA_CHECK(cudaMemcpyAsync(...)).
#define ERRSEG_CUDA_CHECK(expr)                                                                  \
    do {                                                                                         \
        cudaError_t errseg_cuda_err_ = (expr);                                                   \
        if (errseg_cuda_err_ != cudaSuccess)                                                     \
            ::errseg::cuda::detail::throw_cuda_error(errseg_cuda_err_, #expr, __FILE__, __LINE__); \
    } while (0)

// After a kernel launch (<<<...>>>): reports bad launch configurations immediately.
// Errors raised while the kernel runs surface at the next synchronising call.
#define ERRSEG_CUDA_CHECK_LAUNCH() ERRSEG_CUDA_CHECK(cudaGetLastError())
