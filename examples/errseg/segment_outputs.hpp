// The files `errseg segment` writes for one image (--format), encoded and published as one unit
// (io/output_set.hpp): `<name>.json`, the summary, is the record written last and lists the set.
//
//   labels   <name>_labels.png    class index per pixel, gray (8-bit for <= 255 classes, else 16-bit)
//   palette  <name>_palette.png   the same indices as a palette PNG (<= 256 classes): viewers show colours
//   overlay  <name>_overlay.png   the image blended with class colours, with a legend
//   logits   <name>_logits.npy    decoder logits, T x h x w float32
//   sem-seg  <name>_sem_seg.json  one COCO RLE per class present, detectron2 sem_seg_predictions.json schema
#pragma once
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "errseg/errseg.hpp"
#include "errseg/io/coco_rle.hpp"
#include "errseg/io/image.hpp"
#include "errseg/io/json.hpp"
#include "errseg/io/label_map.hpp"
#include "errseg/io/npy.hpp"
#include "errseg/io/output_set.hpp"
#include "errseg/render/overlay.hpp"
#include "errseg/render/palette.hpp"
#include "segment_inputs.hpp"

namespace errseg::cli {

struct OutputFormats {
    bool labels = false, palette = false, overlay = false, logits = false, sem_seg = false;
};

inline const std::string kRecordSuffix = ".json";

// Every file an image's set may hold besides its record: a re-run removes those it does not write.
inline const std::vector<std::string>& output_family() {
    static const std::vector<std::string> family = {"_labels.png", "_palette.png", "_overlay.png", "_logits.npy",
                                                    "_sem_seg.json"};
    return family;
}

// "labels,overlay" -> formats; every name must be known.
inline OutputFormats parse_formats(const std::string& list) {
    OutputFormats f;
    size_t pos = 0;
    while (pos <= list.size()) {
        const size_t comma = std::min(list.find(',', pos), list.size());
        const std::string name = list.substr(pos, comma - pos);
        if (name == "labels") f.labels = true;
        else if (name == "palette") f.palette = true;
        else if (name == "overlay") f.overlay = true;
        else if (name == "logits") f.logits = true;
        else if (name == "sem-seg") f.sem_seg = true;
        else fail("--format: unknown output '", name, "' (use labels, palette, overlay, logits, sem-seg, comma-separated)");
        pos = comma + 1;
    }
    return f;
}

// The suffixes these formats write (an existing set counts as complete for --skip-existing
// only when it holds all of them).
inline std::vector<std::string> output_suffixes(const OutputFormats& f) {
    std::vector<std::string> out;
    if (f.labels) out.push_back("_labels.png");
    if (f.palette) out.push_back("_palette.png");
    if (f.overlay) out.push_back("_overlay.png");
    if (f.logits) out.push_back("_logits.npy");
    if (f.sem_seg) out.push_back("_sem_seg.json");
    return out;
}

// Pixels per class of a label map, and the classes present, most pixels first (ties: lower index).
struct ClassCounts {
    std::vector<size_t> pixels;
    std::vector<int64_t> present;
    ClassCounts(const Tensor& labels, size_t num_classes) : pixels(num_classes, 0) {
        const int32_t* l = labels.data<int32_t>();
        for (int64_t i = 0; i < labels.numel(); ++i) ++pixels[size_t(l[i])];
        for (size_t c = 0; c < num_classes; ++c)
            if (pixels[c]) present.push_back(int64_t(c));
        std::stable_sort(present.begin(), present.end(),
                         [&](int64_t a, int64_t b) { return pixels[size_t(a)] > pixels[size_t(b)]; });
    }
};

// The record: image, size, classes present with pixel fractions, CRM's selection, timings,
// the CPU kernels' ISA path (OutputSet::publish adds the list of files).
inline json::Value summary_json(const std::string& image_path, const Image& img, const std::vector<std::string>& names,
                                const models::SegmentResult& r, const ClassCounts& counts, double total_ms) {
    const double n = double(r.labels.numel());
    json::Value j = json::Value::object();
    j.set("image", image_path);
    j.set("width", img.width);
    j.set("height", img.height);
    j.set("num_classes", int64_t(names.size()));
    json::Value present = json::Value::array();
    for (int64_t c : counts.present) {
        json::Value e = json::Value::object();
        e.set("index", c);
        e.set("name", names[size_t(c)]);
        e.set("pixel_fraction", double(counts.pixels[size_t(c)]) / n);
        present.push_back(e);
    }
    j.set("classes_present", present);
    json::Value sel = json::Value::array();
    for (int64_t c : r.selected) {
        json::Value e = json::Value::object();
        e.set("index", c);
        e.set("name", names[size_t(c)]);
        sel.push_back(e);
    }
    j.set("selected_classes", sel);
    json::Value t = json::Value::object();
    for (auto& [stage, ms] : r.timings_ms) t.set(stage, ms);
    t.set("total", total_ms);
    j.set("timings_ms", t);
    j.set("cpu_isa", cpu_isa_name(active_cpu_isa()));  // the CPU kernels' instruction-set path
    return j;
}

// detectron2's sem_seg_predictions.json entries for one image: for each class present, in
// ascending index, {"file_name", "category_id" (the class index), "segmentation": {"size":
// [h, w], "counts": pycocotools' compressed RLE string}}. Concatenating the arrays of all
// images gives the dataset's file.
inline std::string sem_seg_json(const std::string& image_path, const Tensor& labels) {
    const int h = int(labels.size(0)), w = int(labels.size(1));
    json::Value out = json::Value::array();
    for (const auto& [c, runs] : coco_rle_per_class(labels.data<int32_t>(), h, w)) {
        json::Value seg = json::Value::object();
        json::Value size = json::Value::array();
        size.push_back(h);
        size.push_back(w);
        seg.set("size", size);
        seg.set("counts", rle_counts_string(runs));
        json::Value e = json::Value::object();
        e.set("file_name", image_path);
        e.set("category_id", int64_t(c));
        e.set("segmentation", seg);
        out.push_back(e);
    }
    return out.dump() + "\n";
}

// Encodes and publishes one image's outputs as a unit; returns the record written. `run_fields`
// (a JSON object: the vocabulary's name, the K source, ...) is added to the record.
inline json::Value write_image_outputs(const std::string& out_dir, const OutputFormats& formats,
                                       const std::vector<std::string>& names, const std::string& image_path,
                                       const Image& image, const models::SegmentResult& result,
                                       const json::Value& run_fields = json::Value::object()) {
    double ms = 0;
    for (const auto& [stage, t] : result.timings_ms)
        if (stage == "total") ms = t;
    const int h = int(result.labels.size(0)), w = int(result.labels.size(1));
    const int32_t* labels = result.labels.data<int32_t>();
    const ClassCounts counts(result.labels, names.size());
    OutputSet set(out_dir, output_name(image_path));
    if (formats.labels) set.stage("_labels.png", encode_label_png(labels, w, h, names.size()));
    if (formats.palette) {
        std::vector<std::array<uint8_t, 3>> colours;
        for (size_t c = 0; c < names.size(); ++c) colours.push_back(class_color(int64_t(c)));
        set.stage("_palette.png", encode_palette_label_png(labels, w, h, colours));
    }
    if (formats.overlay) {
        const Image overlay = render_overlay(image, labels, names, counts.present);
        set.stage("_overlay.png", encode_png(overlay.width, overlay.height, 3, overlay.rgb.data()));
    }
    if (formats.logits) set.stage_with("_logits.npy", [&](AtomicFileWriter& f) { write_npy(f, result.logits); });
    if (formats.sem_seg) set.stage("_sem_seg.json", sem_seg_json(image_path, result.labels));
    json::Value record = summary_json(image_path, image, names, result, counts, ms);
    for (const auto& [key, value] : run_fields.items()) record.set(key, value);
    return set.publish(std::move(record), output_family(), kRecordSuffix);
}

}  // namespace errseg::cli
