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
#include "errseg/eval/protocol.hpp"
#include "errseg/io/atomic_file.hpp"
#include "errseg/io/image.hpp"
#include "errseg/io/json.hpp"
#include "errseg/io/label_map.hpp"
#include "errseg/named_vocabulary.hpp"
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

// Adds one image's pixels; a label out of range fails naming both files (which one holds it is
// in the message) and the vocabulary size the labels are checked against.
void add_image(ConfusionMatrix& cm, const std::vector<int32_t>& gt, const int32_t* pred, const std::string& gt_path,
               const std::string& pred_what) {
    try {
        cm.add(gt.data(), pred, gt.size());
    } catch (const Error& e) {
        fail("ground truth '", gt_path, "', ", pred_what, ": ", e.what(), " (the vocabulary given with --classes has ",
             cm.num_classes(), " classes: were the labels made with another one?)");
    }
}

// Files in `dir` with one of the extensions, by stem. Entries that are not regular files (a
// FIFO, a dangling link, a link loop) are kept, not skipped: reading them then fails naming
// the file and what it is, instead of a misleading "no prediction for ...".
std::map<std::string, std::string> index_by_stem(const std::string& dir, const std::vector<std::string>& exts) {
    std::error_code ec;
    ERRSEG_CHECK(fs::is_directory(dir, ec), "'", dir, "' is not a directory", ec ? " (" + ec.message() + ")" : "");
    std::map<std::string, std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) {
        if (e.is_directory(ec)) continue;
        std::string ext = e.path().extension().string();
        std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
        if (std::find(exts.begin(), exts.end(), ext) != exts.end()) out[e.path().stem().string()] = e.path().string();
    }
    return out;
}

// What is evaluated and how: from --dataset/--root (the published protocol) or the options.
struct EvalSetup {
    Vocabulary vocabulary;
    std::string images_dir, labels_dir, dataset;
    int ignore_label = 255;
    int64_t merge_predictions_from = -1;  // voc20b: predictions >= this are "background"
    bool upstream_resize = false;
    TopKChoice top_k;
};

EvalSetup eval_setup(const Args& args) {
    EvalSetup s;
    const int64_t option_k = args.has("top-k") ? args.get_int("top-k", 1, 1000000) : 0;
    if (args.has("dataset")) {
        for (const char* o : {"classes", "images", "labels", "ignore-label"})
            ERRSEG_CHECK(!args.has(o), "--", o, " cannot be combined with --dataset (the dataset fixes it; ",
                         "see docs/EVALUATION.md)");
        const eval::DatasetProtocol& d = eval::find_dataset(args.get("dataset"));
        ERRSEG_CHECK(args.has("root"), "--dataset needs --root DIR (the folder holding the prepared datasets)");
        const fs::path root = args.get("root");
        s.dataset = d.name;
        s.vocabulary = load_vocabulary(d.name, builtin_vocabulary);
        s.images_dir = (root / d.images_dir).string();
        s.labels_dir = (root / d.labels_dir).string();
        ERRSEG_CHECK(fs::is_directory(s.labels_dir), "dataset ", d.name, ": no label folder '", s.labels_dir,
                     "' (prepare it with tools/prepare_datasets.py ", d.name, ", see docs/EVALUATION.md)");
        s.ignore_label = d.ignore_label;
        s.merge_predictions_from = d.merge_predictions_from;
        s.upstream_resize = true;
    } else {
        ERRSEG_CHECK(!args.has("root"), "--root needs --dataset");
        s.vocabulary = load_vocabulary(args.get("classes"), builtin_vocabulary);
        s.images_dir = args.get_or("images", "");
        s.labels_dir = args.get("labels");
        s.ignore_label = args.has("ignore-label") ? int(args.get_int("ignore-label", -1, 65535)) : 255;
        s.upstream_resize = args.flag_set("upstream-resize");
    }
    s.top_k = choose_top_k(s.vocabulary, option_k);
    return s;
}

// voc20b: the classes after the first `merge_from` become one "background" class.
std::vector<std::string> scored_class_names(const EvalSetup& s) {
    std::vector<std::string> names = s.vocabulary.classes;
    if (s.merge_predictions_from >= 0) {
        names.resize(size_t(s.merge_predictions_from));
        names.push_back("background");
    }
    return names;
}

void merge_predictions(std::vector<int32_t>& pred, int64_t merge_from) {
    if (merge_from < 0) return;
    for (int32_t& p : pred)
        if (p >= merge_from) p = int32_t(merge_from);
}

}  // namespace

