// CLIP's pre-tokenisation: a hand-written scanner equivalent to
//
//     regex.findall(r"<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|"
//                   r"[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+", text, flags=regex.IGNORECASE)
//
// At each position the alternatives are tried in order; where none matches (whitespace, and
// the rare characters IGNORECASE excludes from every class) one character is skipped.
// Literals match case-insensitively with the `regex` module's simple case folding
// (ASCII case, plus U+017F LONG S for 's').
#pragma once
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "unicode.hpp"

namespace errseg::text {

namespace detail {

// Does cp match the pattern literal `lit` (lower-case ASCII) under IGNORECASE?
inline bool literal_matches(char32_t cp, char lit) {
    if (cp == char32_t(lit)) return true;
    if (lit >= 'a' && lit <= 'z') {
        if (cp == char32_t(lit - 32)) return true;
        for (const auto& e : tables::kFoldEquivalents)
            if (e.cp == cp && e.letter == lit) return true;
    }
    return false;
}

// Length of `lit` if s[pos..] starts with it (case-insensitively), else 0.
inline size_t match_literal(const std::u32string& s, size_t pos, const char* lit) {
    size_t k = 0;
    for (; lit[k]; ++k)
        if (pos + k >= s.size() || !literal_matches(s[pos + k], lit[k])) return 0;
    return k;
}

}  // namespace detail

// Half-open [begin, end) spans of the pre-tokens of an already cleaned text.
inline std::vector<std::pair<size_t, size_t>> clip_pretokenize(const std::u32string& s) {
    static const char* const kSpecials[] = {"<start_of_text>", "<end_of_text>"};
    static const char* const kContractions[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
    std::vector<std::pair<size_t, size_t>> spans;
    const size_t n = s.size();
    size_t i = 0;
    while (i < n) {
        size_t len = 0;
        if (s[i] == U'<') {
            for (const char* sp : kSpecials)
                if ((len = detail::match_literal(s, i, sp)) != 0) break;
        } else if (s[i] == U'\'') {
            for (const char* c : kContractions)
                if ((len = detail::match_literal(s, i, c)) != 0) break;
        }
        if (len == 0) {
            const ScanClass cls = scan_class(s[i]);
            switch (cls) {
                case ScanClass::Letter:
                case ScanClass::Other:  // [\p{L}]+ and [^\s\p{L}\p{N}]+ are greedy runs
                    len = 1;
                    while (i + len < n && scan_class(s[i + len]) == cls) ++len;
                    break;
                case ScanClass::Number:  // [\p{N}] is a single character
                    len = 1;
                    break;
                case ScanClass::Skip:
                    ++i;
                    continue;
            }
        }
        spans.emplace_back(i, i + len);
        i += len;
    }
    return spans;
}

}  // namespace errseg::text
