// Input files that are not regular files (FIFO, device, directory, symbolic-link loop) and
// files over a read cap: every reader refuses them at once, naming the file and the cause —
// a FIFO must never block (each call here would hang forever if it opened one for reading).
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include "error_of.hpp"
#include "errseg/errseg.hpp"
#include "errseg/io/label_map.hpp"
#include "errseg/vocabulary.hpp"

using namespace errseg;
namespace fs = std::filesystem;

namespace {

std::string scratch_dir() {
    const std::string d = std::string(ERRSEG_BUILD_DIR) + "/regular_file_test";
    fs::create_directories(d);
    return d;
}

std::string make_fifo(const std::string& name) {
    const std::string p = scratch_dir() + "/" + name;
    std::remove(p.c_str());
    REQUIRE(::mkfifo(p.c_str(), 0600) == 0);
    return p;
}

std::string make_loop(const std::string& name) {
    const std::string a = scratch_dir() + "/" + name + "_a", b = scratch_dir() + "/" + name + "_b";
    std::remove(a.c_str());
    std::remove(b.c_str());
    fs::create_symlink(b, a);
    fs::create_symlink(a, b);
    return a;
}

std::string write_file(const std::string& name, const std::string& body) {
    const std::string p = scratch_dir() + "/" + name;
    std::ofstream(p, std::ios::binary) << body;
    return p;
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string no_builtin(const std::string&) { return {}; }

}  // namespace

TEST_CASE("RegularFile: FIFOs, devices and directories are refused without blocking, naming what they are") {
    const std::string fifo = make_fifo("pipe");
    CHECK(error_of([&] { RegularFile f(fifo); }) == "'" + fifo + "' is not a regular file (it is a FIFO / named pipe)");
    CHECK(error_of([] { RegularFile f("/dev/null"); }) == "'/dev/null' is not a regular file (it is a character device)");
    CHECK(error_of([&] { RegularFile f(scratch_dir()); }) ==
          "'" + scratch_dir() + "' is not a regular file (it is a directory)");
    CHECK_FALSE(is_regular_file(fifo));
    CHECK_FALSE(is_regular_file(scratch_dir()));
    const std::string plain = write_file("plain.txt", "hello");
    CHECK(is_regular_file(plain));
    RegularFile f(plain);
    CHECK(f.size() == 5);
    CHECK(f.read_all(100, "test file") == "hello");
}

TEST_CASE("RegularFile: the operating system's reason is named (missing file, symbolic-link loop)") {
    const std::string missing = scratch_dir() + "/missing.bin";
    CHECK(error_of([&] { RegularFile f(missing); }) == "cannot open '" + missing + "': No such file or directory");
    const std::string loop = make_loop("loop");
    CHECK(has(error_of([&] { RegularFile f(loop); }), "Too many levels of symbolic links (a symbolic link loop"));
}

TEST_CASE("RegularFile: reads are capped; the cap is checked on the bytes read, not only the size") {
    const std::string p = write_file("ten.txt", "0123456789");
    CHECK(read_file_capped(p, 10, "test file") == "0123456789");
    CHECK(error_of([&] { read_file_capped(p, 9, "class list"); }) ==
          "class list '" + p + "' is larger than the limit of 9 bytes");
    // /proc files report a size of 0: only the bytes actually read can enforce the cap.
    CHECK(has(error_of([] { read_file_capped("/proc/self/maps", 16, "test file"); }), "larger than the limit of 16"));
    CHECK(read_file_capped("/proc/self/stat", 1 << 20, "test file").size() > 10);
}

TEST_CASE("every reader refuses a FIFO and a symbolic-link loop at once, naming the file") {
    const std::string fifo = make_fifo("reader_pipe");
    const std::string loop = make_loop("reader_loop");
    for (const std::string& path : {fifo, loop}) {
        const std::string why = path == fifo ? "FIFO" : "symbolic link loop";
        CAPTURE(path);
        CHECK(has(error_of([&] { load_image(path); }), "cannot read image file '" + path + "'"));
        CHECK(has(error_of([&] { load_image(path); }), why));
        CHECK(has(error_of([&] { Weights::open(path); }), why));
        CHECK(has(error_of([&] { read_npy(path); }), why));
        CHECK(has(error_of([&] { read_npz(path); }), why));
        CHECK(has(error_of([&] { load_label_png(path); }), why));
        CHECK(has(error_of([&] { text::ClipTokenizer::from_file(path); }), why));
        const std::string vocab = error_of([&] { resolve_vocabulary(path, no_builtin); });
        CHECK(has(vocab, "cannot read class list file"));
        CHECK(has(vocab, why));
    }
    CHECK(has(error_of([] { resolve_vocabulary("/dev/zero", no_builtin); }), "it is a character device"));
}

TEST_CASE(".npy headers are capped") {
    // A version-2 header declaring 1 MB (numpy itself refuses more than 10000 bytes by default).
    std::string body = std::string("\x93NUMPY\x02\x00", 8) + std::string("\x00\x00\x10\x00", 4);
    body += std::string(size_t(1) << 20, ' ');
    const std::string p = write_file("big_header.npy", body);
    CHECK(has(error_of([&] { read_npy(p); }), "has a 1048576-byte header, more than the limit of 65536 bytes"));
}
