// Where tensor bytes live: an aligned heap block we own, or a read-only memory map of
// a weight file that several tensors share (no copy of the weights at load time).
#pragma once
#include <algorithm>
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
#include "heap_usage.hpp"
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

// Large blocks come straight from the OS (mmap, 2 MiB aligned, transparent huge pages asked for:
// one fault per 2 MiB instead of per 4 KiB on first touch) and go straight back (munmap). Through
// malloc, freed blocks below glibc's mmap threshold (which grows to 32 MiB as blocks are freed)
// stay in its arenas and keep counting in the process's RSS.
constexpr size_t kHugePage = size_t(2) << 20;

inline uint8_t* os_alloc(size_t bytes) {
#if defined(_WIN32)
    return static_cast<uint8_t*>(std::aligned_alloc(kHugePage, bytes));
#else
    void* p = ::mmap(nullptr, bytes + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    // Keep the 2 MiB aligned part of the mapping, give back the rest.
    const uintptr_t base = reinterpret_cast<uintptr_t>(p);
    const uintptr_t aligned = (base + kHugePage - 1) / kHugePage * kHugePage;
    if (aligned > base) ::munmap(p, aligned - base);
    const size_t tail = base + bytes + kHugePage - (aligned + bytes);
    if (tail) ::munmap(reinterpret_cast<void*>(aligned + bytes), tail);
#if defined(MADV_HUGEPAGE)
    ::madvise(reinterpret_cast<void*>(aligned), bytes, MADV_HUGEPAGE);
#endif
    return reinterpret_cast<uint8_t*>(aligned);
#endif
}

inline void os_free(uint8_t* p, size_t bytes) {
#if defined(_WIN32)
    (void)bytes;
    std::free(p);
#else
    ::munmap(p, bytes);
#endif
}

// Recently freed large blocks (>= 4 MiB), kept for reuse by the next allocation of the same
// rounded size. Inference allocates the same activation sizes over and over (per class chunk,
// per layer); without this each one comes fresh from the OS and every page is faulted in and
// zeroed again (~7 % of an ERR-Seg forward).
//
// The cache never raises the process's peak: a block it cannot serve is allocated only after the
// oldest cached blocks have been returned to the OS until live + cached + the new block fits under
// the most that live blocks have needed so far (or nothing is cached), so the large-block memory
// held never exceeds the peak of the live blocks alone. At most kMaxBytes are kept;
// ERRSEG_NO_BLOCK_CACHE=1 turns it off, release_cached_memory() empties it.
class LargeBlockCache {
public:
    static constexpr size_t kMinBytes = size_t(4) << 20;
    static constexpr size_t kMaxBytes = size_t(256) << 20;

    // Never destroyed: tensors held by other statics may be freed after it would be.
    static LargeBlockCache& instance() {
        static LargeBlockCache* cache = new LargeBlockCache();
        return *cache;
    }
    // A block of `bytes` (a multiple of kHugePage): a cached one of exactly that size, else fresh
    // from the OS; nullptr when the OS refuses. (Best fit within +25 % was tried: ERR-Seg B end to
    // end took 80 instead of 84 blocks from the OS out of 2,560, no measurable change.)
    uint8_t* acquire(size_t bytes) {
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
        while (!blocks_.empty() && held_ + bytes > high_water_) drop_oldest();
        uint8_t* p = os_alloc(bytes);
        if (!p && !blocks_.empty()) {  // the OS refused: give it everything cached and retry
            while (!blocks_.empty()) drop_oldest();
            p = os_alloc(bytes);
        }
        if (p) {
            held_ += bytes;
            high_water_ = std::max(high_water_, held_);
        }
        return p;
    }
    // Keeps the block if the cache is on and there is room (the oldest blocks make room first);
    // else returns it to the OS.
    void give(uint8_t* p, size_t bytes) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (enabled_ && bytes <= kMaxBytes) {
            while (cached_ + bytes > kMaxBytes && !blocks_.empty()) drop_oldest();
            blocks_.emplace_back(p, bytes);
            cached_ += bytes;
            return;
        }
        os_free(p, bytes);
        held_ -= bytes;
    }
    void release() {
        std::lock_guard<std::mutex> lock(mutex_);
        while (!blocks_.empty()) drop_oldest();
    }
    size_t cached_bytes() {
        std::lock_guard<std::mutex> lock(mutex_);
        return cached_;
    }
    // Large-block bytes taken from the OS and not returned (live + cached), and the most there
    // have been.
    std::pair<size_t, size_t> held_and_high_water() {
        std::lock_guard<std::mutex> lock(mutex_);
        return {held_, high_water_};
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
    void drop_oldest() {  // with mutex_ held
        os_free(blocks_.front().first, blocks_.front().second);
        cached_ -= blocks_.front().second;
        held_ -= blocks_.front().second;
        blocks_.erase(blocks_.begin());
    }
    std::mutex mutex_;
    std::vector<std::pair<uint8_t*, size_t>> blocks_;  // oldest first
    size_t cached_ = 0;
    size_t held_ = 0;        // large blocks taken from the OS and not returned: live + cached
    size_t high_water_ = 0;  // the most held_ has been (= the peak of live large blocks)
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
        if (bytes >= detail::LargeBlockCache::kMinBytes) {
            rounded_ = (bytes + detail::kHugePage - 1) / detail::kHugePage * detail::kHugePage;
            data_ = detail::LargeBlockCache::instance().acquire(rounded_);
        } else {
            size_t rounded = (bytes + 63) / 64 * 64;
            if (rounded == 0) rounded = 64;
            data_ = static_cast<uint8_t*>(std::aligned_alloc(64, rounded));
        }
        if (!data_) fail("out of memory allocating ", bytes, " bytes");
        detail::HeapCounter::instance().allocated(bytes_);
    }
    ~HeapStorage() override {
        detail::HeapCounter::instance().freed(bytes_);
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
