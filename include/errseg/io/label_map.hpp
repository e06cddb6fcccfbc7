// Label maps on disk: single-channel PNGs holding a class index per pixel, 8-bit (≤ 256
// classes) or 16-bit (more), as written by `errseg segment` and used by datasets (ADE20K,
// Pascal Context...) for ground truth. Reading keeps the stored values as they are: no
// colour conversion, no gamma. Palette PNGs (encode_palette_label_png) store the same indices
// with a colour table, so image viewers show colours.
#pragma once
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/storage.hpp"
#include "image.hpp"

namespace errseg {

struct LabelMap {
    int width = 0, height = 0;
    std::vector<int32_t> labels;  // row-major
};

inline LabelMap load_label_png(const std::string& path) {
    std::shared_ptr<MappedFile> map;
    try {
        map = std::make_shared<MappedFile>(path);
    } catch (const Error& e) {
        fail("cannot read label map '", path, "': ", e.what());
    }
    const uint8_t* data = map->data();
    const size_t n = map->bytes();
    const std::string what = "label map '" + path + "'";
    ERRSEG_CHECK(n >= 24 && std::string(detail::sniff_image_format(data, n)) == "PNG", what, ": not a PNG file");
    ERRSEG_CHECK(std::memcmp(data + 12, "IHDR", 4) == 0, what, ": corrupt PNG (no IHDR)");
    detail::check_image_dims(bytes::be32(data + 16), bytes::be32(data + 20), what);
    int w = 0, h = 0, comp = 0;
    ERRSEG_CHECK(stbi_info_from_memory(data, int(n), &w, &h, &comp), what, ": corrupt PNG");
    ERRSEG_CHECK(comp == 1, what, ": has ", comp, " channels; a label map has one (class index per pixel)");
    LabelMap out;
    out.width = w;
    out.height = h;
    out.labels.resize(size_t(w) * size_t(h));
    int w2 = 0, h2 = 0, c2 = 0;
    if (stbi_is_16_bit_from_memory(data, int(n))) {
        std::unique_ptr<stbi_us, void (*)(void*)> px(stbi_load_16_from_memory(data, int(n), &w2, &h2, &c2, 1), stbi_image_free);
        ERRSEG_CHECK(px && w2 == w && h2 == h, what, ": corrupt PNG");
        for (size_t i = 0; i < out.labels.size(); ++i) out.labels[i] = px.get()[i];
    } else {
        std::unique_ptr<stbi_uc, void (*)(void*)> px(stbi_load_from_memory(data, int(n), &w2, &h2, &c2, 1), stbi_image_free);
        ERRSEG_CHECK(px && w2 == w && h2 == h, what, ": corrupt PNG");
        for (size_t i = 0; i < out.labels.size(); ++i) out.labels[i] = px.get()[i];
    }
    return out;
}

// Encodes class indices (row-major, each in [0, num_classes)) as a grayscale PNG: 8-bit for
// up to 255 classes (255 stays free: datasets use it as "ignore"), 16-bit up to 65,536; more
// cannot be stored and are refused.
inline std::vector<uint8_t> encode_label_png(const int32_t* labels, int w, int h, size_t num_classes) {
    ERRSEG_CHECK(num_classes <= 65536, "a label PNG holds at most 65536 classes, got ", num_classes);
    const size_t n = size_t(w) * size_t(h);
    if (num_classes <= 255) {
        std::vector<uint8_t> px(n);
        for (size_t i = 0; i < n; ++i) px[i] = uint8_t(labels[i]);
        return encode_png(w, h, 1, px.data());
    }
    std::vector<uint16_t> px(n);
    for (size_t i = 0; i < n; ++i) px[i] = uint16_t(labels[i]);
    return encode_png16(w, h, px.data());
}

// Writes class indices (row-major h x w, each in [0, num_classes)) atomically as the label PNG
// encode_label_png makes; every value is checked against num_classes first.
inline void write_label_png(const std::string& path, const int32_t* labels, int width, int height,
                            size_t num_classes) {
    ERRSEG_CHECK(num_classes >= 1 && num_classes <= 65536, "label map '", path, "': ", num_classes,
                 " classes do not fit a 16-bit PNG");
    const size_t n = size_t(width) * size_t(height);
    for (size_t i = 0; i < n; ++i)
        ERRSEG_CHECK(labels[i] >= 0 && size_t(labels[i]) < num_classes, "label map '", path, "': value ",
                     labels[i], " at pixel ", i, " is not a class index below ", num_classes);
    const std::vector<uint8_t> bytes = encode_label_png(labels, width, height, num_classes);
    write_file_atomic(path, bytes.data(), bytes.size());
}

// Encodes class indices as an 8-bit palette PNG (colour type 3): pixel values are the class
// indices, PLTE holds colours[i] for class i. At most 256 classes. Made from stb's 8-bit gray
// PNG: the scanlines (and so the filtered, compressed IDAT) of 8-bit gray and 8-bit palette
// images are byte-identical, so only IHDR's colour type changes and PLTE is inserted before IDAT.
inline std::vector<uint8_t> encode_palette_label_png(const int32_t* labels, int w, int h,
                                                     const std::vector<std::array<uint8_t, 3>>& colours) {
    ERRSEG_CHECK(!colours.empty() && colours.size() <= 256, "a palette PNG holds 1 to 256 classes, got ",
                 colours.size());
    std::vector<uint8_t> px(size_t(w) * size_t(h));
    for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t(labels[i]);
    const std::vector<uint8_t> gray = encode_png(w, h, 1, px.data());
    // stb writes signature (8), IHDR (8 + 13 + 4), then the data chunks.
    ERRSEG_CHECK(gray.size() > 33 && std::memcmp(gray.data() + 12, "IHDR", 4) == 0 && gray[25] == 0,
                 "encode_palette_label_png: unexpected PNG layout");
    std::vector<uint8_t> out(gray.begin(), gray.begin() + 8);
    std::vector<uint8_t> ihdr(gray.begin() + 16, gray.begin() + 29);
    ihdr[9] = 3;  // colour type: palette
    detail::put_png_chunk(out, "IHDR", ihdr);
    std::vector<uint8_t> plte;
    for (const auto& c : colours) plte.insert(plte.end(), c.begin(), c.end());
    detail::put_png_chunk(out, "PLTE", plte);
    out.insert(out.end(), gray.begin() + 33, gray.end());
    return out;
}

}  // namespace errseg
