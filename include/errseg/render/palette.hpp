// A fixed, well-spread colour per class index so the same class keeps its colour across images.
#pragma once
#include <array>
#include <cstdint>

namespace errseg {

// Bit-reversal palette (the PASCAL VOC construction): spreads neighbouring indices far apart.
inline std::array<uint8_t, 3> class_color(int64_t index) {
    uint32_t c = uint32_t(index) + 1;  // index 0 would be black
    uint8_t r = 0, g = 0, b = 0;
    for (int bit = 7; bit >= 0 && c; --bit) {
        r |= uint8_t(((c >> 0) & 1) << bit);
        g |= uint8_t(((c >> 1) & 1) << bit);
        b |= uint8_t(((c >> 2) & 1) << bit);
        c >>= 3;
    }
    return {r, g, b};
}

}  // namespace errseg
