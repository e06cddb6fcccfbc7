// Images: decoding PNG/JPEG/BMP to RGB, the tensor layout, hostile inputs (corrupt,
// missing, absurd dimensions), PNG writing and the 16-bit PNG encoder.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "error_of.hpp"
#include "errseg/io/image.hpp"

using namespace errseg;

namespace {

std::string scratch(const std::string& name) {
    static const std::filesystem::path dir = [] {
        auto p = std::filesystem::path(ERRSEG_BUILD_DIR) / "io_test_tmp" / ("img_" + std::to_string(::getpid()));
        std::filesystem::create_directories(p);
        return p;
    }();
    return (dir / name).string();
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

std::vector<uint8_t> read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

bool has(const std::string& hay, const std::string& needle) {
    if (hay.find(needle) != std::string::npos) return true;
    MESSAGE("message was: ", hay);
    return false;
}

// A w x h RGB test pattern with distinct channel values.
std::vector<uint8_t> pattern(int w, int h) {
    std::vector<uint8_t> px(size_t(w) * size_t(h) * 3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            uint8_t* p = &px[(size_t(y) * size_t(w) + size_t(x)) * 3];
            p[0] = uint8_t(x * 40);
            p[1] = uint8_t(y * 60);
            p[2] = uint8_t(255 - x * 10 - y);
        }
    return px;
}

void collect(void* ctx, void* data, int size) {
    auto* out = static_cast<std::vector<uint8_t>*>(ctx);
    out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
}

// A PNG consisting of only a signature and an IHDR chunk (valid CRC) claiming w x h.
std::vector<uint8_t> png_header_only(uint32_t w, uint32_t h) {
    std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    std::vector<uint8_t> ihdr;
    detail::put_be32(ihdr, w);
    detail::put_be32(ihdr, h);
    ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});
    detail::put_png_chunk(png, "IHDR", ihdr);
    return png;
}

}  // namespace

TEST_CASE("image: PNG write -> load is lossless; tensor layout is [1,3,H,W] 0..255") {
    const int w = 5, h = 4;
    auto px = pattern(w, h);
    const std::string path = scratch("rgb.png");
    write_png(path, w, h, 3, px.data());
    Image img = load_image(path);
    CHECK(img.width == w);
    CHECK(img.height == h);
    CHECK(img.rgb == px);

    Tensor t = image_to_tensor(img);
    CHECK(t.shape() == Shape{1, 3, h, w});
    const float* d = static_cast<const Tensor&>(t).data<float>();
    // pixel (x=2, y=3)
    CHECK(d[0 * h * w + 3 * w + 2] == float(px[(3 * w + 2) * 3 + 0]));
    CHECK(d[1 * h * w + 3 * w + 2] == float(px[(3 * w + 2) * 3 + 1]));
    CHECK(d[2 * h * w + 3 * w + 2] == 255.f - 20.f - 3.f);

    // From memory gives the same.
    auto bytes = read_bytes(path);
    CHECK(load_image_from_memory(bytes.data(), bytes.size()).rgb == px);
}

