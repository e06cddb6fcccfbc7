// Opening an input file safely. Every reader goes through RegularFile, which
//  * opens without blocking (O_NONBLOCK): opening a FIFO for reading would otherwise wait
//    forever for a writer;
//  * then refuses anything that is not a regular file (FIFO, device, directory, socket), by
//    fstat on the opened descriptor, so no race can swap the file in between;
//  * names the operating system's reason when the open fails (no such file, permission denied,
//    a symbolic-link loop...);
//  * reads whole small files (class lists, BPE merges) only up to a stated cap, so a huge file
//    or an endless device is refused before it eats memory.
#pragma once
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "error.hpp"

#if !defined(_WIN32)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace errseg {

namespace detail {
#if !defined(_WIN32)
inline const char* file_type_name(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO / named pipe";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a plain file";
}
#endif

// "No such file or directory", plus a hint where the OS's words are cryptic.
inline std::string open_error_text(int err) {
    std::string s = std::strerror(err);
#if !defined(_WIN32)
    if (err == ELOOP) s += " (a symbolic link loop, or a chain of more than 40 links)";
#endif
    return s;
}
}  // namespace detail

// Whether `path` names an existing regular file (after following links); never blocks.
inline bool is_regular_file(const std::string& path) {
#if defined(_WIN32)
    (void)path;
    return false;
#else
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
#endif
}

// A read-only descriptor of a regular file, closed on destruction.
class RegularFile {
public:
    explicit RegularFile(const std::string& path) : path_(path) {
#if defined(_WIN32)
        fail("cannot open '", path, "': file access is not supported on this platform");
#else
        do {
            fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        } while (fd_ < 0 && errno == EINTR);
        if (fd_ < 0) fail("cannot open '", path, "': ", detail::open_error_text(errno));
        struct stat st {};
        if (::fstat(fd_, &st) != 0) {
            const int err = errno;
            close();
            fail("cannot open '", path, "': ", detail::open_error_text(err));
        }
        if (!S_ISREG(st.st_mode)) {
            close();
            fail("'", path, "' is not a regular file (it is ", detail::file_type_name(st.st_mode), ")");
        }
        size_ = uint64_t(st.st_size);
        // Back to blocking reads: the non-blocking flag only served the open.
        const int flags = ::fcntl(fd_, F_GETFL);
        if (flags >= 0) ::fcntl(fd_, F_SETFL, flags & ~O_NONBLOCK);
#endif
    }
    ~RegularFile() { close(); }
    RegularFile(const RegularFile&) = delete;
    RegularFile& operator=(const RegularFile&) = delete;

    int fd() const { return fd_; }
    uint64_t size() const { return size_; }  // at open time
    const std::string& path() const { return path_; }

    // The whole file; `what` names it in errors ("class list"). Refuses files over max_bytes,
    // from their size and again while reading (a file may grow, /proc files report 0).
    std::string read_all(uint64_t max_bytes, const std::string& what) const {
        std::string out;
#if !defined(_WIN32)
        auto too_big = [&] {
            fail(what, " '", path_, "' is larger than the limit of ", max_bytes, " bytes");
        };
        if (size_ > max_bytes) too_big();
        out.resize(size_t(size_));
        size_t have = 0;
        for (;;) {
            if (have == out.size()) {
                if (out.size() > max_bytes) too_big();
                out.resize(size_t(std::min<uint64_t>(std::max<uint64_t>(out.size() * 2, 4096), max_bytes + 1)));
            }
            const ssize_t got = ::read(fd_, &out[have], out.size() - have);
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) fail("cannot read ", what, " '", path_, "': ", std::strerror(errno));
            if (got == 0) break;
            have += size_t(got);
        }
        out.resize(have);
        if (out.size() > max_bytes) too_big();
#else
        (void)max_bytes, (void)what;
#endif
        return out;
    }

private:
    void close() {
#if !defined(_WIN32)
        if (fd_ >= 0) ::close(fd_);
#endif
        fd_ = -1;
    }
    std::string path_;
    int fd_ = -1;
    uint64_t size_ = 0;
};

// A whole small file as bytes, capped (see RegularFile::read_all).
inline std::string read_file_capped(const std::string& path, uint64_t max_bytes, const std::string& what) {
    return RegularFile(path).read_all(max_bytes, what);
}

}  // namespace errseg
