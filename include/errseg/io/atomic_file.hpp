// Crash-safe file writes. Data goes to a fresh temporary file in the destination's directory,
// is fsync'ed, then renamed over the destination: readers see either the old file or the
// complete new one, never a mix.
//
// Temporary files are named `.<name>.errseg-tmp.<host>.<pid>.<random>` and created with
// O_CREAT|O_EXCL|O_NOFOLLOW (a name planted in advance, symlink or not, makes the create fail
// and another random name is tried), so nothing is ever written through a link. rename()
// replaces the destination's directory entry itself: a symlink planted at the final name is
// replaced by the new regular file and its target is never opened or changed. The host and
// pid in the name let a later run recognise the temporaries of writers that died (kill -9,
// power loss) and remove them: remove_stale_temps().
#pragma once
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "../core/error.hpp"

#if !defined(_WIN32)
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace errseg {

namespace detail {

inline constexpr const char* kTempTag = ".errseg-tmp.";

// This machine's name reduced to [A-Za-z0-9-] (it becomes part of file names), at most 32 chars.
inline std::string temp_host_tag() {
    char buf[256] = {0};
#if !defined(_WIN32)
    if (::gethostname(buf, sizeof buf - 1) != 0) buf[0] = 0;
#endif
    std::string out;
    for (const char* p = buf; *p && out.size() < 32; ++p)
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-') out += *p;
    return out.empty() ? "host" : out;
}

inline std::string random_hex(int digits) {
    static thread_local std::random_device rd;  // getrandom()/urandom: unpredictable across processes
    static const char* hex = "0123456789abcdef";
    std::string s;
    uint32_t bits = 0;
    for (int i = 0; i < digits; ++i) {
        if (i % 8 == 0) bits = rd();
        s += hex[bits & 15];
        bits >>= 4;
    }
    return s;
}

inline void split_path(const std::string& path, std::string& dir, std::string& name) {
    const size_t slash = path.find_last_of('/');
    dir = slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
    name = slash == std::string::npos ? path : path.substr(slash + 1);
}

// Makes the renames done in `dir` durable (a crash after this keeps the new names).
inline void fsync_directory(const std::string& dir) {
#if !defined(_WIN32)
    const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;  // best effort: the files themselves are already on disk
    (void)::fsync(fd);
    ::close(fd);
#else
    (void)dir;
#endif
}

}  // namespace detail

// Streams bytes into a temporary file; commit() makes it visible under the final name.
// Destroying an uncommitted writer removes the temporary file. finish() + publish() split
// commit() for callers that publish several files as one unit (io/output_set.hpp).
class AtomicFileWriter {
public:
    explicit AtomicFileWriter(const std::string& path) : path_(path) {
#if defined(_WIN32)
        tmp_ = path + ".tmp";
        file_ = std::fopen(tmp_.c_str(), "wb");
        if (!file_) fail("cannot create '", tmp_, "': ", std::strerror(errno));
#else
        std::string dir, name;
        detail::split_path(path, dir, name);
        const std::string prefix = dir + "." + name + detail::kTempTag + detail::temp_host_tag() + "." +
                                   std::to_string(::getpid()) + ".";
        for (int attempt = 0; attempt < 16 && fd_ < 0; ++attempt) {
            tmp_ = prefix + detail::random_hex(12);
            fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
            if (fd_ < 0 && errno != EEXIST) break;
        }
        if (fd_ < 0) {
            const std::string err = std::strerror(errno);
            done_ = true;  // nothing of ours to remove
            fail("cannot create a temporary file for '", path, "' (", tmp_, "): ", err);
        }
#endif
    }
    ~AtomicFileWriter() { abort(); }
    AtomicFileWriter(const AtomicFileWriter&) = delete;
    AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

    const std::string& path() const { return path_; }
    const std::string& temp_path() const { return tmp_; }
    uint64_t bytes_written() const { return bytes_; }

    void write(const void* data, size_t n) {
        ERRSEG_CHECK(!done_ && !finished_, "write to '", path_, "' after commit");
        const char* p = static_cast<const char*>(data);
        bytes_ += n;
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

    // Flushes the data to disk and closes the temporary file (still under its temporary name).
    void finish() {
        ERRSEG_CHECK(!done_ && !finished_, "'", path_, "' committed twice");
#if defined(_WIN32)
        if (std::fclose(file_) != 0) { file_ = nullptr; fail_io("close"); }
        file_ = nullptr;
#else
        if (::fsync(fd_) != 0) fail_io("fsync");
        int fd = fd_;
        fd_ = -1;
        if (::close(fd) != 0) fail_io("close");
#endif
        finished_ = true;
    }

    // Renames the finished temporary file over the final name (replacing a file or symlink
    // there); on failure the temporary file is removed. The directory is not fsync'ed.
    void publish() {
        ERRSEG_CHECK(finished_ && !done_, "'", path_, "' published before finish()");
#if defined(_WIN32)
        std::remove(path_.c_str());
#endif
        if (std::rename(tmp_.c_str(), path_.c_str()) != 0) fail_io("rename");
        done_ = true;
    }

    // finish() + publish() + fsync of the directory: the new file survives a crash.
    void commit() {
        finish();
        publish();
        std::string dir, name;
        detail::split_path(path_, dir, name);
        detail::fsync_directory(dir);
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
    uint64_t bytes_ = 0;
    bool finished_ = false, done_ = false;
};

// Writes n bytes to path atomically (temp file in the same directory, fsync, rename).
inline void write_file_atomic(const std::string& path, const void* data, size_t n) {
    AtomicFileWriter w(path);
    w.write(data, n);
    w.commit();
}

// True for a name AtomicFileWriter gives its temporary files; sets the host and pid in it.
inline bool parse_temp_name(const std::string& name, std::string& host, long& pid) {
    if (name.empty() || name[0] != '.') return false;
    const size_t tag = name.rfind(detail::kTempTag);
    if (tag == std::string::npos) return false;
    const std::string rest = name.substr(tag + std::strlen(detail::kTempTag));  // host.pid.random
    const size_t d1 = rest.find('.'), d2 = rest.find('.', d1 == std::string::npos ? 0 : d1 + 1);
    if (d1 == std::string::npos || d2 == std::string::npos || d1 == 0) return false;
    const std::string pid_text = rest.substr(d1 + 1, d2 - d1 - 1);
    if (pid_text.empty() || pid_text.size() > 9 || pid_text.find_first_not_of("0123456789") != std::string::npos)
        return false;
    host = rest.substr(0, d1);
    pid = std::stol(pid_text);
    return true;
}

// Removes from `dir` the temporary files of AtomicFileWriters that can no longer finish: those
// made on this host by a process that no longer exists, and those made on another host (a
// shared file system) more than `foreign_age_s` seconds ago. Returns the names removed. Never
// follows a symlink (unlink() removes the link itself).
inline std::vector<std::string> remove_stale_temps(const std::string& dir, long foreign_age_s = 24 * 3600) {
    std::vector<std::string> removed;
#if !defined(_WIN32)
    DIR* d = ::opendir(dir.empty() ? "." : dir.c_str());
    if (!d) return removed;
    const std::string me = detail::temp_host_tag();
    const std::string base = dir.empty() || dir.back() == '/' ? dir : dir + "/";
    while (const dirent* e = ::readdir(d)) {
        std::string host;
        long pid = 0;
        const std::string name = e->d_name;
        if (!parse_temp_name(name, host, pid)) continue;
        struct stat st {};
        if (::lstat((base + name).c_str(), &st) != 0 || S_ISDIR(st.st_mode)) continue;
        bool stale;
        if (host == me)
            stale = pid != long(::getpid()) && ::kill(pid_t(pid), 0) != 0 && errno == ESRCH;
        else
            stale = std::time(nullptr) - st.st_mtime > foreign_age_s;
        if (stale && ::unlink((base + name).c_str()) == 0) removed.push_back(name);
    }
    ::closedir(d);
#else
    (void)dir, (void)foreign_age_s;
#endif
    return removed;
}

}  // namespace errseg
