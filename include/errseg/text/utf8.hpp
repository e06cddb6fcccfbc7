// UTF-8 <-> UTF-32 conversion for the tokenizer.
//
// Decoding never fails: malformed input is replaced exactly like Python's
// bytes.decode("utf-8", errors="replace"), i.e. every *maximal subpart* of an ill-formed
// sequence (Unicode §3.9, "U+FFFD substitution of maximal subparts") becomes one U+FFFD.
// Examples: E2 82 41 -> U+FFFD 'A'; C0 80 -> U+FFFD U+FFFD; ED A0 80 (a UTF-8 encoded
// surrogate) -> three U+FFFD; F4 90 80 80 (> U+10FFFF) -> four U+FFFD.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace errseg::text {

inline constexpr char32_t kReplacementChar = 0xFFFD;

// Appends the decoding of s to out. strict: stop at the first malformed sequence and return
// false (Python's errors="strict"); otherwise replace it (errors="replace") and return true.
inline bool decode_utf8_into(std::string_view s, std::u32string& out, bool strict) {
    const size_t n = s.size();
    size_t i = 0;
    while (i < n) {
        const uint8_t b = uint8_t(s[i]);
        if (b < 0x80) {
            out.push_back(b);
            ++i;
            continue;
        }
        // Number of continuation bytes and the allowed range of the *first* continuation
        // byte (Unicode Table 3-7, well-formed UTF-8 byte sequences).
        int need;
        uint8_t lo = 0x80, hi = 0xBF;
        char32_t cp;
        if (b >= 0xC2 && b <= 0xDF) {
            need = 1;
            cp = b & 0x1F;
        } else if (b >= 0xE0 && b <= 0xEF) {
            need = 2;
            cp = b & 0x0F;
            if (b == 0xE0) lo = 0xA0;          // no overlongs
            if (b == 0xED) hi = 0x9F;          // no surrogates
        } else if (b >= 0xF0 && b <= 0xF4) {
            need = 3;
            cp = b & 0x07;
            if (b == 0xF0) lo = 0x90;          // no overlongs
            if (b == 0xF4) hi = 0x8F;          // <= U+10FFFF
        } else {                               // stray continuation byte, C0, C1, F5..FF
            if (strict) return false;
            out.push_back(kReplacementChar);
            ++i;
            continue;
        }
        size_t j = i + 1;
        bool ok = true;
        for (int k = 0; k < need; ++k, ++j) {
            if (j >= n) {
                ok = false;
                break;
            }
            const uint8_t c = uint8_t(s[j]);
            if (c < lo || c > hi) {
                ok = false;
                break;
            }
            cp = (cp << 6) | (c & 0x3F);
            lo = 0x80;
            hi = 0xBF;
        }
        // Either a complete character, or one U+FFFD for the maximal subpart s[i, j).
        if (!ok && strict) return false;
        out.push_back(ok ? cp : kReplacementChar);
        i = j;
    }
    return true;
}

inline std::u32string decode_utf8(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    decode_utf8_into(s, out, false);
    return out;
}

inline void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out.push_back(char(cp));
    } else if (cp < 0x800) {
        out.push_back(char(0xC0 | (cp >> 6)));
        out.push_back(char(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(char(0xE0 | (cp >> 12)));
        out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(char(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(char(0xF0 | (cp >> 18)));
        out.push_back(char(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(char(0x80 | (cp & 0x3F)));
    }
}

inline std::string encode_utf8(std::u32string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char32_t cp : s) append_utf8(out, cp);
    return out;
}

// s with every ill-formed part replaced by U+FFFD (as decode_utf8); valid input is unchanged.
inline std::string to_valid_utf8(std::string_view s) {
    bool ascii = true;
    for (char c : s) ascii = ascii && uint8_t(c) < 0x80;
    if (ascii) return std::string(s);
    return encode_utf8(decode_utf8(s));
}

// Well-formed UTF-8 (no overlongs, surrogates, or code points past U+10FFFF).
inline bool is_valid_utf8(std::string_view s) { return to_valid_utf8(s) == s; }

}  // namespace errseg::text
