// Safetensors: exact round trips, zero-copy views, and strict validation of hostile files
// (each malformed file must produce an errseg::Error whose message names the problem).
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "error_of.hpp"
#include "errseg/io/safetensors.hpp"

using namespace errseg;

// Read access to a (possibly read-only, memory-mapped) tensor's elements.
template <class T>
const T* ro(const Tensor& t) {
    return t.data<T>();
}

namespace {

std::string scratch(const std::string& name) {
    static const std::filesystem::path dir = [] {
        auto p = std::filesystem::path(ERRSEG_BUILD_DIR) / "io_test_tmp" / ("st_" + std::to_string(::getpid()));
        std::filesystem::create_directories(p);
        return p;
    }();
    return (dir / name).string();
}

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), std::streamsize(bytes.size()));
}

// A safetensors file from a raw header string and raw data bytes (header length as given
// unless `len_override` is set).
std::string make_file(const std::string& name, const std::string& header, const std::string& data,
                      int64_t len_override = -1) {
    uint64_t len = len_override >= 0 ? uint64_t(len_override) : header.size();
    std::string bytes(8, '\0');
    for (int i = 0; i < 8; ++i) bytes[size_t(i)] = char(len >> (8 * i));
    bytes += header + data;
    std::string path = scratch(name);
    write_bytes(path, bytes);
    return path;
}

// The message of the errseg::Error thrown by fn ("" if none).
std::string open_error(const std::string& path) {
    return error_of([&] { SafetensorsFile::open(path); });
}

bool has(const std::string& hay, const std::string& needle) {
    if (hay.find(needle) != std::string::npos) return true;
    MESSAGE("message was: ", hay);
    return false;
}

std::string f32_bytes(std::vector<float> v) {
    return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

}  // namespace

TEST_CASE("safetensors: round trip of every dtype is exact, metadata kept, names in order") {
    Tensor a = Tensor::from_vector<float>({2, 3}, {1.5f, -2.f, 3.25f, 0.f, -0.f, 1e-30f});
    Tensor at = a.transpose(0, 1);  // non-contiguous input is written densely
    Tensor half = Tensor::empty({3}, DType::F16);
    uint16_t* h = reinterpret_cast<uint16_t*>(half.storage()->data());
    h[0] = float_to_half(1.0f), h[1] = float_to_half(-0.5f), h[2] = 0x7bff;  // 65504
    Tensor bf = Tensor::empty({2}, DType::BF16);
    uint16_t* b = reinterpret_cast<uint16_t*>(bf.storage()->data());
    b[0] = float_to_bf16(3.0f), b[1] = float_to_bf16(-1e20f);
    Tensor i32 = Tensor::from_vector<int32_t>({2}, {-7, 1 << 30});
    Tensor i64 = Tensor::from_vector<int64_t>({1}, {int64_t(1) << 50});
    Tensor u8 = Tensor::from_vector<uint8_t>({3}, {0, 128, 255});
    Tensor empty = Tensor::zeros({0, 4});
    Tensor scalar = Tensor::from_vector<float>({}, {42.f});

    const std::string path = scratch("roundtrip.safetensors");
    write_safetensors(path,
                      {{"u8", u8}, {"a", a}, {"at", at}, {"half", half}, {"bf", bf}, {"i32", i32},
                       {"i64", i64}, {"empty", empty}, {"scalar", scalar}},
                      {{"errseg.format", "1"}, {"note", "h\xC3\xA9llo \"quoted\"\n"}});

    SafetensorsFile f = SafetensorsFile::open(path);
    CHECK(f.names() == std::vector<std::string>{"u8", "a", "at", "half", "bf", "i32", "i64", "empty", "scalar"});
    CHECK(f.metadata().at("errseg.format") == "1");
    CHECK(f.metadata().at("note") == "h\xC3\xA9llo \"quoted\"\n");
    CHECK(f.has("a"));
    CHECK_FALSE(f.has("b"));
    CHECK(f.file_bytes() == std::filesystem::file_size(path));

    Tensor ra = f.get("a");
    CHECK(ra.dtype() == DType::F32);
    CHECK(ra.shape() == Shape{2, 3});
    CHECK(std::memcmp(ra.raw(), a.raw(), 24) == 0);
    Tensor rat = f.get("at");
    CHECK(rat.shape() == Shape{3, 2});
    const float* p = ro<float>(rat);
    CHECK(p[0] == 1.5f);
    CHECK(p[1] == 0.f);
    CHECK(p[2] == -2.f);
    CHECK(p[5] == 1e-30f);
    CHECK(std::memcmp(f.get("half").raw(), half.raw(), 6) == 0);
    CHECK(f.get("half").dtype() == DType::F16);
    CHECK(std::memcmp(f.get("bf").raw(), bf.raw(), 4) == 0);
    CHECK(ro<int32_t>(f.get("i32"))[1] == (1 << 30));
    CHECK(ro<int64_t>(f.get("i64"))[0] == (int64_t(1) << 50));
    CHECK(ro<uint8_t>(f.get("u8"))[2] == 255);
    CHECK(f.get("empty").shape() == Shape{0, 4});
    CHECK(f.get("empty").numel() == 0);
    CHECK(f.get("scalar").shape() == Shape{});
    CHECK(ro<float>(f.get("scalar"))[0] == 42.f);

    // Aligned tensors are zero-copy read-only views into the map.
    CHECK(dynamic_cast<MappedFile*>(ra.storage().get()) != nullptr);
    CHECK_THROWS_WITH_AS(ra.data<float>(), "tensor is read-only (memory-mapped); copy it first", Error);

    // The tensor outlives the file object (the map is shared).
    Tensor survivor;
    {
        SafetensorsFile g = SafetensorsFile::open(path);
        survivor = g.get("a");
    }
    CHECK(ro<float>(survivor)[2] == 3.25f);

    CHECK(has(error_of([&] { f.get("nope"); }), "has no tensor 'nope'"));
}

