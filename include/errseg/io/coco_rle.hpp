// COCO run-length encoding of label maps, as pycocotools' mask.encode writes it and detectron2's
// SemSegEvaluator stores it in sem_seg_predictions.json: for each class, the runs of its binary
// mask in column-major order (down the first column, then the next), alternating 0-runs and
// 1-runs and starting with a (possibly empty) 0-run; then the compressed string form of those
// counts (pycocotools' "counts" string, format described at rle_counts_string).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "../core/error.hpp"

namespace errseg {

// Run lengths of every class present in a row-major h x w label map, keyed by class index.
// One column-major pass: when the label changes from a to b at position k, a's 1-run and b's
// 0-run end at k.
inline std::map<int32_t, std::vector<uint32_t>> coco_rle_per_class(const int32_t* labels, int h, int w) {
    ERRSEG_CHECK(h > 0 && w > 0 && uint64_t(h) * uint64_t(w) < (uint64_t(1) << 32), "coco_rle_per_class: bad size ",
                 w, "x", h);
    std::map<int32_t, std::vector<uint32_t>> runs;
    std::map<int32_t, uint32_t> run_start;
    const auto end_run = [&](int32_t c, uint32_t k) {
        uint32_t& start = run_start[c];  // 0 for a class seen the first time: its leading 0-run
        runs[c].push_back(k - start);
        start = k;
    };
    int32_t prev = -1;
    uint32_t k = 0;
    for (int x = 0; x < w; ++x)
        for (int y = 0; y < h; ++y, ++k) {
            const int32_t v = labels[size_t(y) * size_t(w) + size_t(x)];
            if (v == prev) continue;
            if (prev >= 0) end_run(prev, k);
            end_run(v, k);
            prev = v;
        }
    for (auto& [c, r] : runs) end_run(c, k);  // each class's last run (1s for prev, else 0s)
    return runs;
}

// pycocotools' compressed form of run lengths: each count from the third on is replaced by its
// difference to the count two before; every value is then written as a little-endian sequence
// of 5-bit groups, each as the character 48 + group, with 0x20 set on all but the last group.
// The last group is the first whose remaining (arithmetically shifted) value is 0 for a group
// without its sign bit 0x10, or -1 for a group with it.
inline std::string rle_counts_string(const std::vector<uint32_t>& counts) {
    std::string s;
    for (size_t i = 0; i < counts.size(); ++i) {
        int64_t x = int64_t(counts[i]);
        if (i > 2) x -= int64_t(counts[i - 2]);
        bool more = true;
        while (more) {
            int c = int(x & 0x1f);
            x >>= 5;  // arithmetic shift: negative deltas end in -1
            more = (c & 0x10) ? x != -1 : x != 0;
            if (more) c |= 0x20;
            s += char(c + 48);
        }
    }
    return s;
}

}  // namespace errseg
