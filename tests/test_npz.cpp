// .npz reading: committed fixtures made by tests/data/io/make_fixtures.py (np.savez and
// np.savez_compressed), plus
// corrupted copies made at test time.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "error_of.hpp"
#include "errseg/io/npz.hpp"

using namespace errseg;

namespace {

const std::string kData = std::string(ERRSEG_TEST_DATA) + "/io/";

std::string scratch(const std::string& name) {
    static const std::filesystem::path dir = [] {
        auto p = std::filesystem::path(ERRSEG_BUILD_DIR) / "io_test_tmp" / ("npz_" + std::to_string(::getpid()));
        std::filesystem::create_directories(p);
        return p;
    }();
    return (dir / name).string();
}

std::string read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::string write_bytes(const std::string& name, const std::string& bytes) {
    const std::string path = scratch(name);
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), std::streamsize(bytes.size()));
    return path;
}

bool has(const std::string& hay, const std::string& needle) {
    if (hay.find(needle) != std::string::npos) return true;
    MESSAGE("message was: ", hay);
    return false;
}

}  // namespace

TEST_CASE("npz: numeric arrays of every supported dtype") {
    auto m = read_npz(kData + "sample.npz");
    CHECK(m.size() == 6);  // class_names is a string array: not a tensor
    CHECK(m.count("class_names") == 0);

    const Tensor& logits = m.at("logits");
    CHECK(logits.dtype() == DType::F32);
    CHECK(logits.shape() == Shape{2, 3, 4});
    for (int i = 0; i < 24; ++i) CHECK(logits.data<float>()[i] == (float(i) - 10.f) / 4.f);

    const Tensor& labels = m.at("labels");
    CHECK(labels.dtype() == DType::I64);
    CHECK(labels.data<int64_t>()[1] == -1);
    CHECK(labels.data<int64_t>()[3] == (int64_t(1) << 40));

    const Tensor& ids = m.at("ids");
    CHECK(ids.dtype() == DType::I32);
    CHECK(ids.shape() == Shape{2, 2});
    CHECK(ids.data<int32_t>()[1] == -2);
    CHECK(ids.data<int32_t>()[3] == (1 << 30));

    CHECK(m.at("mask").dtype() == DType::U8);
    CHECK(m.at("mask").data<uint8_t>()[2] == 254);
    CHECK(m.at("scalar").shape() == Shape{});
    CHECK(m.at("scalar").data<float>()[0] == 2.5f);
    CHECK(m.at("empty").shape() == Shape{0, 3});

    CHECK(npz_keys(kData + "sample.npz") ==
          std::vector<std::string>{"logits", "labels", "ids", "mask", "scalar", "empty", "class_names"});
}

TEST_CASE("npz: unicode and byte-string arrays") {
    CHECK(read_npz_strings(kData + "sample.npz", "class_names") ==
          std::vector<std::string>{"wall", "caf\xC3\xA9", "\xE6\x97\xA5\xE6\x9C\xAC", "a", "\xF0\x9F\x98\x80x"});
    CHECK(read_npz_strings(kData + "extra.npz", "note") == std::vector<std::string>{"timing: 1.5 s"});  // 0-d
    // Trailing NULs are stripped (as NumPy does), inner ones kept.
    CHECK(read_npz_strings(kData + "extra.npz", "raw") == std::vector<std::string>{"ab", std::string("c\0d", 3), ""});
    // Fortran-order string array comes back row-major.
    CHECK(read_npz_strings(kData + "extra.npz", "fort_names") == std::vector<std::string>{"a", "bb", "ccc", "d"});

    CHECK(has(error_of([] { read_npz_strings(kData + "sample.npz", "nope"); }), "has no array 'nope'"));
    CHECK(has(error_of([] { read_npz_strings(kData + "sample.npz", "logits"); }),
              "array 'logits' in .npz file '" + kData + "sample.npz': dtype '<f4' is not a string array"));
}

TEST_CASE("npz: Fortran order, bool and float16") {
    auto m = read_npz(kData + "extra.npz");
    const Tensor& f = m.at("fort");
    CHECK(f.shape() == Shape{2, 3});
    CHECK(f.is_contiguous());
    for (int i = 0; i < 6; ++i) CHECK(f.data<float>()[i] == float(i));
    CHECK(m.at("flags").dtype() == DType::U8);
    CHECK(m.at("flags").data<uint8_t>()[0] == 1);
    CHECK(m.at("flags").data<uint8_t>()[1] == 0);
    Tensor h = m.at("half").to_f32();
    CHECK(h.data<float>()[1] == -2.5f);
    CHECK(h.data<float>()[2] == 65504.f);
}