TEST_CASE("safetensors: writer refuses duplicate names and undefined tensors") {
    Tensor a = Tensor::zeros({2});
    CHECK(has(error_of([&] { write_safetensors(scratch("dup.safetensors"), {{"x", a}, {"x", a}}, {}); }),
              "duplicate tensor name 'x'"));
    CHECK(has(error_of([&] { write_safetensors(scratch("undef.safetensors"), {{"x", Tensor()}}, {}); }),
              "undefined"));
}

TEST_CASE("safetensors: hand-made valid files (gaps, zero-size, unaligned data)") {
    SUBCASE("gap between tensors is allowed") {
        auto path = make_file("gap.safetensors",
                              R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                              R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                              f32_bytes({1.f, 99.f, 2.f}));
        SafetensorsFile f = SafetensorsFile::open(path);
        CHECK(ro<float>(f.get("a"))[0] == 1.f);
        CHECK(ro<float>(f.get("b"))[0] == 2.f);
        CHECK(f.metadata().empty());
    }
    SUBCASE("zero-size tensors, also inside another tensor's range") {
        auto path = make_file("zero.safetensors",
                              R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                              R"("z":{"dtype":"F16","shape":[3,0],"data_offsets":[4,4]}})",
                              f32_bytes({1.f, 2.f}));
        SafetensorsFile f = SafetensorsFile::open(path);
        CHECK(f.get("z").shape() == Shape{3, 0});
        CHECK(f.get("z").dtype() == DType::F16);
    }
    SUBCASE("unaligned tensor data is copied, values intact") {
        // Header of 9 bytes -> data section starts at file offset 17 (odd).
        std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
        std::string data = f32_bytes({3.5f, -1.25f});
        // pad header to make (8 + len) odd
        if ((8 + header.size()) % 2 == 0) header += ' ';
        auto path = make_file("unaligned.safetensors", header, data);
        SafetensorsFile f = SafetensorsFile::open(path);
        Tensor t = f.get("a");
        CHECK(reinterpret_cast<uintptr_t>(t.raw()) % 4 == 0);
        CHECK(dynamic_cast<MappedFile*>(t.storage().get()) == nullptr);
        CHECK(ro<float>(t)[0] == 3.5f);
        CHECK(ro<float>(t)[1] == -1.25f);
    }
    SUBCASE("empty header object") {
        auto path = make_file("emptyhdr.safetensors", "{}", "");
        CHECK(SafetensorsFile::open(path).names().empty());
    }
}

