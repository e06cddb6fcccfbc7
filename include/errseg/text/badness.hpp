// ftfy's mojibake heuristic and UTF-8 detector over UTF-32 text.
//
// Both are regular expressions made only of single-character classes (generated into
// mojibake_tables.hpp from ftfy's own patterns), so matching one alternative is a comparison
// of a few class masks; no regex engine is needed.
#pragma once
#include <algorithm>
#include <cstdint>
#include <iterator>
#include <string_view>
#include <vector>

#include "mojibake_tables.hpp"

namespace errseg::text::ftfy {

// The classes (of kMojibakeClassRanges) one code point belongs to.
struct ClassMask {
    uint64_t w[2] = {0, 0};
    bool has(uint8_t id) const { return (w[id >> 6] >> (id & 63)) & 1; }
};

inline ClassMask class_mask(char32_t c) {
    const auto& r = tables::kMojibakeClassRanges;
    auto it = std::upper_bound(std::begin(r), std::end(r), c,
                               [](char32_t v, const tables::MaskRange& x) { return v < x.lo; });
    ClassMask m;
    if (it != std::begin(r) && c <= (it - 1)->hi) {
        m.w[0] = (it - 1)->mask[0];
        m.w[1] = (it - 1)->mask[1];
    }
    return m;
}

inline std::vector<ClassMask> class_masks(std::u32string_view text) {
    std::vector<ClassMask> masks(text.size());
    for (size_t i = 0; i < text.size(); ++i) masks[i] = class_mask(text[i]);
    return masks;
}

// Whether `seq` matches at position i of a text whose class masks are `masks`.
inline bool seq_matches(const tables::ClassSeq& seq, const std::vector<ClassMask>& masks, size_t i) {
    if (seq.anchored && i != 0) return false;
    if (i + seq.len > masks.size()) return false;
    for (size_t k = 0; k < seq.len; ++k)
        if (!masks[i + k].has(seq.cls[k])) return false;
    return true;
}

// ftfy.badness.is_bad: some unlikely juxtaposition of characters occurs.
inline bool is_bad(std::u32string_view text) {
    const std::vector<ClassMask> masks = class_masks(text);
    for (size_t i = 0; i < masks.size(); ++i)
        for (const auto& seq : tables::kBadnessSeqs)
            if (seq_matches(seq, masks, i)) return true;
    return false;
}

// UTF8_DETECTOR_RE at position i: the end of its match, or i when it does not match. The
// repeated group is greedy and nothing follows it, so the first alternative (in order) that
// matches is taken at every step, as Python's backtracking engine ends up doing.
inline size_t utf8_detector_match(const std::vector<ClassMask>& masks, size_t i) {
    if (i > 0 && masks[i - 1].has(tables::kUtf8DetectorNotAfter)) return i;
    size_t p = i;
    for (bool extended = true; extended;) {
        extended = false;
        for (const auto& seq : tables::kUtf8DetectorSeqs) {
            if (seq_matches(seq, masks, p)) {
                p += seq.len;
                extended = true;
                break;
            }
        }
    }
    return p;
}

// The non-overlapping matches [begin, end) of UTF8_DETECTOR_RE, left to right (re.finditer).
inline std::vector<std::pair<size_t, size_t>> utf8_detector_matches(std::u32string_view text) {
    const std::vector<ClassMask> masks = class_masks(text);
    std::vector<std::pair<size_t, size_t>> out;
    for (size_t i = 0; i < masks.size();) {
        const size_t end = utf8_detector_match(masks, i);
        if (end > i) {
            out.emplace_back(i, end);
            i = end;
        } else {
            ++i;
        }
    }
    return out;
}

}  // namespace errseg::text::ftfy
