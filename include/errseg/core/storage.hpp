// Where tensor bytes live: an aligned heap block we own, or a read-only memory map of
// a weight file that several tensors share (no copy of the weights at load time).
#pragma once
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "error.hpp"
#include "regular_file.hpp"

#if !defined(_WIN32)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace errseg {

class Storage {
public:
    virtual ~Storage() = default;
    uint8_t* data() const { return data_; }
    size_t bytes() const { return bytes_; }
    bool writable() const { return writable_; }

protected:
    uint8_t* data_ = nullptr;
    size_t bytes_ = 0;
    bool writable_ = true;
};

namespace detail {

// Recently freed large blocks (>= 4 MiB), kept for reuse by the next allocation of the same
// rounded size. Inference allocates the same activation sizes over and over (per class chunk,
// per layer); without this each one comes fresh from the OS and every page is faulted in and
// zeroed again (~7 % of an ERR-Seg forward). At most kMaxBytes are kept; ERRSEG_NO_BLOCK_CACHE=1
// turns it off, release_cached_memory() empties it.
class LargeBlockCache {
public:
    static constexpr size_t kMinBytes = size_t(4) << 20;
    static constexpr size_t kMaxBytes = size_t(256) << 20;

    // Never destroyed: tensors held by other statics may be freed after it would be.
    static LargeBlockCache& instance() {
        static LargeBlockCache* cache = new LargeBlockCache();
        return *cache;
    }
    // A cached block of exactly `bytes` (rounded size), or nullptr. (Best fit within +25 % was
    // tried: ERR-Seg B end to end took 80 instead of 84 blocks from the OS out of 2,560, no
    // measurable change.)
    uint8_t* take(size_t bytes) {
        if (!enabled_) return nullptr;
        std::lock_guard<std::mutex> lock(mutex_);
        for (size_t i = 0; i < blocks_.size(); ++i)
            if (blocks_[i].second == bytes) {
                uint8_t* p = blocks_[i].first;
                blocks_.erase(blocks_.begin() + long(i));
                cached_ -= bytes;
                ++hits_;
                return p;
            }
        ++misses_;
        return nullptr;
    }
    // Keeps the block if there is room (the oldest blocks make room first); else frees it.
    void give(uint8_t* p, size_t bytes) {
        if (enabled_ && bytes <= kMaxBytes) {
            std::lock_guard<std::mutex> lock(mutex_);
            while (cached_ + bytes > kMaxBytes && !blocks_.empty()) {
                std::free(blocks_.front().first);
                cached_ -= blocks_.front().second;
                blocks_.erase(blocks_.begin());
            }
            blocks_.emplace_back(p, bytes);
            cached_ += bytes;
            return;
        }
        std::free(p);
    }
    void release() {
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto& b : blocks_) std::free(b.first);
        blocks_.clear();
        cached_ = 0;
    }
    size_t cached_bytes() {
        std::lock_guard<std::mutex> lock(mutex_);
        return cached_;
    }
    // Large-block requests served from the cache / from the OS since the start.
    std::pair<uint64_t, uint64_t> hits_and_misses() {
        std::lock_guard<std::mutex> lock(mutex_);
        return {hits_, misses_};
    }
private:
    LargeBlockCache() {
        const char* off = std::getenv("ERRSEG_NO_BLOCK_CACHE");
        enabled_ = !(off && off[0] == '1');
    }
    std::mutex mutex_;
    std::vector<std::pair<uint8_t*, size_t>> blocks_;  // oldest first
    size_t cached_ = 0;
    uint64_t hits_ = 0, misses_ = 0;
    bool enabled_ = true;
};

}  // namespace detail

// Frees the large blocks kept for reuse (see detail::LargeBlockCache).
inline void release_cached_memory() { detail::LargeBlockCache::instance().release(); }

// 64-byte aligned so Eigen and SIMD loads never straddle cache lines.
class HeapStorage final : public Storage {
public:
    explicit HeapStorage(size_t bytes) {
        bytes_ = bytes;
        constexpr size_t kHugePage = size_t(2) << 20;
        if (bytes >= detail::LargeBlockCache::kMinBytes) {
            // Large blocks: reused from the cache, else fresh from the OS with transparent huge
            // pages asked for (one fault per 2 MiB instead of per 4 KiB on first touch).
            rounded_ = (bytes + kHugePage - 1) / kHugePage * kHugePage;
            data_ = detail::LargeBlockCache::instance().take(rounded_);
            if (!data_) {
                data_ = static_cast<uint8_t*>(std::aligned_alloc(kHugePage, rounded_));
#if !defined(_WIN32) && defined(MADV_HUGEPAGE)
                if (data_) ::madvise(data_, rounded_, MADV_HUGEPAGE);
#endif
            }
        } else {
            size_t rounded = (bytes + 63) / 64 * 64;
            if (rounded == 0) rounded = 64;
            data_ = static_cast<uint8_t*>(std::aligned_alloc(64, rounded));
        }
        if (!data_) fail("out of memory allocating ", bytes, " bytes");
    }
    ~HeapStorage() override {
        if (rounded_)
            detail::LargeBlockCache::instance().give(data_, rounded_);
        else
            std::free(data_);
    }
    HeapStorage(const HeapStorage&) = delete;
    HeapStorage& operator=(const HeapStorage&) = delete;

private:
    size_t rounded_ = 0;  // large blocks: their rounded size (they go back to the cache)
};

// Read-only view of a whole file. Tensors loaded from it keep it alive through shared_ptr.
class MappedFile final : public Storage {
public:
    explicit MappedFile(const std::string& path) : path_(path) {
        writable_ = false;
#if defined(_WIN32)
        fail("memory-mapped files are not supported on this platform: ", path);
#else
        const RegularFile file(path);  // refuses FIFOs, devices, directories without blocking
        bytes_ = size_t(file.size());
        if (bytes_ > 0) {
            void* p = ::mmap(nullptr, bytes_, PROT_READ, MAP_PRIVATE, file.fd(), 0);
            if (p == MAP_FAILED) fail("cannot memory-map '", path, "': ", std::strerror(errno));
            data_ = static_cast<uint8_t*>(p);
        }
#endif
    }
    ~MappedFile() override {
#if !defined(_WIN32)
        if (data_) ::munmap(data_, bytes_);
#endif
    }
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

}  // namespace errseg
