// Device discovery. cuda_device_count() never throws: without a driver, without a device or
// inside a container that hides the GPU it returns 0, and cuda_unavailable_reason() says why.
#pragma once
#include <cuda_runtime_api.h>

#include <mutex>
#include <string>
#include <vector>

#include "error.hpp"

namespace errseg::cuda {

namespace detail {
struct Probe {
    int count = 0;
    std::string reason;  // empty when count > 0
};
// Probed once per process: cudaGetDeviceCount is cheap but initialises the runtime.
inline const Probe& probe() {
    static const Probe p = [] {
        Probe r;
        int n = 0;
        cudaError_t e = cudaGetDeviceCount(&n);
        if (e != cudaSuccess) {
            (void)cudaGetLastError();  // clear the (non-sticky) error for later calls
            r.reason = std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
            return r;
        }
        r.count = n;
        if (n == 0) r.reason = "the CUDA driver reports 0 devices";
        return r;
    }();
    return p;
}
}  // namespace detail

// Number of usable CUDA devices; 0 (not an exception) when there is no driver or device.
inline int cuda_device_count() noexcept {
    try {
        return detail::probe().count;
    } catch (...) {
        return 0;
    }
}

inline bool cuda_available() noexcept { return cuda_device_count() > 0; }

// Why no device is usable ("" when one is).
inline std::string cuda_unavailable_reason() { return detail::probe().reason; }

// What kernels need to know about a device, read once per device.
struct DeviceInfo {
    int index = 0;
    std::string name;
    int cc_major = 0, cc_minor = 0;   // compute capability
    int sm_count = 0;
    size_t total_memory = 0;
    size_t l2_bytes = 0;
    size_t smem_per_block_optin = 0;  // max dynamic shared memory after cudaFuncSetAttribute
    int compute_capability() const { return cc_major * 10 + cc_minor; }
    // Tensor-core fp16/bf16 GEMM path (WMMA bf16 and cp.async need sm_80).
    bool has_tensor_core_path() const { return cc_major >= 8; }
};

inline int current_device() {
    int d = 0;
    ERRSEG_CUDA_CHECK(cudaGetDevice(&d));
    return d;
}

inline const DeviceInfo& device_info(int device = -1) {
    ERRSEG_CHECK(cuda_available(), "no CUDA device: ", cuda_unavailable_reason());
    if (device < 0) device = current_device();
    static std::mutex mu;
    static std::vector<DeviceInfo> cache;
    std::lock_guard<std::mutex> lock(mu);
    if (cache.empty()) cache.resize(size_t(cuda_device_count()));
    ERRSEG_CHECK(device >= 0 && device < int(cache.size()), "CUDA device ", device, " does not exist (",
                 cache.size(), " present)");
    DeviceInfo& info = cache[size_t(device)];
    if (info.name.empty()) {
        cudaDeviceProp p{};
        ERRSEG_CUDA_CHECK(cudaGetDeviceProperties(&p, device));
        info.index = device;
        info.name = p.name;
        info.cc_major = p.major;
        info.cc_minor = p.minor;
        info.sm_count = p.multiProcessorCount;
        info.total_memory = p.totalGlobalMem;
        info.l2_bytes = size_t(p.l2CacheSize);
        info.smem_per_block_optin = p.sharedMemPerBlockOptin;
    }
    return info;
}

}  // namespace errseg::cuda
