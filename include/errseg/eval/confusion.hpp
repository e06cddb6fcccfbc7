// Semantic-segmentation metrics from a confusion matrix, with the standard ignore label
// (255): mIoU over classes that occur (in ground truth or prediction), pixel accuracy,
// per-class IoU and accuracy — the definitions of mmseg/detectron2's SemSegEvaluator.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "../core/error.hpp"

namespace errseg {

class ConfusionMatrix {
public:
    explicit ConfusionMatrix(int num_classes, int ignore_label = 255)
        : n_(num_classes), ignore_(ignore_label), counts_(size_t(num_classes) * size_t(num_classes), 0) {
        ERRSEG_CHECK(num_classes > 0, "confusion matrix needs at least one class");
    }

    // gt/pred hold class indices per pixel; gt == ignore is skipped, other out-of-range gt is an error.
    template <class G, class P>
    void add(const G* gt, const P* pred, size_t pixels) {
        for (size_t i = 0; i < pixels; ++i) {
            int64_t g = int64_t(gt[i]), p = int64_t(pred[i]);
            if (g == ignore_) continue;
            ERRSEG_CHECK(g >= 0 && g < n_, "ground-truth label ", g, " at pixel ", i, " is outside [0, ", n_,
                         ") and not the ignore label ", ignore_);
            ERRSEG_CHECK(p >= 0 && p < n_, "predicted label ", p, " at pixel ", i, " is outside [0, ", n_, ")");
            ++counts_[size_t(g) * size_t(n_) + size_t(p)];
        }
    }

    int num_classes() const { return n_; }
    uint64_t count(int gt, int pred) const { return counts_[size_t(gt) * size_t(n_) + size_t(pred)]; }

    // IoU per class; NaN where the class never occurs in ground truth or prediction.
    std::vector<double> iou() const {
        std::vector<double> out(static_cast<size_t>(n_));
        for (int c = 0; c < n_; ++c) {
            uint64_t tp = count(c, c), gt = 0, pr = 0;
            for (int k = 0; k < n_; ++k) {
                gt += count(c, k);
                pr += count(k, c);
            }
            uint64_t uni = gt + pr - tp;
            out[size_t(c)] = uni ? double(tp) / double(uni) : std::nan("");
        }
        return out;
    }
    // Mean over classes with a defined IoU.
    double mean_iou() const {
        double s = 0;
        int k = 0;
        for (double v : iou())
            if (!std::isnan(v)) { s += v; ++k; }
        return k ? s / k : std::nan("");
    }
    double pixel_accuracy() const {
        uint64_t tp = 0, all = 0;
        for (int c = 0; c < n_; ++c) tp += count(c, c);
        for (uint64_t v : counts_) all += v;
        return all ? double(tp) / double(all) : std::nan("");
    }

private:
    int n_, ignore_;
    std::vector<uint64_t> counts_;
};

}  // namespace errseg
