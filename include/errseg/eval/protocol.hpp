// The published ERR-Seg evaluation protocol (upstream eval.sh and its dataset registrations;
// spec §1 and docs/EVALUATION.md): for each built-in vocabulary the number of classes CRM keeps
// (K), and for each benchmark where its images and ground truth lie under a dataset root, its
// ignore label and how predictions are scored.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "../core/error.hpp"

namespace errseg::eval {

// K the authors evaluate a built-in vocabulary with (eval.sh's SAMPLE_CLASSES_NUM); 0 when they
// publish none (then the model's own K applies, capped at the vocabulary size). voc20b is not
// in eval.sh (ERR-Seg reports no PAS-20b number): upstream would keep its config's K there.
inline int64_t published_top_k(const std::string& vocabulary) {
    struct Entry {
        const char* name;
        int64_t k;
    };
    static const Entry table[] = {{"ade150", 32}, {"ade847", 48}, {"pc59", 24}, {"pc459", 48}, {"voc20", 16}};
    for (const Entry& e : table)
        if (vocabulary == e.name) return e.k;
    return 0;
}

// One benchmark of the paper's table as the authors evaluate it. Paths are relative to the
// dataset root, in upstream's detectron2 layout (DETECTRON2_DATASETS); the label files are the
// PNGs written by tools/prepare_datasets.py.
struct DatasetProtocol {
    std::string name;        // "ade150": also the built-in vocabulary it is scored with
    std::string title;       // "ADE20K-150 validation"
    std::string images_dir;  // relative to the root
    std::string labels_dir;  // relative to the root
    int ignore_label = 255;
    // VOC-20 with background (voc20b): predictions of class >= this index count as the single
    // class "background" (upstream's VOCbEvaluator); -1: scored as they are.
    int64_t merge_predictions_from = -1;

    int64_t top_k() const { return published_top_k(name); }
};

inline const std::vector<DatasetProtocol>& published_datasets() {
    static const std::vector<DatasetProtocol> datasets = {
        {"ade150", "ADE20K-150 (A-150) validation", "ADEChallengeData2016/images/validation",
         "ADEChallengeData2016/annotations_detectron2/validation", 255, -1},
        {"ade847", "ADE20K-847 (A-847) validation", "ADE20K_2021_17_01/images_detectron2/validation",
         "ADE20K_2021_17_01/annotations_detectron2/validation", 65535, -1},
        {"pc59", "Pascal Context-59 (PC-59) validation", "VOCdevkit/VOC2010/JPEGImages",
         "VOCdevkit/VOC2010/annotations_detectron2/pc59_val", 255, -1},
        {"pc459", "Pascal Context-459 (PC-459) validation", "VOCdevkit/VOC2010/JPEGImages",
         "VOCdevkit/VOC2010/annotations_detectron2/pc459_val", 459, -1},
        {"voc20", "Pascal VOC-20 (PAS-20) validation", "VOCdevkit/VOC2012/JPEGImages",
         "VOCdevkit/VOC2012/annotations_detectron2/val", 255, -1},
        {"voc20b", "Pascal VOC-20 with background (PAS-20b) validation", "VOCdevkit/VOC2012/JPEGImages",
         "VOCdevkit/VOC2012/annotations_detectron2_bg/val", 255, 20},
    };
    return datasets;
}

inline const DatasetProtocol& find_dataset(const std::string& name) {
    std::string known;
    for (const DatasetProtocol& d : published_datasets()) {
        if (d.name == name) return d;
        known += (known.empty() ? "" : ", ") + d.name;
    }
    fail("unknown dataset '", name, "' (known: ", known, ")");
}

}  // namespace errseg::eval