TEST_CASE("safetensors: hostile files are refused with clear messages") {
    const std::string one = f32_bytes({1.f, 2.f, 3.f, 4.f});  // 16 bytes of data

    SUBCASE("missing file / directory") {
        CHECK(has(open_error(scratch("does_not_exist.safetensors")), "cannot open"));
        CHECK(has(open_error(std::filesystem::path(scratch("x")).parent_path().string()), "not a regular file"));
    }
    SUBCASE("empty and truncated files") {
        write_bytes(scratch("empty.safetensors"), "");
        CHECK(has(open_error(scratch("empty.safetensors")), "file is 0 bytes, shorter than the 8-byte header length"));
        write_bytes(scratch("short.safetensors"), "\x05\0\0\0");
        CHECK(has(open_error(scratch("short.safetensors")), "shorter than the 8-byte header length"));
    }
    SUBCASE("header length huge or beyond the end") {
        CHECK(has(open_error(make_file("huge.safetensors", "{}", "", int64_t(1) << 40)),
                  "header length 1099511627776 exceeds the 100 MB limit"));
        CHECK(has(open_error(make_file("max.safetensors", "{}", "", INT64_MAX)), "exceeds the 100 MB limit"));
        CHECK(has(open_error(make_file("beyond.safetensors", "{}", "", 500)),
                  "header length 500 extends beyond the end of the file (10 bytes)"));
    }
    SUBCASE("header is not JSON / not an object") {
        CHECK(has(open_error(make_file("badjson.safetensors", "{\"a\":", "")), "header is not valid JSON"));
        CHECK(has(open_error(make_file("badjson2.safetensors", "\xFF\xFE", "")), "header is not valid JSON"));
        CHECK(has(open_error(make_file("array.safetensors", "[1,2]", "")), "header is not a JSON object"));
        CHECK(has(open_error(make_file("entry.safetensors", R"({"a": 3})", "")),
                  "tensor 'a': entry is not a JSON object"));
    }
    SUBCASE("duplicate tensor names") {
        std::string e = R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
        CHECK(has(open_error(make_file("dupkey.safetensors", "{\"a\":" + e + ",\"a\":" + e + "}", one)),
                  "duplicate key 'a'"));
    }
    SUBCASE("unsupported dtypes are named") {
        CHECK(has(open_error(make_file("f64.safetensors", R"({"a":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}})", one)),
                  "tensor 'a': unsupported dtype 'F64' (supported: F32, F16, BF16, I32, I64, U8)"));
        CHECK(has(open_error(make_file("q4.safetensors", R"({"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,1]}})", one)),
                  "unsupported dtype 'Q4'"));
        CHECK(has(open_error(make_file("dtnum.safetensors", R"({"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", one)),
                  "missing or non-string 'dtype'"));
    }
    SUBCASE("bad shapes") {
        CHECK(has(open_error(make_file("neg.safetensors", R"({"a":{"dtype":"F32","shape":[-1, 4],"data_offsets":[0,16]}})", one)),
                  "tensor 'a': shape entries must be non-negative integers"));
        CHECK(has(open_error(make_file("frac.safetensors", R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", one)),
                  "shape entries must be non-negative integers"));
        CHECK(has(open_error(make_file("strshape.safetensors", R"({"a":{"dtype":"F32","shape":["4"],"data_offsets":[0,16]}})", one)),
                  "shape entries must be non-negative integers"));
        CHECK(has(open_error(make_file("overflow.safetensors",
                                       R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,16]}})", one)),
                  "is larger than the data section"));
        CHECK(has(open_error(make_file("bigdim.safetensors", R"({"a":{"dtype":"F32","shape":[9007199254740992],"data_offsets":[0,16]}})", one)),
                  "is larger than the data section"));
        CHECK(has(open_error(make_file("noshape.safetensors", R"({"a":{"dtype":"F32","data_offsets":[0,16]}})", one)),
                  "missing or non-array 'shape'"));
    }
    SUBCASE("bad offsets") {
        CHECK(has(open_error(make_file("range.safetensors", R"({"a":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}})", one)),
                  "tensor 'a': data_offsets [0, 32] are out of range of the 16-byte data section"));
        CHECK(has(open_error(make_file("range2.safetensors", R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[1e15,1e15]}})", one)),
                  "out of range"));
        CHECK(has(open_error(make_file("backwards.safetensors", R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})", one)),
                  "data_offsets [8, 4] have begin > end"));
        CHECK(has(open_error(make_file("negoff.safetensors", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})", one)),
                  "data_offsets must be non-negative integers"));
        CHECK(has(open_error(make_file("threeoff.safetensors", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}})", one)),
                  "data_offsets must be [begin, end]"));
        CHECK(has(open_error(make_file("wronglen.safetensors", R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}})", one)),
                  "tensor 'a': data_offsets cover 12 bytes but shape [2, 2] of F32 needs 16"));
        CHECK(has(open_error(make_file("overlap.safetensors",
                                       R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                       R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", one)),
                  "tensors 'a' and 'b' overlap"));
        CHECK(has(open_error(make_file("same.safetensors",
                                       R"({"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},)"
                                       R"("a":{"dtype":"I32","shape":[2],"data_offsets":[8,16]}})", one)),
                  "overlap"));
    }
    SUBCASE("unknown fields and bad metadata") {
        CHECK(has(open_error(make_file("field.safetensors", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}})", one)),
                  "tensor 'a': unknown field 'x'"));
        CHECK(has(open_error(make_file("meta.safetensors", R"({"__metadata__":{"k":1}})", "")),
                  "__metadata__ value of 'k' is not a string"));
        CHECK(has(open_error(make_file("meta2.safetensors", R"({"__metadata__":"v"})", "")),
                  "__metadata__ is not a JSON object"));
    }
    SUBCASE("messages name the file") {
        auto path = make_file("named.safetensors", "[]", "");
        CHECK(has(open_error(path), "invalid safetensors file '" + path + "'"));
    }
}

TEST_CASE("safetensors: a truncated real file is refused, never read out of bounds") {
    std::vector<float> v(1000);
    for (size_t i = 0; i < v.size(); ++i) v[i] = float(i);
    const std::string path = scratch("full.safetensors");
    write_safetensors(path, {{"w", Tensor::from_vector<float>({10, 100}, v)}}, {{"k", "v"}});
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (size_t cut : {size_t(0), size_t(3), size_t(8), size_t(20), bytes.size() / 2, bytes.size() - 1}) {
        write_bytes(scratch("cut.safetensors"), bytes.substr(0, cut));
        CHECK_THROWS_AS(SafetensorsFile::open(scratch("cut.safetensors")), Error);
    }
}
