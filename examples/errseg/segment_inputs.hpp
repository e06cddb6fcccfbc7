// What `errseg segment` reads as its input list, and the checks on the names it will write:
//   * expand_inputs: image paths, directories (their images, sorted by name, not recursive)
//     and list files (@list.txt: one path per line) -> the list of image paths;
//   * Shard / in_shard: --shard i/N, a split that depends only on each image's output name;
//   * check_output_names: refuses, before anything is written, inputs whose outputs would have
//     the same name, and outputs that would replace an input file (compared by device+inode).
// docs/LIMITS.md ("Inputs and outputs of segment") states the rules.
#pragma once
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include <dirent.h>
#include <sys/stat.h>

#include "errseg/core/error.hpp"

namespace errseg::cli {

// Images picked from a directory: these extensions (any case), regular files, not hidden.
inline bool has_image_extension(const std::string& file_name) {
    std::string ext = std::filesystem::path(file_name).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    for (const char* e : {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".pnm"})
        if (ext == e) return true;
    return false;
}

// The images of a directory, sorted by file name (byte order), not recursive.
inline std::vector<std::string> images_in_directory(const std::string& dir) {
    namespace fs = std::filesystem;
    std::vector<std::string> names;
    std::error_code ec;
    fs::directory_iterator it(dir, ec), end;
    ERRSEG_CHECK(!ec, "cannot list directory '", dir, "': ", ec.message());
    for (; it != end; it.increment(ec)) {
        ERRSEG_CHECK(!ec, "cannot list directory '", dir, "': ", ec.message());
        const std::string name = it->path().filename().string();
        std::error_code ec2;
        if (name.empty() || name[0] == '.' || !has_image_extension(name) || !it->is_regular_file(ec2)) continue;
        names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    std::vector<std::string> out;
    const std::string base = dir.back() == '/' ? dir : dir + "/";
    for (const std::string& n : names) out.push_back(base + n);
    return out;
}

// The lines of a list file: one path per line; empty lines and lines starting with '#' are
// skipped, a trailing '\r' (Windows line ends) dropped. Paths are used as written (relative
// ones from the current directory, as `find ... > list.txt` writes them).
inline std::vector<std::string> read_list_file(const std::string& path) {
    constexpr uint64_t kMaxListBytes = uint64_t(1) << 30;
    struct stat st {};
    ERRSEG_CHECK(::stat(path.c_str(), &st) == 0, "cannot read list file '", path, "': no such file");
    ERRSEG_CHECK(S_ISREG(st.st_mode), "list file '", path, "' is not a regular file");
    ERRSEG_CHECK(uint64_t(st.st_size) <= kMaxListBytes, "list file '", path, "' is larger than 1 GiB");
    std::ifstream f(path, std::ios::binary);
    ERRSEG_CHECK(f.good(), "cannot read list file '", path, "'");
    std::vector<std::string> out;
    std::string line;
    while (std::getline(f, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty() || line[0] == '#') continue;
        out.push_back(line);
    }
    return out;
}

// Positional arguments -> image paths, in order: an argument "@FILE" is a list file whose lines
// are image paths or directories; a directory stands for its images; anything else is an image
// (a missing or unreadable one fails later, as that image's error). A file whose name starts
// with '@' is given as ./@name.
inline std::vector<std::string> expand_inputs(const std::vector<std::string>& args) {
    std::vector<std::string> out;
    const auto add = [&](const std::string& p) {
        struct stat st {};
        if (::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
            const std::vector<std::string> images = images_in_directory(p);
            out.insert(out.end(), images.begin(), images.end());
        } else {
            out.push_back(p);
        }
    };
    for (const std::string& a : args) {
        if (a.size() > 1 && a[0] == '@') {
            for (const std::string& p : read_list_file(a.substr(1))) add(p);
        } else {
            add(a);
        }
    }
    return out;
}

// The output base name of an image: its file name without the extension.
inline std::string output_name(const std::string& image_path) {
    return std::filesystem::path(image_path).stem().string();
}

// --shard i/N: this run handles the images whose output name hashes (FNV-1a, 64-bit) to i
// modulo N. The split depends on nothing but the names: not on the input order, on how a
// directory lists, or on the folders the paths start with, so N runs given the same images
// (in any order, from any mount point) together cover each image exactly once.
struct Shard {
    uint64_t index = 0, count = 1;
};

inline Shard parse_shard(const std::string& s) {
    const size_t slash = s.find('/');
    const auto number = [&](const std::string& t) {
        ERRSEG_CHECK(!t.empty() && t.size() <= 9 && t.find_first_not_of("0123456789") == std::string::npos,
                     "--shard must be I/N with 0 <= I < N (e.g. 0/4), got '", s, "'");
        return uint64_t(std::stoull(t));
    };
    ERRSEG_CHECK(slash != std::string::npos, "--shard must be I/N with 0 <= I < N (e.g. 0/4), got '", s, "'");
    Shard sh{number(s.substr(0, slash)), number(s.substr(slash + 1))};
    ERRSEG_CHECK(sh.count >= 1 && sh.index < sh.count, "--shard must be I/N with 0 <= I < N (e.g. 0/4), got '", s,
                 "'");
    return sh;
}

inline uint64_t fnv1a64(const std::string& s) {
    uint64_t h = 14695981039346656037ull;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return h;
}

inline bool in_shard(const std::string& name, const Shard& shard) { return fnv1a64(name) % shard.count == shard.index; }

// Refuses (throws) before anything is written when
//   * two inputs are the same file (same device and inode, or the same path),
//   * two inputs would write a file of the same name (same base name in different folders,
//     `a.png` and `a.jpg`, or `x.png` and `x_sem_seg.png`, whose record `x_sem_seg.json`
//     is also x's RLE output),
//   * a file in out_dir that an image's outputs would replace or remove is one of the inputs:
//     an image or another file the run reads (`protected_files`: model, class list...), compared
//     by device and inode, so links and other spellings of a path are caught too;
//   * a file the run appends to (`other_outputs`: the manifest) is one of the inputs.
// `suffixes`: every file an image may write or remove (see segment_outputs.hpp).
inline void check_output_names(const std::vector<std::string>& images, const std::vector<std::string>& suffixes,
                               const std::string& out_dir, const std::vector<std::string>& protected_files,
                               const std::vector<std::string>& other_outputs = {}) {
    struct FileId {
        dev_t dev;
        ino_t ino;
        bool operator<(const FileId& o) const { return dev != o.dev ? dev < o.dev : ino < o.ino; }
    };
    std::map<FileId, std::string> inputs;  // inode -> the path it was given as
    const auto add_input = [&](const std::string& p, bool is_image) {
        struct stat st {};
        if (::stat(p.c_str(), &st) != 0) return;  // missing: reported when it is read
        auto [it, fresh] = inputs.insert({FileId{st.st_dev, st.st_ino}, p});
        ERRSEG_CHECK(!is_image || fresh || !S_ISREG(st.st_mode), "'", it->second, "' and '", p,
                     "' are the same image given twice (each image may be given once)");
    };
    std::unordered_map<std::string, size_t> owner;  // output file name -> image index
    for (size_t i = 0; i < images.size(); ++i) {
        add_input(images[i], true);
        const std::string name = output_name(images[i]);
        for (const std::string& s : suffixes) {
            auto [it, fresh] = owner.insert({name + s, i});
            if (fresh || it->second == i) continue;
            const std::string& other = images[it->second];
            ERRSEG_CHECK(other != images[i], "'", other, "' is given twice (each image may be given once)");
            fail("inputs '", other, "' and '", images[i], "' would both write '", name + s, "' in '", out_dir,
                 "' (outputs are named after the image's file name without its extension): rename one of them or "
                 "segment them into different output directories");
        }
    }
    for (const std::string& p : protected_files) add_input(p, false);
    for (const std::string& p : other_outputs) {
        struct stat st {};
        if (::stat(p.c_str(), &st) != 0) continue;
        auto it = inputs.find(FileId{st.st_dev, st.st_ino});
        ERRSEG_CHECK(it == inputs.end(), "the output '", p, "' is the input file '", it->second, "'");
    }

    // One pass over the output directory instead of a stat per planned name.
    DIR* d = ::opendir(out_dir.c_str());
    if (!d) return;
    const std::string base = out_dir.back() == '/' ? out_dir : out_dir + "/";
    std::string clash, input;
    while (const dirent* e = ::readdir(d)) {
        if (!owner.count(e->d_name)) continue;
        struct stat st {};
        if (::lstat((base + e->d_name).c_str(), &st) != 0) continue;
        auto it = inputs.find(FileId{st.st_dev, st.st_ino});
        if (it != inputs.end()) {
            clash = base + e->d_name;
            input = it->second;
            break;
        }
    }
    ::closedir(d);
    ERRSEG_CHECK(clash.empty(), "the output '", clash, "' would replace the input file '", input,
                 "': choose another output directory");
}

}  // namespace errseg::cli
