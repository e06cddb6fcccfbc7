// `errseg segment --manifest FILE`: a JSON Lines log of the run, one object per image, appended
// as each image finishes. Each line goes out in one write() on a file opened with O_APPEND, so
// runs (or shards) appending to the same file never interleave inside a line, and a killed run
// leaves every finished image's line intact. The file is opened without following a symlink.
#pragma once
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>

#include <fcntl.h>
#include <unistd.h>

#include "errseg/core/error.hpp"
#include "errseg/io/json.hpp"

namespace errseg::cli {

class RunManifest {
public:
    RunManifest() = default;
    explicit RunManifest(const std::string& path) : path_(path) {
        fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644);
        ERRSEG_CHECK(fd_ >= 0, "cannot open the manifest '", path, "': ", std::strerror(errno));
    }
    ~RunManifest() {
        if (fd_ >= 0) ::close(fd_);
    }
    RunManifest(const RunManifest&) = delete;
    RunManifest& operator=(const RunManifest&) = delete;

    bool enabled() const { return fd_ >= 0; }

    void append(const json::Value& line) {
        if (fd_ < 0) return;
        const std::string text = line.dump() + "\n";
        std::lock_guard<std::mutex> lock(mu_);
        const ssize_t w = ::write(fd_, text.data(), text.size());
        ERRSEG_CHECK(w == ssize_t(text.size()), "cannot write to the manifest '", path_, "': ",
                     w < 0 ? std::strerror(errno) : "short write");
    }

private:
    std::string path_;
    int fd_ = -1;
    std::mutex mu_;
};

// One manifest line: the image, its status ("ok", "skipped": complete outputs existed, or
// "failed"), and from its record (null for a failure) the files written, the classes present
// and the timings.
inline json::Value manifest_line(const std::string& image, const std::string& status, const json::Value& record,
                                 const std::string& error) {
    json::Value j = json::Value::object();
    j.set("image", image);
    j.set("status", status);
    json::Value outputs = json::Value::array(), classes = json::Value::array();
    if (const json::Value* o = record.is_object() ? record.find("outputs") : nullptr)
        for (const json::Value& e : o->as_array()) outputs.push_back(e["file"]);
    if (const json::Value* c = record.is_object() ? record.find("classes_present") : nullptr)
        for (const json::Value& e : c->as_array()) {
            json::Value k = json::Value::object();
            k.set("index", e["index"]);
            k.set("name", e["name"]);
            k.set("pixel_fraction", e["pixel_fraction"]);
            classes.push_back(k);
        }
    j.set("outputs", outputs);
    j.set("classes_present", classes);
    const json::Value* t = record.is_object() ? record.find("timings_ms") : nullptr;
    j.set("timings_ms", t ? *t : json::Value(nullptr));
    j.set("error", error.empty() ? json::Value(nullptr) : json::Value(error));
    return j;
}

}  // namespace errseg::cli