int cmd_eval(int argc, char** argv) {
    Args args("eval", "Semantic-segmentation metrics over a dataset: each image in --images is matched by file\n"
              "stem with a ground-truth label PNG in --labels (class index per pixel, 255 = ignore).\n"
              "With --predictions DIR, saved label PNGs (e.g. from 'errseg segment', <stem>_labels.png or\n"
              "<stem>.png) are scored instead of running a model.\n"
              "With --dataset NAME --root DIR, one of the paper's benchmarks is evaluated exactly as the\n"
              "authors do: its images and labels under DIR (layout: docs/EVALUATION.md, prepared by\n"
              "tools/prepare_datasets.py), its vocabulary, K, ignore label and the data loader's resize;\n"
              "the network input size is the model's (ERR-Seg B 640, L 768).",
              "--classes VOCAB --labels DIR (--model M --images DIR | --predictions DIR) [options]\n"
              "       errseg eval --model M --dataset ade150|ade847|pc59|pc459|voc20|voc20b --root DIR [options]");
    args.option("model", "converted ERR-Seg model file")
        .option("dataset", "a benchmark of the paper (ade150, ade847, pc59, pc459, voc20, voc20b): sets images, labels, vocabulary, K, ignore label and resize")
        .option("root", "with --dataset: the dataset root (holding ADEChallengeData2016/, ADE20K_2021_17_01/, VOCdevkit/)")
        .option("classes", "vocabulary (defines the class indices of the label PNGs)")
        .option("images", "directory of input images")
        .option("labels", "directory of ground-truth label PNGs")
        .option("predictions", "directory of predicted label PNGs (skip running the model)")
        .option("ignore-label", "ground-truth value to ignore (default: 255)")
        .option("top-k", "classes CRM keeps per image (default: the published K of a built-in vocabulary: ade150 32, ade847 48, pc59 24, pc459 48, voc20 16; otherwise the model's K)")
        .option("json", "also write the metrics (and the protocol used) as JSON to this file")
        .flag("upstream-resize", "the published protocol's data-loader resize first (short side 800, long side <= 1333, PIL bilinear); implied by --dataset")
        .flag("ignore-exif", "do not turn images upright by their EXIF orientation (detectron2 does)")
        .flag("per-class", "print IoU for every class")
        .flag("quiet", "no progress bar");
    add_model_options(args);
    if (!args.parse(argc, argv)) return 0;
    const ModelParams params = model_params(args, args.get_or("model", ""));
    const EvalSetup setup = eval_setup(args);
    const std::vector<std::string> names = scored_class_names(setup);
    const int ignore = setup.ignore_label;
    auto gts = index_by_stem(setup.labels_dir, {".png"});
    ERRSEG_CHECK(!gts.empty(), "no label PNGs in '", setup.labels_dir, "'");

    ConfusionMatrix cm(int(names.size()), ignore);
    size_t evaluated = 0;
    json::Value protocol = json::Value::object();
    if (!setup.dataset.empty()) protocol.set("dataset", setup.dataset);
    protocol.set("vocabulary", setup.vocabulary.name);
    protocol.set("num_classes", int64_t(setup.vocabulary.classes.size()));
    protocol.set("ignore_label", int64_t(ignore));
    if (setup.merge_predictions_from >= 0) protocol.set("background_from_class", setup.merge_predictions_from);
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
            merge_predictions(pr, setup.merge_predictions_from);
            add_image(cm, gt, pr.data(), gt_path, "prediction '" + it->second + "'");
            ++evaluated;
            progress.step(stem);
        }
    } else {
        ERRSEG_CHECK(!setup.images_dir.empty(), "missing required option --images (or --predictions, or --dataset)");
        auto images = index_by_stem(setup.images_dir, {".png", ".jpg", ".jpeg", ".bmp", ".tga", ".ppm", ".pgm"});
        const Segmenter model(ModelParams{args.get("model"), params.device, params.precision, params.threads});
        protocol.set("device", params.device.name());
        protocol.set("precision", params.precision_name());
        Tensor emb = model.encode_classes(setup.vocabulary.classes);
        models::SegmentOptions opt;
        opt.top_k = setup.top_k.requested > 0 ? setup.top_k.requested : -1;
        opt.upstream_resize = setup.upstream_resize;
        const int64_t k_used = effective_top_k(setup.top_k, model.config().head.sample_classes_num,
                                               setup.vocabulary.classes.size());
        protocol.set("top_k", k_used);
        protocol.set("top_k_source", setup.top_k.source);
        protocol.set("input_size", model.config().input.crop_size);
        protocol.set("upstream_resize", setup.upstream_resize);
        protocol.set("model", args.get("model"));
        std::printf("protocol: %s, %zu classes, K %lld (%s), input %lldx%lld, %s resize, ignore label %d\n",
                    setup.dataset.empty() ? setup.vocabulary.name.c_str() : setup.dataset.c_str(),
                    setup.vocabulary.classes.size(), static_cast<long long>(k_used), setup.top_k.source.c_str(),
                    static_cast<long long>(model.config().input.crop_size),
                    static_cast<long long>(model.config().input.crop_size),
                    setup.upstream_resize ? "data-loader (800/1333)" : "no", ignore);
        const ExifOrientation exif = args.flag_set("ignore-exif") ? ExifOrientation::Ignore : ExifOrientation::Apply;
        Progress progress(gts.size(), !args.flag_set("quiet") && isatty(2));
        for (auto& [stem, gt_path] : gts) {
            auto it = images.find(stem);
            ERRSEG_CHECK(it != images.end(), "no image for label '", stem, "' in '", setup.images_dir, "'");
            int gw, gh;
            auto gt = load_label_map(gt_path, gw, gh);
            Image img = load_image(it->second, kMaxImagePixels, exif);
            ERRSEG_CHECK(img.width == gw && img.height == gh, "label '", stem, "' is ", gw, "x", gh, ", image is ", img.width, "x", img.height);
            auto r = model.segment(img, emb, opt);
            const int32_t* l = r.labels.data<int32_t>();
            std::vector<int32_t> pred(l, l + r.labels.numel());
            merge_predictions(pred, setup.merge_predictions_from);
            add_image(cm, gt, pred.data(), gt_path, "the model's prediction for '" + it->second + "'");
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
        j.set("protocol", protocol);
        j.set("per_class_iou", per);
        std::string s = j.dump(2) + "\n";
        write_file_atomic(args.get("json"), s.data(), s.size());
    }
    return 0;
}

}  // namespace errseg::cli
