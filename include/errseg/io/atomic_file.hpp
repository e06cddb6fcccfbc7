// Crash-safe file writes: data goes to `<path>.tmp.<pid>` in the same directory, is fsync'ed,
// then renamed over `path`. Readers see either the old file or the complete new one.
#pragma once
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "../core/error.hpp"

#if !defined(_WIN32)
#include <fcntl.h>
#include <unistd.h>
#endif

namespace errseg {

// Streams bytes into a temporary file; commit() makes it visible under the final name.
// Destroying an uncommitted writer removes the temporary file.
class AtomicFileWriter {
public:
    explicit AtomicFileWriter(const std::string& path) : path_(path) {
#if defined(_WIN32)
        tmp_ = path + ".tmp";
        file_ = std::fopen(tmp_.c_str(), "wb");
        if (!file_) fail("cannot create '", tmp_, "': ", std::strerror(errno));
#else
        tmp_ = path + ".tmp." + std::to_string(::getpid());
        fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd_ < 0) fail("cannot create '", tmp_, "' (writing '", path, "'): ", std::strerror(errno));
#endif
    }
    ~AtomicFileWriter() { abort(); }
    AtomicFileWriter(const AtomicFileWriter&) = delete;
    AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

    void write(const void* data, size_t n) {
        ERRSEG_CHECK(!done_, "write to '", path_, "' after commit");
        const char* p = static_cast<const char*>(data);
#if defined(_WIN32)
        if (n && std::fwrite(p, 1, n, file_) != n) fail_io("write");
#else
        while (n > 0) {
            ssize_t w = ::write(fd_, p, n);
            if (w < 0) {
                if (errno == EINTR) continue;
                fail_io("write");
            }
            p += w;
            n -= size_t(w);
        }
#endif
    }

    // Flushes to disk and renames into place; on failure the temporary file is removed.
    void commit() {
        ERRSEG_CHECK(!done_, "'", path_, "' committed twice");
#if defined(_WIN32)
        if (std::fclose(file_) != 0) { file_ = nullptr; fail_io("close"); }
        file_ = nullptr;
        std::remove(path_.c_str());
#else
        if (::fsync(fd_) != 0) fail_io("fsync");
        int fd = fd_;
        fd_ = -1;
        if (::close(fd) != 0) fail_io("close");
#endif
        if (std::rename(tmp_.c_str(), path_.c_str()) != 0) fail_io("rename");
        done_ = true;
    }

private:
    // Cleans up, then throws naming the step and the OS error.
    [[noreturn]] void fail_io(const char* what) {
        const std::string err = std::strerror(errno);
        abort();
        fail("cannot ", what, " '", tmp_, "' (writing '", path_, "'): ", err);
    }
    void abort() noexcept {
        if (done_) return;
#if defined(_WIN32)
        if (file_) std::fclose(file_);
        file_ = nullptr;
#else
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
#endif
        std::remove(tmp_.c_str());
        done_ = true;
    }

    std::string path_, tmp_;
#if defined(_WIN32)
    std::FILE* file_ = nullptr;
#else
    int fd_ = -1;
#endif
    bool done_ = false;
};

// Writes n bytes to path atomically (temp file in the same directory, fsync, rename).
inline void write_file_atomic(const std::string& path, const void* data, size_t n) {
    AtomicFileWriter w(path);
    w.write(data, n);
    w.commit();
}

}  // namespace errseg
