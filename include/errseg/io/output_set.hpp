// The output files of one item (an image) published as one unit, with a record written last.
//
// Files are first staged: written in full to temporary files (io/atomic_file.hpp) and fsync'ed,
// invisible under their final names; a failure or a kill here leaves the previous outputs as
// they were. publish() then
//   1. removes the old record (from now on the set counts as incomplete),
//   2. renames the staged files into place,
//   3. removes the files of the item's family (every name the producer can write) that this
//      run did not stage, so no output of an earlier run with other options stays beside them,
//   4. fsyncs the directory and writes the record `<stem><record_suffix>` last, listing every
//      file of the set with its size.
// A record therefore always describes a complete set of files on disk (read_complete_record
// checks it); files without a record are leftovers of an interrupted run. If publishing fails
// half-way, the item's family files are removed, so an item never keeps a mixed set.
#pragma once
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "atomic_file.hpp"
#include "json.hpp"

#if !defined(_WIN32)
#include <sys/stat.h>
#endif

namespace errseg {

class OutputSet {
public:
    // dir: the output directory; stem: the item's base name (a plain file name, no '/').
    OutputSet(std::string dir, std::string stem) : dir_(std::move(dir)), stem_(std::move(stem)) {
        if (!dir_.empty() && dir_.back() != '/') dir_ += '/';
    }

    std::string path(const std::string& suffix) const { return dir_ + stem_ + suffix; }

    // Writes stem+suffix to a temporary file (not yet visible under its name): write(w) fills
    // the AtomicFileWriter w.
    template <class WriteFn>
    void stage_with(const std::string& suffix, WriteFn&& write) {
        ERRSEG_CHECK(!is_staged(suffix), "output '", path(suffix), "' staged twice");
        auto w = std::make_unique<AtomicFileWriter>(path(suffix));
        write(*w);
        w->finish();
        const uint64_t n = w->bytes_written();
        staged_.push_back({suffix, n, std::move(w)});
    }
    void stage(const std::string& suffix, const void* data, size_t n) {
        stage_with(suffix, [&](AtomicFileWriter& w) { w.write(data, n); });
    }
    void stage(const std::string& suffix, const std::vector<uint8_t>& bytes) { stage(suffix, bytes.data(), bytes.size()); }
    void stage(const std::string& suffix, const std::string& text) { stage(suffix, text.data(), text.size()); }

    // Publishes the staged files and the record (see the file comment). `record` must be a JSON
    // object; an "outputs" array of {"file", "bytes"} for the staged files is added to it.
    // `family`: every suffix the producer may write (the record's included or not). Returns the
    // record as written.
    json::Value publish(json::Value record, const std::vector<std::string>& family, const std::string& record_suffix) {
        // Refuse before touching anything when a final name is taken by a directory.
        for (const std::string& s : family) check_not_directory(path(s));
        check_not_directory(path(record_suffix));
        json::Value outputs = json::Value::array();
        for (const Staged& s : staged_) {
            json::Value e = json::Value::object();
            e.set("file", stem_ + s.suffix);
            e.set("bytes", int64_t(s.bytes));
            outputs.push_back(e);
        }
        record.set("outputs", outputs);
        const std::string text = record.dump(2) + "\n";
        try {
            remove_if_exists(path(record_suffix));
            for (Staged& s : staged_) s.writer->publish();
            for (const std::string& suffix : family)
                if (!is_staged(suffix) && suffix != record_suffix) remove_if_exists(path(suffix));
            detail::fsync_directory(dir_);
            write_file_atomic(path(record_suffix), text.data(), text.size());
        } catch (...) {
            for (const std::string& suffix : family) std::remove(path(suffix).c_str());
            std::remove(path(record_suffix).c_str());
            throw;
        }
        staged_.clear();
        return record;
    }

    // The record of a complete set: it parses, lists its files, every listed file exists with
    // the recorded size, and the files `required` (suffixes) are among them. Returns the record,
    // or a null Value when the set is missing or incomplete.
    static json::Value read_complete_record(const std::string& dir, const std::string& stem,
                                            const std::string& record_suffix, const std::vector<std::string>& required) {
        const OutputSet set(dir, stem);
        const std::string rp = set.path(record_suffix);
        try {
            if (regular_file_size(rp) > (64u << 20)) return {};
            json::Value rec = json::Value::parse(read_small_file(rp));
            const json::Value* outputs = rec.find("outputs");
            if (!outputs || !outputs->is_array()) return {};
            std::vector<std::string> listed;
            for (const json::Value& e : outputs->as_array()) {
                const std::string file = e["file"].as_string();
                if (file.find('/') != std::string::npos || regular_file_size(set.dir_ + file) != e["bytes"].as_int())
                    return {};
                listed.push_back(file);
            }
            for (const std::string& s : required) {
                bool found = false;
                for (const std::string& f : listed) found = found || f == stem + s;
                if (!found) return {};
            }
            return rec;
        } catch (const std::exception&) {
            return {};
        }
    }

private:
    struct Staged {
        std::string suffix;
        uint64_t bytes;
        std::unique_ptr<AtomicFileWriter> writer;
    };

    bool is_staged(const std::string& suffix) const {
        for (const Staged& s : staged_)
            if (s.suffix == suffix) return true;
        return false;
    }

    static void check_not_directory(const std::string& p) {
#if !defined(_WIN32)
        struct stat st {};
        ERRSEG_CHECK(::lstat(p.c_str(), &st) != 0 || !S_ISDIR(st.st_mode), "cannot write '", p,
                     "': a directory has that name");
#else
        (void)p;
#endif
    }

    static void remove_if_exists(const std::string& p) {
        if (std::remove(p.c_str()) != 0 && errno != ENOENT)
            fail("cannot remove the old output '", p, "': ", std::strerror(errno));
    }

    // Size of a regular file (not following symlinks), or -1.
    static int64_t regular_file_size(const std::string& p) {
#if !defined(_WIN32)
        struct stat st {};
        if (::lstat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return -1;
        return int64_t(st.st_size);
#else
        std::FILE* f = std::fopen(p.c_str(), "rb");
        if (!f) return -1;
        std::fseek(f, 0, SEEK_END);
        const long n = std::ftell(f);
        std::fclose(f);
        return n;
#endif
    }

    static std::string read_small_file(const std::string& p) {
        std::string out;
        std::FILE* f = std::fopen(p.c_str(), "rb");
        if (!f) fail("cannot open '", p, "'");
        char buf[65536];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
        std::fclose(f);
        return out;
    }

    std::string dir_, stem_;
    std::vector<Staged> staged_;
};

}  // namespace errseg
