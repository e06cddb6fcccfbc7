// EXIF orientation (tag 0x0112) of JPEG and PNG files, and applying it to decoded pixels.
//
// Cameras store pixels as the sensor saw them and record how to turn them upright in EXIF.
// detectron2's read_image (the ERR-Seg data path, spec §2.1) applies it the way Pillow's
// ImageOps.exif_transpose does; open_clip (PIL Image.open) does not. Where the tag lives:
//   JPEG  an APP1 segment "Exif\0\0" + TIFF structure, before the first scan
//   PNG   an eXIf chunk holding the TIFF structure
// TIFF: "II" (little endian) or "MM" (big endian), 42, offset of IFD0; IFD0 = count, then 12-byte
// entries (tag, type, count, value). Only a SHORT orientation of 1..8 in IFD0 counts; anything
// malformed, truncated or out of range means "no orientation" (1), never an error: a broken
// EXIF block must not make a decodable image unreadable.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "byte_order.hpp"

namespace errseg {

namespace exif_detail {

// TIFF data is in the byte order its header names.
inline uint32_t get_u16(const uint8_t* p, bool big) { return big ? bytes::be16(p) : bytes::le16(p); }
inline uint32_t get_u32(const uint8_t* p, bool big) { return big ? bytes::be32(p) : bytes::le32(p); }

// Orientation from a TIFF structure of n bytes; 1 when absent or invalid.
inline int tiff_orientation(const uint8_t* t, size_t n) {
    if (n < 8) return 1;
    bool big;
    if (t[0] == 'I' && t[1] == 'I') big = false;
    else if (t[0] == 'M' && t[1] == 'M') big = true;
    else return 1;
    if (get_u16(t + 2, big) != 42) return 1;
    const uint32_t ifd = get_u32(t + 4, big);
    if (ifd > n || n - ifd < 2) return 1;
    const uint32_t count = get_u16(t + ifd, big);
    for (uint32_t i = 0; i < count; ++i) {
        const size_t e = size_t(ifd) + 2 + size_t(i) * 12;
        if (e + 12 > n) return 1;
        if (get_u16(t + e, big) != 0x0112) continue;
        const uint32_t type = get_u16(t + e + 2, big), values = get_u32(t + e + 4, big);
        if (type != 3 || values < 1) return 1;  // SHORT, value inline in the first 2 bytes
        const uint32_t v = get_u16(t + e + 8, big);
        return v >= 1 && v <= 8 ? int(v) : 1;
    }
    return 1;
}

inline int jpeg_orientation(const uint8_t* d, size_t n) {
    size_t i = 2;  // after SOI (FF D8)
    while (i + 4 <= n) {
        if (d[i] != 0xFF) return 1;
        const uint8_t marker = d[i + 1];
        if (marker == 0xFF) {  // fill byte
            ++i;
            continue;
        }
        if (marker == 0xDA || marker == 0xD9) return 1;  // first scan or end: no EXIF before it
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {  // markers without a length
            i += 2;
            continue;
        }
        const size_t len = bytes::be16(d + i + 2);
        if (len < 2 || i + 2 + len > n) return 1;
        const uint8_t* body = d + i + 4;
        const size_t body_len = len - 2;
        if (marker == 0xE1 && body_len >= 6 && std::memcmp(body, "Exif\0\0", 6) == 0)
            return tiff_orientation(body + 6, body_len - 6);
        i += 2 + len;
    }
    return 1;
}

inline int png_orientation(const uint8_t* d, size_t n) {
    size_t i = 8;  // after the signature
    while (i + 12 <= n) {
        const uint32_t len = bytes::be32(d + i);
        if (len > n - i - 12) return 1;
        const uint8_t* type = d + i + 4;
        if (std::memcmp(type, "eXIf", 4) == 0) return tiff_orientation(d + i + 8, len);
        if (std::memcmp(type, "IEND", 4) == 0) return 1;
        i += 12 + size_t(len);
    }
    return 1;
}

}  // namespace exif_detail

// The EXIF orientation (1..8) of a JPEG or PNG file's bytes; 1 for other formats, files
// without one, or a malformed EXIF block.
inline int exif_orientation(const uint8_t* d, size_t n) {
    static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (n >= 8 && std::memcmp(d, kPng, 8) == 0) return exif_detail::png_orientation(d, n);
    if (n >= 4 && d[0] == 0xFF && d[1] == 0xD8) return exif_detail::jpeg_orientation(d, n);
    return 1;
}

// Pixels of an HWC image (`channels` bytes per pixel) turned upright for an EXIF orientation,
// as Pillow's exif_transpose: 2 mirror, 3 rotate 180°, 4 flip, 5 transpose, 6 rotate 90°
// clockwise, 7 transverse, 8 rotate 90° counter-clockwise (5–8 swap width and height).
// Returns the new {width, height}; `pixels` is replaced.
inline std::pair<int, int> apply_orientation(std::vector<uint8_t>& pixels, int width, int height, int channels,
                                             int orientation) {
    if (orientation < 2 || orientation > 8) return {width, height};
    const bool swap = orientation >= 5;
    const int ow = swap ? height : width, oh = swap ? width : height;
    const int W = width, H = height;
    std::vector<uint8_t> out(pixels.size());
    for (int y = 0; y < oh; ++y)
        for (int x = 0; x < ow; ++x) {
            int sx = x, sy = y;  // source pixel
            switch (orientation) {
                case 2: sx = W - 1 - x; break;
                case 3: sx = W - 1 - x, sy = H - 1 - y; break;
                case 4: sy = H - 1 - y; break;
                case 5: sx = y, sy = x; break;
                case 6: sx = y, sy = H - 1 - x; break;
                case 7: sx = W - 1 - y, sy = H - 1 - x; break;
                case 8: sx = W - 1 - y, sy = x; break;
            }
            std::memcpy(&out[(size_t(y) * ow + x) * channels], &pixels[(size_t(sy) * W + sx) * channels],
                        size_t(channels));
        }
    pixels = std::move(out);
    return {ow, oh};
}

}  // namespace errseg