TEST_CASE("image: gray / RGBA PNGs and BMP, JPEG decode to RGB") {
    const int w = 6, h = 3;
    std::vector<uint8_t> gray(size_t(w * h));
    for (size_t i = 0; i < gray.size(); ++i) gray[i] = uint8_t(i * 13);
    write_png(scratch("gray.png"), w, h, 1, gray.data());
    Image g = load_image(scratch("gray.png"));
    REQUIRE(g.rgb.size() == size_t(w * h * 3));
    for (size_t i = 0; i < gray.size(); ++i) {
        CHECK(g.rgb[3 * i] == gray[i]);
        CHECK(g.rgb[3 * i + 2] == gray[i]);
    }

    std::vector<uint8_t> rgba(size_t(w * h * 4), 200);
    rgba[0] = 10, rgba[3] = 0;  // alpha is dropped, colour kept
    write_png(scratch("rgba.png"), w, h, 4, rgba.data());
    Image a = load_image(scratch("rgba.png"));
    CHECK(a.rgb[0] == 10);
    CHECK(a.rgb[1] == 200);

    auto px = pattern(w, h);
    std::vector<uint8_t> bmp;
    REQUIRE(stbi_write_bmp_to_func(collect, &bmp, w, h, 3, px.data()));
    write_bytes(scratch("p.bmp"), bmp);
    CHECK(load_image(scratch("p.bmp")).rgb == px);

    // JPEG (committed fixtures made with Pillow, baseline and progressive) is lossy: a flat
    // colour block decodes close to its value.
    for (const char* name : {"flat.jpg", "flat_progressive.jpg"}) {
        Image j = load_image(std::string(ERRSEG_TEST_DATA) + "/io/" + name);
        CHECK(j.width == 16);
        CHECK(j.height == 16);
        REQUIRE(j.rgb.size() == 16 * 16 * 3);
        for (size_t i = 0; i < j.rgb.size(); i += 3) {
            CHECK(std::abs(int(j.rgb[i]) - 200) <= 3);
            CHECK(std::abs(int(j.rgb[i + 1]) - 100) <= 3);
            CHECK(std::abs(int(j.rgb[i + 2]) - 50) <= 3);
        }
    }
}

TEST_CASE("image: missing, empty, corrupt and non-image files give clear errors") {
    CHECK(has(error_of([] { load_image(scratch("nope.png")); }), "cannot read image file '" + scratch("nope.png") + "'"));
    CHECK(has(error_of([] { load_image(std::filesystem::path(scratch("x")).parent_path().string()); }),
              "not a regular file"));
    write_bytes(scratch("empty.png"), {});
    CHECK(has(error_of([] { load_image(scratch("empty.png")); }), "image data is empty"));

    write_bytes(scratch("text.png"), std::vector<uint8_t>{'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'});
    CHECK(has(error_of([] { load_image(scratch("text.png")); }), "not a readable image"));

    // A real PNG cut in the middle of its pixel data.
    auto px = pattern(64, 64);
    auto png = encode_png(64, 64, 3, px.data());
    png.resize(png.size() / 2);
    write_bytes(scratch("cut.png"), png);
    CHECK(has(error_of([] { load_image(scratch("cut.png")); }), "image file '" + scratch("cut.png") + "'"));
    CHECK(has(error_of([] { load_image(scratch("cut.png")); }), "truncated or corrupt PNG image (chunk 'IDAT' declares"));

    // A chunk declaring more bytes than the file holds is refused before stb sizes a buffer by it.
    auto huge_chunk = encode_png(8, 8, 3, px.data());
    const size_t idat = 33;  // signature (8) + IHDR chunk (25)
    REQUIRE(std::string(huge_chunk.begin() + idat + 4, huge_chunk.begin() + idat + 8) == "IDAT");
    huge_chunk[idat] = 0x40;  // length 0x40xxxxxx: about 1 GB
    CHECK(has(error_of([&] { load_image_from_memory(huge_chunk.data(), huge_chunk.size()); }),
              "truncated or corrupt PNG image (chunk 'IDAT' declares 10"));

    // Corrupted bytes inside the compressed stream.
    auto bad = encode_png(64, 64, 3, px.data());
    for (size_t i = 60; i < 90 && i < bad.size(); ++i) bad[i] ^= 0x5A;
    CHECK_THROWS_AS(load_image_from_memory(bad.data(), bad.size()), Error);

    CHECK(has(error_of([] { load_image_from_memory(nullptr, 0); }), "image in memory: image data is empty"));

    // JPEGs must reach their end-of-image marker (PIL, the upstream reader, refuses them too;
    // stb would fill the rest of the scan with gray).
    const auto jpg = read_bytes(std::string(ERRSEG_TEST_DATA) + "/io/flat.jpg");
    for (size_t keep : {jpg.size() - 2, jpg.size() * 6 / 10}) {
        CAPTURE(keep);
        CHECK(has(error_of([&] { load_image_from_memory(jpg.data(), keep); }),
                  "corrupt JPEG image (truncated: the file ends before its end-of-image marker)"));
    }

    // BMP pixel rows must all be in the file. 4x3 at 24 bits: rows of 12 bytes after 54 bytes.
    std::vector<uint8_t> bmp = {'B', 'M', 90, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0, 40, 0, 0, 0, 4, 0, 0, 0,
                                3, 0, 0, 0, 1, 0, 24, 0, 0, 0, 0, 0, 36, 0, 0, 0};
    bmp.resize(54, 0);
    for (int i = 0; i < 36; ++i) bmp.push_back(uint8_t(i * 7));
    const Image full = load_image_from_memory(bmp.data(), bmp.size());
    CHECK(full.width == 4);
    CHECK(full.height == 3);
    CHECK(has(error_of([&] { load_image_from_memory(bmp.data(), 80); }),
              "truncated BMP image (4x3 at 24 bits per pixel needs 90 bytes, the file has 80)"));
    // fuzz_image's timeout: 36 bytes declaring 1815 x 23813 at 1 bit per pixel.
    const auto tiny = read_bytes(std::string(ERRSEG_SOURCE_DIR) +
                                 "/fuzz/regressions/image/bmp_1bpp_43mpix_in_36_bytes_timeout.bmp");
    CHECK(has(error_of([&] { load_image_from_memory(tiny.data(), tiny.size()); }),
              "truncated BMP image (1815x23813 at 1 bits per pixel needs"));
}

