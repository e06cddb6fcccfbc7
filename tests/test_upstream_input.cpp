// The published evaluation's input path (spec §2.1) against Pillow
// (tests/reference/gen_upstream_input.py): EXIF orientation as ImageOps.exif_transpose applies
// it, PIL's 8-bit bilinear resize bit for bit, and detectron2's ResizeShortestEdge sizes.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "errseg/io/exif.hpp"
#include "errseg/io/image.hpp"
#include "errseg/io/npz.hpp"
#include "errseg/models/errseg/preprocess.hpp"

using namespace errseg;
using namespace errseg::models;

namespace {

const std::string kDir = std::string(ERRSEG_TEST_DATA) + "/errseg/upstream_input/";

// The pixels of `stored` moved where Pillow's exif_transpose puts them: map[y', x'] is the flat
// index of the stored pixel that ends up at (x', y').
Image remap(const Image& stored, const Tensor& map) {
    Image out;
    out.height = int(map.size(0));
    out.width = int(map.size(1));
    out.rgb.resize(size_t(out.width) * out.height * 3);
    const int32_t* m = map.data<int32_t>();
    for (int64_t i = 0; i < map.numel(); ++i)
        for (int c = 0; c < 3; ++c) out.rgb[size_t(i) * 3 + c] = stored.rgb[size_t(m[i]) * 3 + c];
    return out;
}

std::vector<uint8_t> tiff(bool big, uint16_t tag, uint16_t type, uint32_t count, uint16_t value) {
    std::vector<uint8_t> t;
    auto u16 = [&](uint32_t v) {
        if (big) t.insert(t.end(), {uint8_t(v >> 8), uint8_t(v)});
        else t.insert(t.end(), {uint8_t(v), uint8_t(v >> 8)});
    };
    auto u32 = [&](uint32_t v) {
        if (big) t.insert(t.end(), {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)});
        else t.insert(t.end(), {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)});
    };
    t.push_back(big ? 'M' : 'I');
    t.push_back(big ? 'M' : 'I');
    u16(42);
    u32(8);
    u16(1);
    u16(tag);
    u16(type);
    u32(count);
    u16(value);
    u16(0);
    u32(0);
    return t;
}

}  // namespace

TEST_CASE("EXIF orientation: JPEG and PNG turned upright as Pillow's exif_transpose") {
    const auto maps = read_npz(kDir + "exif_maps.npz");
    const Image stored = load_image(kDir + "exif_o1.jpg");
    REQUIRE(stored.width == 11);
    REQUIRE(stored.height == 6);
    for (int k = 1; k <= 8; ++k) {
        CAPTURE(k);
        const std::string path = kDir + "exif_o" + std::to_string(k) + ".jpg";
        // Only the EXIF block differs between the files: ignoring it gives the stored pixels.
        CHECK(load_image(path).rgb == stored.rgb);
        const Image upright = load_image(path, kMaxImagePixels, ExifOrientation::Apply);
        const Image expected = remap(stored, maps.at("o" + std::to_string(k)));
        CHECK(upright.width == expected.width);
        CHECK(upright.height == expected.height);
        CHECK(upright.rgb == expected.rgb);
    }
    const Image png = load_image(kDir + "exif_o6.png");
    const Image png_upright = load_image(kDir + "exif_o6.png", kMaxImagePixels, ExifOrientation::Apply);
    CHECK(png_upright.width == 6);
    CHECK(png_upright.height == 11);
    CHECK(png_upright.rgb == remap(png, maps.at("o6")).rgb);
}

