// Checksums used by the file formats we read and write: CRC-32 (PNG chunks, ZIP entries)
// and Adler-32 (zlib streams).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

namespace errseg {
namespace detail {

// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320). Start with crc = 0; pass the
// previous result to continue over more bytes.
inline uint32_t crc32_update(uint32_t crc, const uint8_t* p, size_t n) {
    static const std::array<uint32_t, 256> table = [] {
        std::array<uint32_t, 256> t{};
        for (uint32_t i = 0; i < 256; ++i) {
            uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    crc = ~crc;
    for (size_t i = 0; i < n; ++i) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

// Adler-32 as used in zlib streams.
inline uint32_t adler32(const uint8_t* p, size_t n) {
    uint32_t a = 1, b = 0;
    while (n > 0) {
        size_t block = n < 5552 ? n : 5552;  // largest run without 32-bit overflow
        n -= block;
        while (block--) {
            a += *p++;
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    return (b << 16) | a;
}

}  // namespace detail
}  // namespace errseg
