// Caching device allocator. cudaMalloc/cudaFree are slow and synchronise the device, and a
// forward pass allocates and frees the same sizes over and over; so freed blocks go to free
// lists keyed by (device, stream, size class) and are handed out again to the same stream.
//
// Size classes: 4 per power of two (waste <= 25%), multiples of 256 bytes (which also keeps
// every block 256-byte aligned for vector loads). A block is reused only on the stream it was
// allocated for, so stream order guarantees earlier kernels using it have finished. A tensor
// used on another stream must be kept alive until that stream is synchronised.
// cudaStreamPerThread is one handle value naming a different stream in every thread, so for it
// the allocating thread is part of the key too.
//
// ERRSEG_CUDA_NO_CACHE=1 in the environment disables caching (every free is a cudaFree), which
// makes compute-sanitizer's out-of-bounds reports precise.
#pragma once
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "device.hpp"
#include "error.hpp"

namespace errseg::cuda {

struct AllocatorStats {
    size_t bytes_in_use = 0;       // handed out and not yet freed (size-class bytes)
    size_t peak_bytes_in_use = 0;  // high-water mark of bytes_in_use since the last reset
    size_t bytes_cached = 0;       // held in free lists, ready for reuse
    size_t requests = 0;           // allocate() calls
    size_t cache_hits = 0;         // requests served from a free list
    size_t device_mallocs = 0;     // cudaMalloc calls
    size_t device_frees = 0;       // cudaFree calls
    size_t bytes_reserved() const { return bytes_in_use + bytes_cached; }
};

class DeviceAllocator {
public:
    // The process-wide allocator. Deliberately never destroyed: tensors in static objects may be
    // freed after main returns, when the CUDA runtime may already be gone.
    static DeviceAllocator& instance() {
        static DeviceAllocator* a = new DeviceAllocator();
        return *a;
    }

    // Rounds a request up to its size class (256 for tiny requests).
    static size_t size_class(size_t bytes) {
        if (bytes <= 256) return 256;
        int lg = 63 - __builtin_clzll(uint64_t(bytes));  // floor(log2(bytes)), >= 8 here
        size_t step = std::max<size_t>(256, size_t(1) << (lg - 2));
        return (bytes + step - 1) / step * step;
    }

    void* allocate(size_t bytes, cudaStream_t stream) {
        const size_t cls = size_class(bytes);
        const int device = current_device();
        std::lock_guard<std::mutex> lock(mu_);
        ++stats_.requests;
        const size_t thread_tag =
            stream == cudaStreamPerThread ? std::hash<std::thread::id>()(std::this_thread::get_id()) : 0;
        const Key key{device, stream, thread_tag, cls};
        auto it = free_.find(key);
        void* p = nullptr;
        if (it != free_.end() && !it->second.empty()) {
            p = it->second.back();
            it->second.pop_back();
            stats_.bytes_cached -= cls;
            ++stats_.cache_hits;
        } else {
            cudaError_t e = cudaMalloc(&p, cls);
            if (e == cudaErrorMemoryAllocation) {
                (void)cudaGetLastError();
                release_cached_locked();  // give cached blocks back to the driver and retry once
                e = cudaMalloc(&p, cls);
            }
            if (e != cudaSuccess) {
                (void)cudaGetLastError();
                fail("CUDA out of memory allocating ", bytes, " bytes (class ", cls, ") on device ", device,
                     ": ", cudaGetErrorString(e), "; in use ", stats_.bytes_in_use, " bytes, cached ",
                     stats_.bytes_cached, " bytes");
            }
            ++stats_.device_mallocs;
        }
        live_[p] = Block{key, cls};
        stats_.bytes_in_use += cls;
        stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
        return p;
    }

    // Returns a block to its free list (or to the driver when caching is off). Never throws.
    void deallocate(void* p) noexcept {
        if (!p) return;
        std::lock_guard<std::mutex> lock(mu_);
        auto it = live_.find(p);
        if (it == live_.end()) return;  // not ours: ignore rather than corrupt the lists
        const Block b = it->second;
        live_.erase(it);
        stats_.bytes_in_use -= b.bytes;
        if (caching_) {
            try {
                free_[b.key].push_back(p);
                stats_.bytes_cached += b.bytes;
                return;
            } catch (...) {  // out of host memory for the list: free it instead
            }
        }
        (void)cudaFree(p);
        ++stats_.device_frees;
    }

    // Frees every cached block (cudaFree synchronises the device first).
    void empty_cache() {
        std::lock_guard<std::mutex> lock(mu_);
        release_cached_locked();
    }

    AllocatorStats stats() const {
        std::lock_guard<std::mutex> lock(mu_);
        return stats_;
    }
    void reset_peak() {
        std::lock_guard<std::mutex> lock(mu_);
        stats_.peak_bytes_in_use = stats_.bytes_in_use;
    }
    bool caching() const { return caching_; }

private:
    struct Key {
        int device;
        cudaStream_t stream;
        size_t thread_tag;  // non-zero only for cudaStreamPerThread
        size_t bytes;
        bool operator<(const Key& o) const {
            return std::tie(device, stream, thread_tag, bytes) < std::tie(o.device, o.stream, o.thread_tag, o.bytes);
        }
    };
    struct Block {
        Key key;
        size_t bytes;
    };

    DeviceAllocator() {
        const char* env = std::getenv("ERRSEG_CUDA_NO_CACHE");
        caching_ = !(env && env[0] && env[0] != '0');
    }

    void release_cached_locked() {
        for (auto& kv : free_) {
            for (void* p : kv.second) {
                (void)cudaFree(p);
                ++stats_.device_frees;
                stats_.bytes_cached -= kv.first.bytes;
            }
            kv.second.clear();
        }
        free_.clear();
    }

    mutable std::mutex mu_;
    std::map<Key, std::vector<void*>> free_;
    std::unordered_map<void*, Block> live_;
    AllocatorStats stats_;
    bool caching_ = true;
};

// One device allocation, returned to the allocator when the last owner lets go.
class DeviceBlock {
public:
    DeviceBlock(size_t bytes, cudaStream_t stream)
        : ptr_(DeviceAllocator::instance().allocate(bytes, stream)), bytes_(bytes), stream_(stream) {}
    ~DeviceBlock() { DeviceAllocator::instance().deallocate(ptr_); }
    DeviceBlock(const DeviceBlock&) = delete;
    DeviceBlock& operator=(const DeviceBlock&) = delete;
    void* data() const { return ptr_; }
    size_t bytes() const { return bytes_; }
    cudaStream_t stream() const { return stream_; }

private:
    void* ptr_;
    size_t bytes_;
    cudaStream_t stream_;
};

inline AllocatorStats allocator_stats() { return DeviceAllocator::instance().stats(); }
inline void empty_cache() { DeviceAllocator::instance().empty_cache(); }

}  // namespace errseg::cuda
