// ftfy.fix_encoding (ftfy 6.3.1, default settings): mojibake repair.
//
// One step, repeated until the text stops changing:
//   1. ASCII-only text, or text the badness heuristic (badness.hpp) finds nothing wrong
//      with, is left alone.
//   2. For each single-byte codec ftfy knows, in its order (latin-1, sloppy-windows-1252,
//      -1251, -1250, -1253, -1254, -1257, iso-8859-2, macroman, cp437): if every character
//      can be encoded with it, encode; put back A0 bytes turned into spaces
//      (restore_byte_a0, not for macroman); in sloppy codecs turn sequences that lost a byte
//      (U+FFFD encodes as 1A) into U+FFFD (replace_lossy_sequences); decode as UTF-8 (or
//      "utf-8-variants" when an ED or C0 byte is present). The first decoding that works
//      is the result.
//   3. Else, re-decode only the substrings that look like UTF-8 mojibake and are bad by
//      themselves (decode_inconsistent_utf8).
//   4. Else, text that is Latin-1 but not sloppy-windows-1252 is re-decoded as strict
//      windows-1252; text with C1 controls gets fix_c1_controls.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "badness.hpp"
#include "mojibake_tables.hpp"
#include "utf8.hpp"
#include "utf8_variants.hpp"

namespace errseg::text::ftfy {

// C1 controls U+0080..U+009F -> their Windows-1252 characters (undefined bytes stay).
inline std::u32string fix_c1_controls(const std::u32string& s) {
    std::u32string out(s);
    for (char32_t& c : out)
        if (c >= 0x80 && c <= 0x9F) c = tables::kC1ToCp1252[c - 0x80];
    return out;
}

namespace fix_encoding_detail {

// str.encode(codec), nullopt when some character has no byte (chardata.possible_encoding
// is false). ASCII except 1A maps to itself in every codec; the rest is the inverse of the
// decoding table of bytes 80..FF and 1A (in the sloppy codecs 1A stands for U+FFFD).
inline std::optional<std::string> encode_charmap(std::u32string_view text, const tables::CharmapCodec& codec) {
    std::string out;
    out.reserve(text.size());
    for (char32_t c : text) {
        if (c < 0x80 && c != 0x1A) {
            out.push_back(char(c));
            continue;
        }
        int byte = -1;
        if (codec.decode[0x1A] == c) byte = 0x1A;
        for (int b = 0x80; b < 0x100 && byte < 0; ++b)
            if (codec.decode[b] == c) byte = b;
        if (byte < 0) return std::nullopt;
        out.push_back(char(byte));
    }
    return out;
}

// The length of the first of `seqs` (byte class sequences) matching at i, 0 if none.
template <size_t N>
size_t byte_seq_match(const tables::ClassSeq (&seqs)[N], std::string_view b, size_t i) {
    for (const auto& seq : seqs) {
        if (i + seq.len > b.size()) continue;
        bool ok = true;
        for (size_t k = 0; k < seq.len && ok; ++k)
            ok = (tables::kByteClassMasks[uint8_t(b[i + k])] >> seq.cls[k]) & 1;
        if (ok) return seq.len;
    }
    return 0;
}

template <size_t N>
bool byte_seq_search(const tables::ClassSeq (&seqs)[N], std::string_view b) {
    for (size_t i = 0; i < b.size(); ++i)
        if (byte_seq_match(seqs, b, i)) return true;
    return false;
}

// re.sub over bytes for a pattern of fixed-length alternatives: replace(out, match) appends
// the replacement of each match.
template <size_t N, class Replace>
std::string sub_byte_seqs(const tables::ClassSeq (&seqs)[N], std::string_view b, Replace replace) {
    std::string out;
    out.reserve(b.size());
    for (size_t i = 0; i < b.size();) {
        const size_t len = byte_seq_match(seqs, b, i);
        if (len == 0) {
            out.push_back(b[i++]);
        } else {
            replace(out, b.substr(i, len));
            i += len;
        }
    }
    return out;
}

inline bool starts_with(std::string_view s, size_t i, std::string_view prefix) {
    return s.size() - i >= prefix.size() && s.substr(i, prefix.size()) == prefix;
}

// ftfy.fixes.restore_byte_a0: "Ã " not starting a kept word becomes "Ã\xa0 " (C3 A0 20);
// then the spaces inside sequences that would be UTF-8 with an A0 there become A0.
inline std::string restore_byte_a0(std::string_view b) {
    const std::string_view prefix = tables::kAGravePrefix;
    std::string s;
    s.reserve(b.size() + 8);
    for (size_t i = 0; i < b.size();) {
        if (starts_with(b, i, prefix)) {
            bool keep = false;
            for (const char* w : tables::kAGraveKeepWords) keep = keep || starts_with(b, i + prefix.size(), w);
            if (!keep) {
                s += "\xc3\xa0 ";
                i += prefix.size();
                continue;
            }
        }
        s.push_back(b[i++]);
    }
    return sub_byte_seqs(tables::kAlteredUtf8Seqs, s, [](std::string& out, std::string_view match) {
        for (char c : match) out.push_back(c == ' ' ? char(0xA0) : c);
    });
}

// ftfy.fixes.replace_lossy_sequences: each lossy sequence becomes the UTF-8 of U+FFFD.
inline std::string replace_lossy_sequences(std::string_view b) {
    return sub_byte_seqs(tables::kLossyUtf8Seqs, b, [](std::string& out, std::string_view) { out += "\xef\xbf\xbd"; });
}

inline std::optional<std::u32string> decode_utf8_strict(std::string_view b) {
    std::u32string out;
    if (!decode_utf8_into(b, out, true)) return std::nullopt;
    return out;
}

inline int codec_index(std::string_view name) {
    for (int i = 0; i < int(std::size(tables::kCharmapCodecs)); ++i)
        if (name == tables::kCharmapCodecs[i].name) return i;
    return -1;
}

inline bool is_ascii(std::u32string_view s) {
    for (char32_t c : s)
        if (c >= 0x80) return false;
    return true;
}

inline bool has_c1(std::u32string_view s) {
    for (char32_t c : s)
        if (c >= 0x80 && c <= 0x9F) return true;
    return false;
}

}  // namespace fix_encoding_detail

inline std::u32string fix_encoding(std::u32string text);

namespace fix_encoding_detail {

// ftfy.fixes.decode_inconsistent_utf8: fix each UTF-8-looking run that is bad on its own
// (and shorter than the whole text).
inline std::u32string decode_inconsistent_utf8(const std::u32string& text) {
    std::u32string out;
    size_t pos = 0;
    for (const auto& [b, e] : utf8_detector_matches(text)) {
        out.append(text, pos, b - pos);
        const std::u32string sub = text.substr(b, e - b);
        out += sub.size() < text.size() && is_bad(sub) ? fix_encoding(sub) : sub;
        pos = e;
    }
    out.append(text, pos, std::u32string::npos);
    return out;
}

// One step of ftfy's _fix_encoding_one_step_and_explain.
inline std::u32string fix_encoding_step(const std::u32string& text) {
    if (text.empty() || is_ascii(text) || !is_bad(text)) return text;
    static const int latin1 = codec_index("latin-1");
    static const int sloppy1252 = codec_index("sloppy-windows-1252");
    bool possible[std::size(tables::kCharmapCodecs)] = {};
    for (size_t k = 0; k < std::size(tables::kCharmapCodecs); ++k) {
        const auto& codec = tables::kCharmapCodecs[k];
        std::optional<std::string> bytes = encode_charmap(text, codec);
        if (!bytes) continue;
        possible[k] = true;
        if (codec.restore_byte_a0 && byte_seq_search(tables::kAlteredUtf8Seqs, *bytes))
            bytes = restore_byte_a0(*bytes);
        if (codec.sloppy) bytes = replace_lossy_sequences(*bytes);
        const bool variants = bytes->find('\xed') != std::string::npos || bytes->find('\xc0') != std::string::npos;
        std::optional<std::u32string> fixed = variants ? decode_utf8_variants(*bytes) : decode_utf8_strict(*bytes);
        if (fixed) return *fixed;
    }
    if (!utf8_detector_matches(text).empty()) {
        std::u32string fixed = decode_inconsistent_utf8(text);
        if (fixed != text) return fixed;
    }
    if (possible[latin1]) {
        if (possible[sloppy1252]) return text;
        // Latin-1 bytes read as strict windows-1252 (fails on its five undefined bytes).
        std::u32string fixed(text);
        bool ok = true;
        for (char32_t& c : fixed) {
            if (c >= 0x80 && c <= 0x9F) {
                c = tables::kCp1252StrictC1[c - 0x80];
                ok = ok && c != 0;
            }
        }
        if (ok && fixed != text) return fixed;
    }
    if (has_c1(text)) return fix_c1_controls(text);
    return text;
}

}  // namespace fix_encoding_detail

// ftfy.fix_encoding: fix_encoding_step until the text stops changing.
inline std::u32string fix_encoding(std::u32string text) {
    for (int iter = 0; iter < 1000; ++iter) {  // ftfy loops unbounded; this never binds
        std::u32string fixed = fix_encoding_detail::fix_encoding_step(text);
        if (fixed == text) break;
        text = std::move(fixed);
    }
    return text;
}

}  // namespace errseg::text::ftfy
