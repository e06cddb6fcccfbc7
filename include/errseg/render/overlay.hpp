// Colour overlay of a label map on its image, with a legend of the classes present
// (swatch + name, drawn with stb_easy_font's vector glyphs).
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../io/image.hpp"
#include "palette.hpp"

#if !defined(ERRSEG_STB_EASY_FONT_INCLUDED)
#define ERRSEG_STB_EASY_FONT_INCLUDED
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#endif
#include <stb_easy_font.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#endif

namespace errseg {

namespace detail {
inline void fill_rect(Image& img, int x0, int y0, int x1, int y1, const std::array<uint8_t, 3>& c) {
    x0 = std::max(x0, 0), y0 = std::max(y0, 0);
    x1 = std::min(x1, img.width), y1 = std::min(y1, img.height);
    for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x)
            for (int k = 0; k < 3; ++k) img.rgb[(size_t(y) * size_t(img.width) + size_t(x)) * 3 + size_t(k)] = c[size_t(k)];
}

// Renders ASCII text at (x, y) with integer scale; non-ASCII bytes show as '?'.
inline void draw_text(Image& img, int x, int y, const std::string& text, int scale,
                      const std::array<uint8_t, 3>& color) {
    std::string ascii = text;
    for (char& ch : ascii)
        if (static_cast<unsigned char>(ch) >= 128 || static_cast<unsigned char>(ch) < 32) ch = '?';
    static thread_local std::vector<char> buffer(1 << 16);
    int quads = stb_easy_font_print(0, 0, const_cast<char*>(ascii.c_str()), nullptr, buffer.data(),
                                    int(buffer.size()));
    const float* v = reinterpret_cast<const float*>(buffer.data());  // 4 vertices x (x,y,z,rgba) per quad
    for (int q = 0; q < quads; ++q) {
        const float* quad = v + q * 16;
        int qx0 = int(quad[0]), qy0 = int(quad[1]), qx1 = int(quad[8]), qy1 = int(quad[9]);
        fill_rect(img, x + qx0 * scale, y + qy0 * scale, x + qx1 * scale, y + qy1 * scale, color);
    }
}
}  // namespace detail

// labels: H*W class indices. Returns the image blended 50/50 with class colours, widened by a
// legend panel listing `present` classes (indices into names) in the given order.
inline Image render_overlay(const Image& image, const int32_t* labels, const std::vector<std::string>& names,
                            const std::vector<int64_t>& present) {
    ERRSEG_CHECK(image.width > 0 && image.height > 0, "render_overlay: empty image");
    const int scale = image.height >= 480 ? 2 : 1;
    const int row_h = 12 * scale, swatch = 9 * scale, pad = 6 * scale;
    size_t longest = 0;
    for (int64_t c : present) longest = std::max(longest, names.at(size_t(c)).size());
    longest = std::min<size_t>(longest, 40);
    const int legend_w = present.empty() ? 0 : pad * 3 + swatch + int(longest) * 6 * scale;
    Image out;
    out.width = image.width + legend_w;
    out.height = std::max(image.height, pad * 2 + row_h * int(present.size()));
    out.rgb.assign(size_t(out.width) * size_t(out.height) * 3, 255);
    for (int y = 0; y < image.height; ++y)
        for (int x = 0; x < image.width; ++x) {
            size_t src = size_t(y) * size_t(image.width) + size_t(x);
            auto c = class_color(labels[src]);
            uint8_t* d = &out.rgb[(size_t(y) * size_t(out.width) + size_t(x)) * 3];
            for (int k = 0; k < 3; ++k) d[k] = uint8_t((int(image.rgb[src * 3 + size_t(k)]) + int(c[size_t(k)]) + 1) / 2);
        }
    int y = pad;
    for (int64_t c : present) {
        int x = image.width + pad;
        detail::fill_rect(out, x, y, x + swatch, y + swatch, class_color(c));
        std::string name = names.at(size_t(c));
        if (name.size() > 40) name = name.substr(0, 37) + "...";
        detail::draw_text(out, x + swatch + pad, y + scale, name, scale, {0, 0, 0});
        y += row_h;
    }
    return out;
}

}  // namespace errseg