TEST_CASE("EXIF orientation: malformed blocks mean no orientation, never a crash") {
    using exif_detail::tiff_orientation;
    for (bool big : {false, true}) {
        const std::vector<uint8_t> ok = tiff(big, 0x0112, 3, 1, 6);
        CHECK(tiff_orientation(ok.data(), ok.size()) == 6);
        for (size_t n = 0; n < ok.size() - 4; ++n) CHECK(tiff_orientation(ok.data(), n) == 1);  // truncated
        CHECK(tiff_orientation(tiff(big, 0x0112, 3, 1, 0).data(), ok.size()) == 1);   // out of range
        CHECK(tiff_orientation(tiff(big, 0x0112, 3, 1, 9).data(), ok.size()) == 1);
        CHECK(tiff_orientation(tiff(big, 0x0112, 4, 1, 6).data(), ok.size()) == 1);   // LONG, not SHORT
        CHECK(tiff_orientation(tiff(big, 0x0112, 3, 0, 6).data(), ok.size()) == 1);   // no value
        CHECK(tiff_orientation(tiff(big, 0x0110, 3, 1, 6).data(), ok.size()) == 1);   // another tag
        std::vector<uint8_t> bad = ok;
        bad[big ? 7 : 4] = 0xF0;  // IFD0 offset past the end
        CHECK(tiff_orientation(bad.data(), bad.size()) == 1);
        bad = tiff(big, 0x0110, 3, 1, 6);
        bad[big ? 8 : 9] = 0xFF;  // entry count far beyond the data, the tag not in the first
        CHECK(tiff_orientation(bad.data(), bad.size()) == 1);
        bad = ok;
        bad[0] = 'X';  // byte order
        CHECK(tiff_orientation(bad.data(), bad.size()) == 1);
    }
    // A JPEG whose APP1 length runs past the end, and one with no segments at all.
    const uint8_t runaway[] = {0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF, 'E', 'x', 'i', 'f', 0, 0};
    CHECK(exif_orientation(runaway, sizeof runaway) == 1);
    const uint8_t bare[] = {0xFF, 0xD8, 0xFF, 0xD9};
    CHECK(exif_orientation(bare, sizeof bare) == 1);
    // Orientation 1 and unknown values leave the pixels alone.
    std::vector<uint8_t> px = {1, 2, 3, 4, 5, 6};
    CHECK(apply_orientation(px, 2, 1, 3, 1) == std::pair<int, int>{2, 1});
    CHECK(apply_orientation(px, 2, 1, 3, 42) == std::pair<int, int>{2, 1});
    CHECK(px == std::vector<uint8_t>{1, 2, 3, 4, 5, 6});
    CHECK(apply_orientation(px, 2, 1, 3, 6) == std::pair<int, int>{1, 2});  // 90° clockwise: a column
}

TEST_CASE("PIL bilinear resize matches PIL bit for bit") {
    const auto refs = read_npz(kDir + "pil_bilinear.npz");
    REQUIRE(refs.size() == 6);
    for (const auto& [key, ref] : refs) {
        const std::string image = key.substr(0, key.rfind('_'));
        const Image src = load_image(std::string(ERRSEG_TEST_DATA) + "/clip/" + image + ".png");
        const Image got = resize_pil(src, int(ref.size(1)), int(ref.size(0)), resample::Filter::Bilinear);
        REQUIRE(got.rgb.size() == size_t(ref.numel()));
        int64_t differ = 0;
        for (size_t i = 0; i < got.rgb.size(); ++i) differ += got.rgb[i] != ref.data<uint8_t>()[i];
        std::printf("  PIL bilinear %-28s %lld of %zu bytes differ\n", key.c_str(), (long long)differ, got.rgb.size());
        CHECK(differ == 0);
    }
}

TEST_CASE("detectron2 ResizeShortestEdge(800, 1333) output sizes") {
    using WH = std::array<int, 2>;
    CHECK(shortest_edge_size(640, 480) == WH{1067, 800});   // 640 * 800 / 480 = 1066.67
    CHECK(shortest_edge_size(480, 640) == WH{800, 1067});
    CHECK(shortest_edge_size(500, 500) == WH{800, 800});
    CHECK(shortest_edge_size(2000, 500) == WH{1333, 333});  // long side capped: 800 * 1333 / 3200
    CHECK(shortest_edge_size(10000, 50) == WH{1333, 7});    // 6.665 -> 7
    CHECK(shortest_edge_size(683, 512) == WH{1067, 800});   // 1067.19
    CHECK(shortest_edge_size(800, 600) == WH{1067, 800});
    const Image tiny{3, 2, std::vector<uint8_t>(18, 100)};
    const Image big = upstream_test_resize(tiny);
    CHECK(big.width == 1200);
    CHECK(big.height == 800);
    CHECK(std::count(big.rgb.begin(), big.rgb.end(), uint8_t(100)) == int64_t(big.rgb.size()));  // flat stays flat
}
