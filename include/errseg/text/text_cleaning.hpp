// Text cleaning exactly as open_clip's default SimpleTokenizer does it (clean="lower"):
//
//     text = ftfy.fix_text(text)
//     text = html.unescape(html.unescape(text)).strip()
//     text = regex.sub(r"\s+", " ", text).strip()
//     text = text.lower()
//
// Everything runs over UTF-32 (one element per Python str character).
//
// ftfy.fix_text is reproduced with its default settings, in ftfy's order and per line segment,
// repeated until the text stops changing:
//   unescape_html ("auto": off from the first line containing '<' onwards), fix_encoding
//   (the mojibake repair, fix_encoding.hpp), fix_c1_controls, fix_latin_ligatures,
//   fix_character_width, uncurl_quotes, fix_line_breaks, remove_terminal_escapes,
//   remove_control_chars, NFC normalisation.
// (fix_surrogates has nothing to do: decoded UTF-8 never contains surrogates.)
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <string>
#include <string_view>

#include "cleaning_tables.hpp"
#include "fix_encoding.hpp"
#include "unicode.hpp"
#include "utf8.hpp"

namespace errseg::text {

namespace detail {

inline bool is_ascii_digit(char32_t c) { return c >= '0' && c <= '9'; }
inline bool is_ascii_hex(char32_t c) {
    return is_ascii_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
inline bool is_ascii_alnum(char32_t c) {
    return is_ascii_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

// The name as ASCII, or false when it contains anything else (entity names are ASCII).
inline bool to_ascii(std::u32string_view s, std::string& out) {
    out.clear();
    for (char32_t c : s) {
        if (c >= 0x80) return false;
        out.push_back(char(c));
    }
    return true;
}

// Binary search of a name-sorted entity table; nullptr when absent.
template <class E, size_t N>
const E* find_entity(const E (&table)[N], std::u32string_view name) {
    std::string key;
    if (!to_ascii(name, key)) return nullptr;
    auto it = std::lower_bound(std::begin(table), std::end(table), key,
                               [](const E& e, const std::string& k) { return std::strcmp(e.name, k.c_str()) < 0; });
    if (it != std::end(table) && key == it->name) return &*it;
    return nullptr;
}

template <size_t N>
void append_padded(std::u32string& out, const char32_t (&cps)[N]) {
    for (char32_t c : cps)
        if (c) out.push_back(c);
}

// The replacement of a numeric character reference &#...; (html._replace_charref).
// `big` means the number exceeded the Unicode range (Python ints never overflow).
inline void append_numeric_charref(std::u32string& out, uint64_t num, bool big) {
    if (!big) {
        for (const auto& f : tables::kInvalidCharrefs) {
            if (f.num == num) {
                out.push_back(f.cp);
                return;
            }
        }
    }
    if (big || num > 0x10FFFF || (num >= 0xD800 && num <= 0xDFFF)) {
        out.push_back(kReplacementChar);
        return;
    }
    if (std::binary_search(std::begin(tables::kInvalidCodepoints), std::end(tables::kInvalidCodepoints),
                           uint32_t(num)))
        return;  // dropped
    out.push_back(char32_t(num));
}

// Accumulates digits of the given base with saturation at "bigger than U+10FFFF".
struct BigNumber {
    uint64_t value = 0;
    bool big = false;
    void push(uint32_t base, uint32_t digit) {
        if (big) return;
        value = value * base + digit;
        if (value > 0x10FFFF) big = true;
    }
};

inline uint32_t hex_value(char32_t c) {
    if (c <= '9') return c - '0';
    return (c | 0x20) - 'a' + 10;
}

}  // namespace detail

// Python's html.unescape (Python 3.11 rules, HTML5 entity list): numeric references
// "&#65;" / "&#x41;" (';' optional; invalid numbers handled as the HTML5 spec says), named
// references with or without ';', and the longest-prefix rule for legacy names ("&ampx" ->
// "&x").
inline std::u32string html_unescape(const std::u32string& s) {
    if (s.find(U'&') == std::u32string::npos) return s;
    std::u32string out;
    out.reserve(s.size());
    const size_t n = s.size();
    size_t i = 0;
    while (i < n) {
        if (s[i] != U'&') {
            out.push_back(s[i++]);
            continue;
        }
        const size_t j = i + 1;
        if (j < n && s[j] == U'#') {
            // #[0-9]+;?  |  #[xX][0-9a-fA-F]+;?
            size_t k = j + 1;
            detail::BigNumber num;
            bool matched = false;
            while (k < n && detail::is_ascii_digit(s[k])) num.push(10, s[k++] - '0');
            if (k > j + 1) {
                matched = true;
            } else if (k < n && (s[k] == U'x' || s[k] == U'X')) {
                size_t h = k + 1;
                while (h < n && detail::is_ascii_hex(s[h])) num.push(16, detail::hex_value(s[h++]));
                if (h > k + 1) {
                    matched = true;
                    k = h;
                }
            }
            if (!matched) {  // the named alternative cannot start with '#': no match here
                out.push_back(U'&');
                ++i;
                continue;
            }
            if (k < n && s[k] == U';') ++k;
            detail::append_numeric_charref(out, num.value, num.big);
            i = k;
            continue;
        }
        // [^\t\n\f <&#;]{1,32};?
        size_t k = j;
        auto excluded = [](char32_t c) {
            return c == U'\t' || c == U'\n' || c == U'\f' || c == U' ' || c == U'<' || c == U'&' ||
                   c == U'#' || c == U';';
        };
        while (k < n && k - j < 32 && !excluded(s[k])) ++k;
        if (k == j) {
            out.push_back(U'&');
            ++i;
            continue;
        }
        if (k < n && s[k] == U';') ++k;
        const std::u32string_view group(s.data() + j, k - j);
        if (const auto* e = detail::find_entity(tables::kHtml5Entities, group)) {
            detail::append_padded(out, e->value);
        } else {
            bool found = false;
            for (size_t x = group.size() - 1; x >= 2 && x < group.size(); --x) {
                if (const auto* p = detail::find_entity(tables::kHtml5Entities, group.substr(0, x))) {
                    detail::append_padded(out, p->value);
                    out.append(group.substr(x));
                    found = true;
                    break;
                }
            }
            if (!found) {
                out.push_back(U'&');
                out.append(group);
            }
        }
        i = k;
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// ftfy fixers (ftfy 6.x, default TextFixerConfig)
// ---------------------------------------------------------------------------------------------
namespace ftfy {

// ftfy.fixes.unescape_html: only complete references "&name;" / "&#...;" of 1..24 ASCII
// alphanumerics are decoded: HTML5 names ending in ';', all-caps spellings of lower-case
// names, and numeric references that html.unescape decodes completely.
inline std::u32string unescape_html(const std::u32string& s) {
    if (s.find(U'&') == std::u32string::npos) return s;
    std::u32string out;
    out.reserve(s.size());
    const size_t n = s.size();
    size_t i = 0;
    while (i < n) {
        if (s[i] != U'&') {
            out.push_back(s[i++]);
            continue;
        }
        // &#?[0-9A-Za-z]{1,24};
        size_t k = i + 1;
        if (k < n && s[k] == U'#') ++k;
        size_t r = k;
        while (r < n && r - k < 25 && detail::is_ascii_alnum(s[r])) ++r;
        const size_t run = r - k;
        if (run < 1 || run > 24 || r >= n || s[r] != U';') {
            out.push_back(U'&');
            ++i;
            continue;
        }
        const size_t end = r + 1;
        const std::u32string match = s.substr(i, end - i);
        const std::u32string_view name(match.data() + 1, match.size() - 1);  // without '&'
        if (const auto* e = detail::find_entity(tables::kHtml5Entities, name)) {
            detail::append_padded(out, e->value);  // name ends in ';' here
        } else if (const auto* u = detail::find_entity(tables::kFtfyUpperEntities, name)) {
            detail::append_padded(out, u->value);
        } else if (match[1] == U'#') {
            // Keep the reference unless html.unescape consumed it entirely.
            const std::u32string un = html_unescape(match);
            out.append(un.find(U';') != std::u32string::npos ? match : un);
        } else {
            out.append(match);
        }
        i = end;
    }
    return out;
}

// str.translate with a {code point -> up to 3 code points} table.
template <size_t N>
std::u32string translate(const std::u32string& s, const tables::CharMap (&map)[N]) {
    std::u32string out;
    out.reserve(s.size());
    for (char32_t c : s) {
        auto it = std::lower_bound(std::begin(map), std::end(map), c,
                                   [](const tables::CharMap& m, char32_t v) { return m.cp < v; });
        if (it != std::end(map) && it->cp == c) {
            detail::append_padded(out, it->out);
        } else {
            out.push_back(c);
        }
    }
    return out;
}

inline std::u32string fix_latin_ligatures(const std::u32string& s) { return translate(s, tables::kLigatures); }
inline std::u32string fix_character_width(const std::u32string& s) { return translate(s, tables::kWidthMap); }

// U+02BC, U+2018..U+201B -> '\'';  U+201C..U+201F -> '"'.
inline std::u32string uncurl_quotes(const std::u32string& s) {
    std::u32string out(s);
    for (char32_t& c : out) {
        if (c == 0x02BC || (c >= 0x2018 && c <= 0x201B)) c = U'\'';
        else if (c >= 0x201C && c <= 0x201F) c = U'"';
    }
    return out;
}

// CRLF, CR, U+2028, U+2029, U+0085 -> LF.
inline std::u32string fix_line_breaks(const std::u32string& s) {
    std::u32string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        const char32_t c = s[i];
        if (c == U'\r') {
            if (i + 1 < s.size() && s[i + 1] == U'\n') ++i;
            out.push_back(U'\n');
        } else if (c == 0x2028 || c == 0x2029 || c == 0x85) {
            out.push_back(U'\n');
        } else {
            out.push_back(c);
        }
    }
    return out;
}

// ANSI escapes: ESC '[' (\d|;)* [a-zA-Z]  (\d = any Unicode decimal digit, as in Python re).
inline std::u32string remove_terminal_escapes(const std::u32string& s) {
    if (s.find(char32_t(0x1B)) == std::u32string::npos) return s;
    std::u32string out;
    out.reserve(s.size());
    const size_t n = s.size();
    for (size_t i = 0; i < n;) {
        if (s[i] == 0x1B && i + 1 < n && s[i + 1] == U'[') {
            size_t k = i + 2;
            while (k < n && (s[k] == U';' || is_decimal(s[k]))) ++k;
            if (k < n && s[k] < 0x80 && ((s[k] | 0x20) >= 'a' && (s[k] | 0x20) <= 'z')) {
                i = k + 1;
                continue;
            }
        }
        out.push_back(s[i++]);
    }
    return out;
}

// Drops U+0000..U+0008, U+000B, U+000E..U+001F, U+007F, U+206A..U+206F, U+FEFF,
// U+FFF9..U+FFFC.
inline bool is_removed_control(char32_t c) {
    return c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F ||
           (c >= 0x206A && c <= 0x206F) || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
}
inline std::u32string remove_control_chars(const std::u32string& s) {
    std::u32string out;
    out.reserve(s.size());
    for (char32_t c : s)
        if (!is_removed_control(c)) out.push_back(c);
    return out;
}

// ftfy.fix_and_explain on one segment: the fixers in order until nothing changes.
inline std::u32string fix_segment(std::u32string text, bool unescape) {
    for (int iter = 0; iter < 1000; ++iter) {  // ftfy loops unbounded; this never binds
        const std::u32string orig = text;
        if (unescape) text = unescape_html(text);
        text = fix_encoding(std::move(text));
        text = fix_c1_controls(text);
        text = fix_latin_ligatures(text);
        text = fix_character_width(text);
        text = uncurl_quotes(text);
        text = fix_line_breaks(text);
        text = remove_terminal_escapes(text);
        text = remove_control_chars(text);
        text = nfc(text);
        if (text == orig) break;
    }
    return text;
}

// ftfy.fix_text with default settings: fixes each line (segment ending
// after '\n', at most 1,000,000 characters) separately. HTML unescaping ("auto") turns off for
// the first segment containing '<' and every later one, as ftfy's loop does.
inline std::u32string fix_text(const std::u32string& s) {
    constexpr size_t kMaxDecodeLength = 1000000;
    std::u32string out;
    out.reserve(s.size());
    bool unescape = true;
    size_t pos = 0;
    while (pos < s.size()) {
        size_t brk = s.find(U'\n', pos);
        brk = brk == std::u32string::npos ? s.size() : brk + 1;
        if (brk - pos > kMaxDecodeLength) brk = pos + kMaxDecodeLength;
        std::u32string segment = s.substr(pos, brk - pos);
        if (unescape && segment.find(U'<') != std::u32string::npos) unescape = false;
        out += fix_segment(std::move(segment), unescape);
        pos = brk;
    }
    return out;
}

}  // namespace ftfy

// str.strip(): removes leading/trailing str.isspace() characters.
inline std::u32string python_strip(const std::u32string& s) {
    size_t b = 0, e = s.size();
    while (b < e && is_python_space(s[b])) ++b;
    while (e > b && is_python_space(s[e - 1])) --e;
    return s.substr(b, e - b);
}

// regex.sub(r"\s+", " ", s) with the `regex` module's \s.
inline std::u32string collapse_whitespace(const std::u32string& s) {
    std::u32string out;
    out.reserve(s.size());
    bool in_space = false;
    for (char32_t c : s) {
        if (is_regex_space(c)) {
            if (!in_space) out.push_back(U' ');
            in_space = true;
        } else {
            out.push_back(c);
            in_space = false;
        }
    }
    return out;
}

// open_clip's _clean_lower: whitespace_clean(basic_clean(text)).lower().
inline std::u32string clip_clean_lower(const std::u32string& text) {
    std::u32string t = ftfy::fix_text(text);
    t = python_strip(html_unescape(html_unescape(t)));
    t = python_strip(collapse_whitespace(t));
    return python_lower(t);
}

}  // namespace errseg::text
