// errseg eval: mIoU, pixel accuracy and per-class IoU over a dataset of images and label PNGs
// (ignore label 255), either running the model or scoring saved prediction PNGs.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <unistd.h>

#include "cli_args.hpp"
#include "model_options.hpp"
#include "commands.hpp"
#include "errseg/errseg.hpp"
#include "errseg/eval/confusion.hpp"
#include "errseg/io/atomic_file.hpp"
#include "errseg/io/image.hpp"
#include "errseg/io/json.hpp"
#include "errseg/io/label_map.hpp"
#include "errseg/vocabulary.hpp"

namespace fs = std::filesystem;

namespace errseg::cli {

namespace {

// Single-channel 8- or 16-bit label PNG (or any image: its first channel) as int32 H*W.
std::vector<int32_t> load_label_map(const std::string& path, int& w, int& h) {
    LabelMap m = load_label_png(path);
    w = m.width;
    h = m.height;
    return std::move(m.labels);
}

std::map<std::string, std::string> index_by_stem(const std::string& dir, const std::vector<std::string>& exts) {
    ERRSEG_CHECK(fs::is_directory(dir), "'", dir, "' is not a directory");
    std::map<std::string, std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) {
        if (!e.is_regular_file()) continue;
        std::string ext = e.path().extension().string();
        std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
        if (std::find(exts.begin(), exts.end(), ext) != exts.end()) out[e.path().stem().string()] = e.path().string();
    }
    return out;
}

}  // namespace

int cmd_eval(int argc, char** argv) {
    Args args("eval", "Semantic-segmentation metrics over a dataset: each image in --images is matched by file\n"
              "stem with a ground-truth label PNG in --labels (class index per pixel, 255 = ignore).\n"
              "With --predictions DIR, saved label PNGs (e.g. from 'errseg segment', <stem>_labels.png or\n"
              "<stem>.png) are scored instead of running a model.",
              "--classes VOCAB --labels DIR (--model M --images DIR | --predictions DIR) [options]");
    args.option("model", "converted ERR-Seg model file")
        .option("classes", "vocabulary (defines the class indices of the label PNGs)")
        .option("images", "directory of input images")
        .option("labels", "directory of ground-truth label PNGs")
        .option("predictions", "directory of predicted label PNGs (skip running the model)")
        .option("ignore-label", "ground-truth value to ignore", "255")
        .option("top-k", "classes CRM keeps per image (default: the model's K)")
        .option("json", "also write the metrics as JSON to this file")
        .flag("upstream-resize", "the published protocol's data-loader resize first (short side 800, long side <= 1333, PIL bilinear); use it to compare with the paper")
        .flag("ignore-exif", "do not turn images upright by their EXIF orientation (detectron2 does)")
        .flag("per-class", "print IoU for every class")
        .flag("quiet", "no progress bar");
    add_model_options(args);
    if (!args.parse(argc, argv)) return 0;
    const ModelParams params = model_params(args, args.get_or("model", ""));
    std::vector<std::string> names = resolve_vocabulary(args.get("classes"), builtin_vocabulary);
    const int ignore = int(args.get_int("ignore-label", -1, 65535));
    auto gts = index_by_stem(args.get("labels"), {".png"});
    ERRSEG_CHECK(!gts.empty(), "no label PNGs in '", args.get("labels"), "'");

    ConfusionMatrix cm(int(names.size()), ignore);
    size_t evaluated = 0;
    if (args.has("predictions")) {
        auto preds = index_by_stem(args.get("predictions"), {".png"});
        Progress progress(gts.size(), !args.flag_set("quiet") && isatty(2));
        for (auto& [stem, gt_path] : gts) {
            auto it = preds.find(stem + "_labels");
            if (it == preds.end()) it = preds.find(stem);
            ERRSEG_CHECK(it != preds.end(), "no prediction for '", stem, "' in '", args.get("predictions"), "'");
            int gw, gh, pw, ph;
            auto gt = load_label_map(gt_path, gw, gh);
            auto pr = load_label_map(it->second, pw, ph);
            ERRSEG_CHECK(gw == pw && gh == ph, "prediction for '", stem, "' is ", pw, "x", ph, ", ground truth is ", gw, "x", gh);
            cm.add(gt.data(), pr.data(), gt.size());
            ++evaluated;
            progress.step(stem);
        }
    } else {
        auto images = index_by_stem(args.get("images"), {".png", ".jpg", ".jpeg", ".bmp", ".tga", ".ppm", ".pgm"});
        const Segmenter model(ModelParams{args.get("model"), params.device, params.precision, params.threads});
        Tensor emb = model.encode_classes(names);
        models::SegmentOptions opt;
        opt.top_k = args.has("top-k") ? int(args.get_int("top-k", 1, 1000000)) : -1;
        opt.upstream_resize = args.flag_set("upstream-resize");
        const ExifOrientation exif = args.flag_set("ignore-exif") ? ExifOrientation::Ignore : ExifOrientation::Apply;
        Progress progress(gts.size(), !args.flag_set("quiet") && isatty(2));
        for (auto& [stem, gt_path] : gts) {
            auto it = images.find(stem);
            ERRSEG_CHECK(it != images.end(), "no image for label '", stem, "' in '", args.get("images"), "'");
            int gw, gh;
            auto gt = load_label_map(gt_path, gw, gh);
            Image img = load_image(it->second, kMaxImagePixels, exif);
            ERRSEG_CHECK(img.width == gw && img.height == gh, "label '", stem, "' is ", gw, "x", gh, ", image is ", img.width, "x", img.height);
            auto r = model.segment(img, emb, opt);
            cm.add(gt.data(), r.labels.data<int32_t>(), gt.size());
            ++evaluated;
            progress.step(stem);
        }
    }

    auto iou = cm.iou();
    std::printf("images: %zu\nmIoU: %.2f\npixel accuracy: %.2f\n", evaluated, 100 * cm.mean_iou(), 100 * cm.pixel_accuracy());
    json::Value per = json::Value::object();
    for (size_t c = 0; c < names.size(); ++c) {
        if (std::isnan(iou[c])) continue;
        per.set(names[c], iou[c] * 100);
        if (args.flag_set("per-class")) std::printf("  %-30s %6.2f\n", names[c].c_str(), 100 * iou[c]);
    }
    if (args.has("json")) {
        json::Value j = json::Value::object();
        j.set("images", int64_t(evaluated));
        j.set("mIoU", cm.mean_iou() * 100);
        j.set("pixel_accuracy", cm.pixel_accuracy() * 100);
        j.set("per_class_iou", per);
        std::string s = j.dump(2) + "\n";
        write_file_atomic(args.get("json"), s.data(), s.size());
    }
    return 0;
}

}  // namespace errseg::cli
