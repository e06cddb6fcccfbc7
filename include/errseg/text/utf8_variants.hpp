// ftfy's "utf-8-variants" codec (strict decoding): UTF-8 that also accepts Java's two-byte
// null (C0 80) and CESU-8, i.e. a supplementary character written as two UTF-8-encoded
// surrogates (ED A0..AF xx ED B0..BF xx). Everything else must be valid UTF-8.
//
// The codec finds those sequences with a bytes regex in which each byte after the lead may
// also be `$`; Python's `$` matches at the end *and before a final '\n'*, so "C0 \n" at the
// very end decodes to U+0000 (the '\n' consumed), as ftfy does.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "utf8.hpp"

namespace errseg::text::ftfy {

namespace utf8_variants_detail {

struct Bytes {
    std::string_view b;
    uint8_t at(size_t i) const { return uint8_t(b[i]); }
    bool in(size_t i, uint8_t lo, uint8_t hi) const { return i < b.size() && at(i) >= lo && at(i) <= hi; }
    // Python's `$` without MULTILINE.
    bool end(size_t i) const { return i == b.size() || (i + 1 == b.size() && b[i] == '\n'); }
    // C0 (80|$)
    bool java_null(size_t i) const { return at(i) == 0xC0 && (in(i + 1, 0x80, 0x80) || end(i + 1)); }
    // ED ([A0-BF]|$) ([80-BF]|$): an encoded surrogate, possibly cut off
    bool surrogate(size_t i) const {
        if (at(i) != 0xED) return false;
        if (end(i + 1)) return true;
        return in(i + 1, 0xA0, 0xBF) && (in(i + 2, 0x80, 0xBF) || end(i + 2));
    }
    // ED A0..AF 80..BF ED B0..BF 80..BF with 6 bytes available (only the last may be `$`)
    bool cesu8_pair(size_t i) const {
        return i + 6 <= b.size() && in(i + 1, 0xA0, 0xAF) && in(i + 2, 0x80, 0xBF) && at(i + 3) == 0xED &&
               in(i + 4, 0xB0, 0xBF) && (in(i + 5, 0x80, 0xBF) || end(i + 5));
    }
};

}  // namespace utf8_variants_detail

// bytes.decode("utf-8-variants"); nullopt where Python raises UnicodeDecodeError.
inline std::optional<std::u32string> decode_utf8_variants(std::string_view bytes) {
    const utf8_variants_detail::Bytes b{bytes};
    const size_t n = bytes.size();
    std::u32string out;
    size_t pos = 0;
    while (pos < n) {
        size_t cut = pos;
        while (cut < n && !b.java_null(cut) && !b.surrogate(cut)) ++cut;
        if (cut > pos) {  // plain UTF-8 up to the special sequence (or the end)
            if (!decode_utf8_into(bytes.substr(pos, cut - pos), out, true)) return std::nullopt;
            pos = cut;
            continue;
        }
        if (b.at(pos) == 0xC0) {
            if (n - pos < 2) return std::nullopt;  // a lone C0 at the end
            out.push_back(0);
            pos += 2;
            continue;
        }
        // An encoded surrogate: only a complete CESU-8 pair decodes.
        if (!b.cesu8_pair(pos)) return std::nullopt;
        const char32_t cp = ((char32_t(b.at(pos + 1)) & 0x0F) << 16) + ((char32_t(b.at(pos + 2)) & 0x3F) << 10) +
                            ((char32_t(b.at(pos + 4)) & 0x0F) << 6) + (char32_t(b.at(pos + 5)) & 0x3F) + 0x10000;
        out.push_back(cp);
        pos += 6;
    }
    return out;
}

}  // namespace errseg::text::ftfy