TEST_CASE("npz: deflated archives (np.savez_compressed) are inflated and CRC-checked") {
    auto m = read_npz(kData + "compressed.npz");
    REQUIRE(m.count("x") == 1);
    CHECK(m.at("x").shape() == Shape{4});
    for (int i = 0; i < 4; ++i) CHECK(m.at("x").data<float>()[i] == 1.f);
    CHECK(read_npz_strings(kData + "compressed.npz", "names") == std::vector<std::string>{"sky", "tree"});

    const std::string good = read_bytes(kData + "compressed.npz");
    // Damage the deflate stream of the first member (its data starts after the local header).
    const size_t name_len = uint8_t(good[26]) | uint8_t(good[27]) << 8;
    const size_t extra_len = uint8_t(good[28]) | uint8_t(good[29]) << 8;
    const size_t data = 30 + name_len + extra_len;
    for (size_t k = 0; k < 8; ++k) {
        std::string bad = good;
        bad[data + k] = char(bad[data + k] ^ 0xA5);
        const std::string msg = error_of([&] { read_npz(write_bytes("badflate.npz", bad)); });
        auto in = [&](const char* s) { return msg.find(s) != std::string::npos; };
        CHECK((in("cannot inflate entry 'x.npy'") || in("CRC mismatch in entry 'x.npy'") || in("array 'x'")));
    }
    // A central directory claiming a gigantic uncompressed size is refused before allocating.
    std::string huge = good;
    const size_t cd = huge.find("PK\x01\x02");
    REQUIRE(cd != std::string::npos);
    for (int i = 0; i < 4; ++i) huge[cd + 24 + size_t(i)] = char(0x7F);  // ~2 GB
    CHECK(has(error_of([&] { read_npz(write_bytes("huge.npz", huge)); }), "implausible size"));
}

TEST_CASE("npz: unsupported or broken archives give clear errors") {
    CHECK(has(error_of([] { read_npz(kData + "float64.npz"); }), "array 'x' in .npz file"));
    CHECK(has(error_of([] { read_npz(kData + "float64.npz"); }), "unsupported dtype '<f8'"));
    CHECK(has(error_of([] { read_npz(kData + "missing.npz"); }), "cannot read .npz file"));
    CHECK(has(error_of([] { read_npz(write_bytes("empty.npz", "")); }), "too short to be a ZIP archive"));
    CHECK(has(error_of([] { read_npz(write_bytes("text.npz", std::string(100, 'x'))); }),
              "no ZIP end-of-central-directory record"));

    const std::string good = read_bytes(kData + "sample.npz");
    REQUIRE(good.size() > 1000);
    // A flipped byte inside the first member's array data.
    std::string flipped = good;
    flipped[200] = char(flipped[200] ^ 0x40);
    CHECK(has(error_of([&] { read_npz(write_bytes("flipped.npz", flipped)); }), "CRC mismatch in entry 'logits.npy'"));
    // Truncations at many points: always an Error, never a crash.
    for (size_t cut = 0; cut < good.size(); cut += 37)
        CHECK_THROWS_AS(read_npz(write_bytes("cut.npz", good.substr(0, cut))), Error);
    // Garbage in every single byte of the central directory / end record.
    const size_t cd = good.rfind("PK\x01\x02");
    for (size_t i = cd; i < good.size(); i += 3) {
        std::string g = good;
        g[i] = char(0xFF);
        try {
            read_npz(write_bytes("garbled.npz", g));
        } catch (const Error&) {
        }
    }
}

TEST_CASE("npz: .npy header parser is strict") {
    auto header = [](const std::string& dict) {
        std::string npy = std::string("\x93NUMPY\x01\x00", 8);
        npy += char(dict.size() & 0xFF);
        npy += char(dict.size() >> 8);
        npy += dict;
        return error_of([&] {
            detail_npz::parse_npy_header(reinterpret_cast<const uint8_t*>(npy.data()), npy.size(), "t");
        });
    };
    CHECK(header("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }") == "");
    CHECK(header("{'descr': '<f4', 'fortran_order': False, 'shape': (), }") == "");
    CHECK(has(header("{'descr': '<f4', 'shape': (3,), }"), "incomplete .npy header"));
    CHECK(has(header("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (3,), }"), "malformed fortran_order"));
    CHECK(has(header("{'descr': '<f4', 'fortran_order': False, 'shape': (-3,), }"), "malformed shape"));
    CHECK(has(header("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }"),
              "absurd dimension"));
    CHECK(has(header("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3,), }"),
              "unexpected or repeated key 'descr'"));
    CHECK(has(header("{'descr': '<f4', 'fortran_order': False, 'shape': (3,)"), "malformed .npy header"));
    CHECK(has(header("{'descr: '<f4'}"), "malformed"));

    // Shape larger than the bytes present.
    std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000, 1000000), }";
    std::string npy = std::string("\x93NUMPY\x01\x00", 8) + char(dict.size()) + char(0) + dict + std::string(16, '\0');
    auto d = reinterpret_cast<const uint8_t*>(npy.data());
    auto h = detail_npz::parse_npy_header(d, npy.size(), "t");
    CHECK(has(error_of([&] { detail_npz::npy_to_tensor(d, npy.size(), h, "t"); }), "needs more bytes than the entry holds"));
}
