// Shared helpers of the libFuzzer harnesses (fuzz/README.md).
//
// Several loaders take a path, not a buffer (they memory-map or stream the file). MemFile puts
// the fuzz input into an anonymous in-memory file (memfd) and names it by /proc/self/fd/N, so
// the real file code path runs without touching the disk.
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "errseg/core/error.hpp"

namespace errseg_fuzz {

class MemFile {
public:
    MemFile(const uint8_t* data, size_t n) {
        fd_ = ::memfd_create("errseg-fuzz", 0);
        if (fd_ < 0) {
            std::perror("memfd_create");
            std::abort();
        }
        size_t done = 0;
        while (done < n) {
            const ssize_t w = ::write(fd_, data + done, n - done);
            if (w <= 0) {
                std::perror("write");
                std::abort();
            }
            done += size_t(w);
        }
        path_ = "/proc/self/fd/" + std::to_string(fd_);
    }
    ~MemFile() { ::close(fd_); }
    MemFile(const MemFile&) = delete;
    MemFile& operator=(const MemFile&) = delete;
    const std::string& path() const { return path_; }

private:
    int fd_ = -1;
    std::string path_;
};

// Runs f; an errseg::Error (a clean refusal of bad input) is the expected outcome for most
// inputs and is swallowed. Anything else (another exception type, a crash, a sanitizer report)
// is a finding: other exceptions propagate and libFuzzer reports them as a crash.
template <class F>
void expect_clean(F&& f) {
    try {
        f();
    } catch (const errseg::Error&) {
    }
}

}  // namespace errseg_fuzz
