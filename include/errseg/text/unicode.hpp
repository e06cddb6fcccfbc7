// The pieces of Python's string semantics that CLIP's tokenizer relies on, over UTF-32:
// character classes of the pre-tokenisation regex, str.isspace, str.lower() (including the
// Final_Sigma rule) and unicodedata.normalize("NFC"). Table data lives in the generated
// unicode_tables.hpp (tests/reference/gen_unicode_tables.py), so behaviour follows the Python /
// `regex` versions that generated it (see that header's first lines).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <utility>

#include "unicode_tables.hpp"

namespace errseg::text {

namespace detail {

// True when cp lies in one of the sorted, disjoint inclusive ranges.
template <class R, size_t N>
bool in_ranges(const R (&table)[N], char32_t cp) {
    auto it = std::upper_bound(std::begin(table), std::end(table), cp,
                               [](char32_t c, const R& r) { return c < r.lo; });
    return it != std::begin(table) && cp <= std::prev(it)->hi;
}

// The value of the range containing cp, or 0.
template <size_t N>
uint8_t range_value(const tables::ClassRange (&table)[N], char32_t cp) {
    auto it = std::upper_bound(std::begin(table), std::end(table), cp,
                               [](char32_t c, const tables::ClassRange& r) { return c < r.lo; });
    if (it == std::begin(table)) return 0;
    --it;
    return cp <= it->hi ? it->value : 0;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Character classes
// ---------------------------------------------------------------------------------------------

// How CLIP's pre-tokenisation pattern (regex module, IGNORECASE) sees a character.
enum class ScanClass : uint8_t {
    Other = 0,   // [^\s\p{L}\p{N}]  (punctuation, symbols, marks, emoji, ...)
    Letter = 1,  // [\p{L}]
    Number = 2,  // [\p{N}]
    Skip = 3,    // matched by no alternative: \s, and e.g. U+0345 under IGNORECASE
};

inline ScanClass scan_class(char32_t cp) {
    if (cp < 0x80) {  // ASCII fast path (same answers as the table)
        if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return ScanClass::Letter;
        if (cp >= '0' && cp <= '9') return ScanClass::Number;
        if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return ScanClass::Skip;
        return ScanClass::Other;
    }
    return ScanClass(detail::range_value(tables::kScanClass, cp));
}

// str.isspace(): what Python's str.strip() / str.split() remove.
inline bool is_python_space(char32_t cp) {
    if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
    return detail::in_ranges(tables::kPySpace, cp);
}

// \s of the `regex` module (used by open_clip's whitespace_clean).
inline bool is_regex_space(char32_t cp) {
    if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
    return detail::in_ranges(tables::kRegexSpace, cp);
}

// \d of Python's stdlib `re` (Unicode decimal digits, category Nd).
inline bool is_decimal(char32_t cp) {
    if (cp < 0x80) return cp >= '0' && cp <= '9';
    return detail::in_ranges(tables::kDecimal, cp);
}

// ---------------------------------------------------------------------------------------------
// str.lower()
// ---------------------------------------------------------------------------------------------

// Simple (one code point) lower-case mapping as used by str.lower(); U+0130 and U+03A3 are
// handled by python_lower().
inline char32_t lower_simple(char32_t cp) {
    if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    const auto& runs = tables::kLowerRuns;
    auto it = std::upper_bound(std::begin(runs), std::end(runs), cp,
                               [](char32_t c, const tables::CaseRun& r) { return c < r.lo; });
    if (it == std::begin(runs)) return cp;
    --it;
    if (cp > it->hi || (cp - it->lo) % it->stride != 0) return cp;
    return char32_t(int64_t(cp) + it->delta);
}

namespace detail {
inline bool case_ignorable(char32_t cp) { return in_ranges(tables::kCaseIgnorable, cp); }
inline bool cased_not_ignorable(char32_t cp) { return in_ranges(tables::kCasedNotIgnorable, cp); }

// CPython's handle_capital_sigma: U+03A3 at position i becomes final sigma (U+03C2) when a cased
// letter precedes it and none follows it, ignoring case-ignorable characters on both sides.
// The context is read from the *original* string, as CPython does.
inline bool is_final_sigma(const std::u32string& s, size_t i) {
    size_t j = i;
    bool cased_before = false;
    while (j > 0) {
        --j;
        if (!case_ignorable(s[j])) {
            cased_before = cased_not_ignorable(s[j]);
            break;
        }
    }
    if (!cased_before) return false;
    for (size_t k = i + 1; k < s.size(); ++k)
        if (!case_ignorable(s[k])) return !cased_not_ignorable(s[k]);
    return true;
}
}  // namespace detail

// Python's str.lower(): full lower-case mapping (U+0130 -> "i\u0307") and the Final_Sigma
// context rule for U+03A3; no locale-specific (Turkish/Lithuanian) rules, as in CPython.
inline std::u32string python_lower(const std::u32string& s) {
    std::u32string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        const char32_t cp = s[i];
        if (cp < 0x80) {
            out.push_back((cp >= 'A' && cp <= 'Z') ? cp + 32 : cp);
        } else if (cp == 0x03A3) {
            out.push_back(detail::is_final_sigma(s, i) ? 0x03C2 : 0x03C3);
        } else {
            bool multi = false;
            for (const auto& m : tables::kLowerMulti) {
                if (m.cp == cp) {
                    for (char32_t c : m.out)
                        if (c) out.push_back(c);
                    multi = true;
                    break;
                }
            }
            if (!multi) out.push_back(lower_simple(cp));
        }
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// NFC (unicodedata.normalize("NFC", s))
// ---------------------------------------------------------------------------------------------

inline uint8_t combining_class(char32_t cp) {
    if (cp < 0x300) return 0;
    return detail::range_value(tables::kCombiningClass, cp);
}

namespace detail {
// Hangul syllables compose/decompose algorithmically (Unicode §3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr int kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount,
              kSCount = kLCount * kNCount;

inline void append_canonical_decomposition(std::u32string& out, char32_t cp) {
    if (cp >= kSBase && cp < kSBase + kSCount) {
        const char32_t s = cp - kSBase;
        out.push_back(kLBase + s / kNCount);
        out.push_back(kVBase + (s % kNCount) / kTCount);
        if (s % kTCount) out.push_back(kTBase + s % kTCount);
        return;
    }
    const auto& d = tables::kDecompositions;
    auto it = std::lower_bound(std::begin(d), std::end(d), cp,
                               [](const tables::Decomposition& e, char32_t c) { return e.cp < c; });
    if (it != std::end(d) && it->cp == cp) {
        out.append(tables::kDecompData + it->offset, it->len);
    } else {
        out.push_back(cp);
    }
}

// The primary composite of (first, second), or 0 when there is none.
inline char32_t compose_pair(char32_t first, char32_t second) {
    if (first >= kLBase && first < kLBase + kLCount && second >= kVBase && second < kVBase + kVCount)
        return kSBase + ((first - kLBase) * kVCount + (second - kVBase)) * kTCount;
    if (first >= kSBase && first < kSBase + kSCount && (first - kSBase) % kTCount == 0 &&
        second > kTBase && second < kTBase + kTCount)
        return first + (second - kTBase);
    const auto& c = tables::kCompositions;
    auto it = std::lower_bound(std::begin(c), std::end(c), std::make_pair(first, second),
                               [](const tables::Composition& e, std::pair<char32_t, char32_t> k) {
                                   return e.first != k.first ? e.first < k.first : e.second < k.second;
                               });
    if (it != std::end(c) && it->first == first && it->second == second) return it->composite;
    return 0;
}
}  // namespace detail

inline std::u32string nfc(const std::u32string& s) {
    // Below U+0300 nothing decomposes into something NFC keeps apart, and nothing combines.
    if (std::all_of(s.begin(), s.end(), [](char32_t c) { return c < 0x300; })) return s;

    // 1. full canonical decomposition
    std::u32string d;
    d.reserve(s.size() + 8);
    for (char32_t cp : s) detail::append_canonical_decomposition(d, cp);

    // 2. canonical ordering: stable sort of each run of non-starters by combining class
    for (size_t i = 0; i < d.size();) {
        if (combining_class(d[i]) == 0) {
            ++i;
            continue;
        }
        size_t j = i;
        while (j < d.size() && combining_class(d[j]) != 0) ++j;
        std::stable_sort(d.begin() + std::ptrdiff_t(i), d.begin() + std::ptrdiff_t(j), [](char32_t a, char32_t b) {
            return combining_class(a) < combining_class(b);
        });
        i = j;
    }

    // 3. canonical composition: combine each character with the last starter unless a
    //    character in between blocks it (has class 0 or a class >= its own).
    std::u32string out;
    out.reserve(d.size());
    size_t starter = std::u32string::npos;  // index in `out` of the last starter
    int last_cc = -1;                       // class of the last char after it (-1: none)
    for (char32_t cp : d) {
        const int cc = combining_class(cp);
        if (starter != std::u32string::npos && (last_cc == -1 || (last_cc != 0 && last_cc < cc))) {
            if (char32_t comp = detail::compose_pair(out[starter], cp)) {
                out[starter] = comp;
                continue;
            }
        }
        if (cc == 0) {
            starter = out.size();
            last_cc = -1;
        } else {
            last_cc = cc;
        }
        out.push_back(cp);
    }
    return out;
}

}  // namespace errseg::text