TEST_CASE("image: malformed JPEG Huffman tables and unsupported formats are refused") {
    auto jpg = read_bytes(std::string(ERRSEG_TEST_DATA) + "/io/flat.jpg");
    // Find the first DHT segment and make its first table declare 16 x 255 codes.
    size_t dht = 0;
    for (size_t i = 2; i + 1 < jpg.size(); ++i)
        if (jpg[i] == 0xFF && jpg[i + 1] == 0xC4) {
            dht = i;
            break;
        }
    REQUIRE(dht > 0);
    for (size_t k = 0; k < 16; ++k) jpg[dht + 5 + k] = 0xFF;
    CHECK(has(error_of([&] { load_image_from_memory(jpg.data(), jpg.size()); }),
              "corrupt JPEG image (invalid Huffman table)"));

    // A progressive AC scan whose Huffman table was never defined (fuzz_image finding).
    const auto undefined = read_bytes(std::string(ERRSEG_SOURCE_DIR) +
                                      "/fuzz/regressions/image/jpeg_progressive_scan_undefined_huffman_table.jpg");
    CHECK(has(error_of([&] { load_image_from_memory(undefined.data(), undefined.size()); }),
              "corrupt JPEG image (scan uses an undefined Huffman table)"));
    // A scan whose component's quantization table was never defined (fuzz_image finding).
    const auto no_dqt = read_bytes(std::string(ERRSEG_SOURCE_DIR) +
                                   "/fuzz/regressions/image/jpeg_scan_undefined_quantization_table.jpg");
    CHECK(has(error_of([&] { load_image_from_memory(no_dqt.data(), no_dqt.size()); }),
              "corrupt JPEG image (scan uses an undefined quantization table)"));
    // Valid baseline and progressive files still decode.
    for (const char* name : {"/io/flat.jpg", "/io/flat_progressive.jpg"}) {
        const auto ok = read_bytes(std::string(ERRSEG_TEST_DATA) + name);
        CHECK(load_image_from_memory(ok.data(), ok.size()).width > 0);
    }

    std::vector<uint8_t> gif = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0, 0, 0};
    CHECK(has(error_of([&] { load_image_from_memory(gif.data(), gif.size()); }),
              "GIF images are not supported (use PNG, JPEG, BMP or PNM)"));
    // PNM (binary PPM) is supported.
    std::vector<uint8_t> ppm = {'P', '6', '\n', '2', ' ', '1', '\n', '2', '5', '5', '\n', 1, 2, 3, 4, 5, 6};
    Image p = load_image_from_memory(ppm.data(), ppm.size());
    CHECK(p.width == 2);
    CHECK(p.rgb == std::vector<uint8_t>{1, 2, 3, 4, 5, 6});
}

