// Where tensor bytes live: an aligned heap block we own, or a read-only memory map of
// a weight file that several tensors share (no copy of the weights at load time).
#pragma once
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "error.hpp"

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

// 64-byte aligned so Eigen and SIMD loads never straddle cache lines.
class HeapStorage final : public Storage {
public:
    explicit HeapStorage(size_t bytes) {
        bytes_ = bytes;
        constexpr size_t kHugePage = size_t(2) << 20;
        if (bytes >= 2 * kHugePage) {
            // Large blocks come fresh from the OS; asking for transparent huge pages makes their
            // first touch several times cheaper (one fault per 2 MiB instead of per 4 KiB).
            const size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
            data_ = static_cast<uint8_t*>(std::aligned_alloc(kHugePage, rounded));
#if !defined(_WIN32) && defined(MADV_HUGEPAGE)
            if (data_) ::madvise(data_, rounded, MADV_HUGEPAGE);
#endif
        } else {
            size_t rounded = (bytes + 63) / 64 * 64;
            if (rounded == 0) rounded = 64;
            data_ = static_cast<uint8_t*>(std::aligned_alloc(64, rounded));
        }
        if (!data_) fail("out of memory allocating ", bytes, " bytes");
    }
    ~HeapStorage() override { std::free(data_); }
    HeapStorage(const HeapStorage&) = delete;
    HeapStorage& operator=(const HeapStorage&) = delete;
};

// Read-only view of a whole file. Tensors loaded from it keep it alive through shared_ptr.
class MappedFile final : public Storage {
public:
    explicit MappedFile(const std::string& path) : path_(path) {
        writable_ = false;
#if defined(_WIN32)
        fail("memory-mapped files are not supported on this platform: ", path);
#else
        int fd = ::open(path.c_str(), O_RDONLY);
        if (fd < 0) fail("cannot open '", path, "'");
        struct stat st {};
        if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            ::close(fd);
            fail("'", path, "' is not a regular file");
        }
        bytes_ = size_t(st.st_size);
        if (bytes_ > 0) {
            void* p = ::mmap(nullptr, bytes_, PROT_READ, MAP_PRIVATE, fd, 0);
            if (p == MAP_FAILED) {
                ::close(fd);
                fail("cannot memory-map '", path, "'");
            }
            data_ = static_cast<uint8_t*>(p);
        }
        ::close(fd);
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