TEST_CASE("image: absurd dimensions are refused before decoding") {
    // 100000 x 100000: beyond stb's own backstop, caught while reading the header.
    auto huge = png_header_only(100000, 100000);
    CHECK(has(error_of([&] { load_image_from_memory(huge.data(), huge.size()); }), "larger than the limit"));
    // 40000 x 40000: a side beyond 32768.
    auto wide = png_header_only(40000, 16);
    CHECK(has(error_of([&] { load_image_from_memory(wide.data(), wide.size()); }),
              "image is 40000x16, larger than the limit of 32768 pixels per side and 64 Mpixel"));
    // 30000 x 30000: sides fine, 900 Mpixel in total.
    auto many = png_header_only(30000, 30000);
    CHECK(has(error_of([&] { load_image_from_memory(many.data(), many.size()); }), "image is 30000x30000"));
    // Same via a file, and via a BMP header.
    write_bytes(scratch("bomb.png"), many);
    CHECK(has(error_of([] { load_image(scratch("bomb.png")); }), "larger than the limit"));
    std::vector<uint8_t> bmp;
    auto px = pattern(2, 2);
    REQUIRE(stbi_write_bmp_to_func(collect, &bmp, 2, 2, 3, px.data()));
    const int32_t big = 20000;
    std::memcpy(&bmp[18], &big, 4);  // BITMAPINFOHEADER width / height (little-endian)
    std::memcpy(&bmp[22], &big, 4);
    CHECK(has(error_of([&] { load_image_from_memory(bmp.data(), bmp.size()); }), "image is 20000x20000"));

    // Writers check their arguments too.
    CHECK_THROWS_AS(encode_png(0, 4, 3, px.data()), Error);
    CHECK_THROWS_AS(encode_png(2, 2, 5, px.data()), Error);
    CHECK_THROWS_AS(encode_png16(40000, 1, nullptr), Error);
}

TEST_CASE("image: 16-bit PNG round trip through stb's 16-bit decoder") {
    // 300 x 200 -> 120200 raw bytes: several 65535-byte stored blocks.
    for (auto dims : {std::pair<int, int>{1, 1}, {7, 3}, {300, 200}}) {
        const int w = dims.first, h = dims.second;
        std::vector<uint16_t> v(size_t(w) * size_t(h));
        for (size_t i = 0; i < v.size(); ++i) v[i] = uint16_t((i * 2654435761u) >> 7);
        v[0] = 65535;
        const std::string path = scratch("labels16.png");
        write_png16(path, w, h, v.data());
        auto bytes = read_bytes(path);
        int rw = 0, rh = 0, comp = 0;
        stbi_us* dec = stbi_load_16_from_memory(bytes.data(), int(bytes.size()), &rw, &rh, &comp, 1);
        REQUIRE(dec != nullptr);
        CHECK(rw == w);
        CHECK(rh == h);
        CHECK(comp == 1);
        CHECK(std::vector<uint16_t>(dec, dec + v.size()) == v);
        stbi_image_free(dec);
        CHECK(stbi_is_16_bit_from_memory(bytes.data(), int(bytes.size())) == 1);
    }
}

TEST_CASE("image: checksums match their standard check values") {
    const std::string s = "123456789";
    CHECK(detail::crc32_update(0, reinterpret_cast<const uint8_t*>(s.data()), s.size()) == 0xCBF43926u);
    CHECK(detail::adler32(reinterpret_cast<const uint8_t*>(s.data()), s.size()) == 0x091E01DEu);
    std::vector<uint8_t> ones(100000, 0xFF);  // exercises the modulo blocking
    uint32_t a = 1, b = 0;
    for (uint8_t c : ones) a = (a + c) % 65521, b = (b + a) % 65521;
    CHECK(detail::adler32(ones.data(), ones.size()) == ((b << 16) | a));
}
