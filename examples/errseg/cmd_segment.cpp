// errseg segment: image(s) + vocabulary -> label map PNG, colour overlay PNG, JSON summary
// (and optionally the decoder's raw logits as .npy), all written atomically; an image whose
// processing fails leaves none of its outputs. Resource limits (--max-classes, --max-pixels,
// --max-memory): docs/LIMITS.md.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <iostream>
#include <map>
#include <unistd.h>

#include "cli_args.hpp"
#include "commands.hpp"
#include "errseg/errseg.hpp"
#include "errseg/io/atomic_file.hpp"
#include "errseg/io/image.hpp"
#include "errseg/io/json.hpp"
#include "errseg/io/npy.hpp"
#include "errseg/render/overlay.hpp"
#include "errseg/vocabulary.hpp"
#include "model_options.hpp"

namespace fs = std::filesystem;

namespace errseg::cli {

namespace {

void write_label_png(const std::string& path, const Tensor& labels, size_t num_classes) {
    const int h = int(labels.size(0)), w = int(labels.size(1));
    const int32_t* l = labels.data<int32_t>();
    const size_t n = size_t(h) * size_t(w);
    if (num_classes <= 255) {
        std::vector<uint8_t> px(n);
        for (size_t i = 0; i < n; ++i) px[i] = uint8_t(l[i]);
        write_png(path, w, h, 1, px.data());
    } else {
        std::vector<uint16_t> px(n);
        for (size_t i = 0; i < n; ++i) px[i] = uint16_t(l[i]);
        write_png16(path, w, h, px.data());
    }
}

json::Value summary_json(const std::string& image_path, const Image& img, const std::vector<std::string>& names,
                         const models::SegmentResult& r, double total_ms) {
    const int32_t* l = r.labels.data<int32_t>();
    const size_t n = size_t(r.labels.numel());
    std::map<int64_t, size_t> counts;
    for (size_t i = 0; i < n; ++i) ++counts[l[i]];
    std::vector<std::pair<size_t, int64_t>> order;
    for (auto& [c, k] : counts) order.push_back({k, c});
    std::sort(order.begin(), order.end(), [](auto& a, auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });

    json::Value j = json::Value::object();
    j.set("image", image_path);
    j.set("width", img.width);
    j.set("height", img.height);
    j.set("num_classes", int64_t(names.size()));
    json::Value present = json::Value::array();
    for (auto& [k, c] : order) {
        json::Value e = json::Value::object();
        e.set("index", c);
        e.set("name", names[size_t(c)]);
        e.set("pixel_fraction", double(k) / double(n));
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
    return j;
}

// Memory the run needs beyond the model itself, in bytes: the parts that grow with the number
// of classes T (the stride-4 logits T x S/4 x S/4 and the stride-16 cost maps of all classes,
// float32) and with the image (decoded RGB, its float copy, label map, overlay: ~26 bytes per
// pixel). docs/LIMITS.md.
uint64_t estimated_bytes(uint64_t T, uint64_t S, uint64_t pixels) {
    const uint64_t per_class = ((S / 4) * (S / 4) + (S / 16) * (S / 16)) * 4;
    return T * per_class + pixels * 26;
}

void check_memory(uint64_t estimate, uint64_t limit_mb, const std::string& what) {
    const uint64_t mb = (estimate + (1u << 20) - 1) >> 20;
    ERRSEG_CHECK(mb <= limit_mb, what, " needs an estimated ", mb, " MB, more than the --max-memory limit of ",
                 limit_mb, " MB (use fewer classes or a smaller image, or raise --max-memory)");
}

uint64_t physical_memory_mb() {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page > 0 ? (uint64_t(pages) * uint64_t(page)) >> 20 : uint64_t(1) << 20;
}

// Everything after the options: the same for every backend.
struct SegmentJob {
    std::vector<std::string> names;
    std::string out_dir;
    int top_k = -1;
    models::CrmTieRule tie_rule = models::CrmTieRule::TorchCpu;
    int64_t max_pixels = 0;
    uint64_t max_memory_mb = 0;
    size_t batch = 1;
    bool upstream_resize = false;
    ExifOrientation exif = ExifOrientation::Apply;
    std::string class_embeddings_path;
    bool save_logits = false, quiet = false;
};

// One input image on its way through the pipeline: decoded, then segmented, or failed.
struct ImageSlot {
    std::string path;
    Image image;
    models::SegmentResult result;
    std::string error;  // non-empty: this image failed (nothing of it is written)
};

std::string error_text(const std::exception& e) {
    return dynamic_cast<const std::bad_alloc*>(&e) != nullptr ? "out of memory" : e.what();
}

// Writes one image's outputs, all or none: the files written before a failure are removed
// again (the failing write itself leaves nothing: writes are atomic). Returns the summary line.
std::string write_outputs(const SegmentJob& job, const ImageSlot& slot) {
    const std::vector<std::string>& names = job.names;
    const models::SegmentResult& result = slot.result;
    const std::string stem = (fs::path(job.out_dir) / fs::path(slot.path).stem()).string();
    double ms = 0;
    for (const auto& [stage, t] : result.timings_ms)
        if (stage == "total") ms = t;
    std::vector<std::string> written;
    try {
        write_label_png(stem + "_labels.png", result.labels, names.size());
        written.push_back(stem + "_labels.png");

        std::vector<int64_t> present;
        {
            std::vector<size_t> counts(names.size(), 0);
            const int32_t* l = result.labels.data<int32_t>();
            for (int64_t i = 0; i < result.labels.numel(); ++i) ++counts[size_t(l[i])];
            for (size_t c = 0; c < counts.size(); ++c)
                if (counts[c]) present.push_back(int64_t(c));
            std::stable_sort(present.begin(), present.end(), [&](int64_t a, int64_t b) { return counts[size_t(a)] > counts[size_t(b)]; });
        }
        Image overlay = render_overlay(slot.image, result.labels.data<int32_t>(), names, present);
        write_png(stem + "_overlay.png", overlay.width, overlay.height, 3, overlay.rgb.data());
        written.push_back(stem + "_overlay.png");
        if (job.save_logits) {
            write_npy(stem + "_logits.npy", result.logits);
            written.push_back(stem + "_logits.npy");
        }
        std::string js = summary_json(slot.path, slot.image, names, result, ms).dump(2) + "\n";
        write_file_atomic(stem + ".json", js.data(), js.size());
    } catch (...) {
        for (const std::string& f : written) std::remove(f.c_str());
        throw;
    }
    return slot.path + " -> " + stem + "_{labels,overlay}.png, .json (" + std::to_string(int(ms)) + " ms)";
}

// The images go through a three-stage pipeline, `job.batch` at a time: while batch i is
// segmented, batch i+1 is read and decoded on one thread and the outputs of batch i-1 are
// encoded and written on another. Each batch's image encoder runs on all its images at once
// (ErrSegModel::segment_batch). Messages come out in input order.
template <class Model>
int segment_images(const Model& model, const SegmentJob& job, const std::vector<std::string>& images) {
    if (images.empty()) return 0;
    const std::vector<std::string>& names = job.names;
    const uint64_t crop = uint64_t(model.config().input.crop_size);
    check_memory(estimated_bytes(names.size(), crop, 0), job.max_memory_mb,
                 "a vocabulary of " + std::to_string(names.size()) + " classes");
    Tensor class_emb;
    if (!job.class_embeddings_path.empty()) {
        class_emb = read_npy(job.class_embeddings_path).to_f32();
        ERRSEG_CHECK(class_emb.dim() == 2 && class_emb.size(0) == int64_t(names.size()),
                     "class embeddings file has shape ", shape_str(class_emb.shape()), ", expected [", names.size(), ", E] for this vocabulary");
    } else {
        class_emb = model.encode_classes(names);
    }
    models::SegmentOptions opt;
    opt.top_k = job.top_k;
    opt.crm_tie_rule = job.tie_rule;
    opt.upstream_resize = job.upstream_resize;

    using Batch = std::vector<ImageSlot>;
    const size_t num_batches = (images.size() + job.batch - 1) / job.batch;
    const auto start_loading = [&](size_t b) {
        return std::async(std::launch::async, [&, b] {
            Batch batch;
            for (size_t i = b * job.batch; i < std::min(images.size(), (b + 1) * job.batch); ++i) {
                ImageSlot slot;
                slot.path = images[i];
                try {
                    slot.image = load_image(slot.path, job.max_pixels, job.exif);
                    check_memory(estimated_bytes(names.size(), crop, uint64_t(slot.image.width) * uint64_t(slot.image.height)),
                                 job.max_memory_mb, "segmenting a " + std::to_string(slot.image.width) + "x" +
                                                        std::to_string(slot.image.height) + " image with " +
                                                        std::to_string(names.size()) + " classes");
                } catch (const std::exception& e) {
                    slot.error = error_text(e);
                }
                batch.push_back(std::move(slot));
            }
            return batch;
        });
    };

    Progress progress(images.size(), !job.quiet && isatty(2));
    std::atomic<int> failures{0};
    const auto write_batch = [&](Batch batch) {
        for (ImageSlot& slot : batch) {
            if (slot.error.empty()) {
                try {
                    const std::string line = write_outputs(job, slot);
                    if (!isatty(2) || job.quiet) std::cout << line << "\n" << std::flush;
                } catch (const std::exception& e) {
                    slot.error = error_text(e);
                }
            }
            if (!slot.error.empty()) {
                std::cerr << "errseg segment: error: " << slot.path << ": " << slot.error << "\n";
                ++failures;
            }
            progress.step(fs::path(slot.path).filename().string());
        }
    };

    std::future<Batch> next = start_loading(0);
    std::future<void> writing;
    for (size_t b = 0; b < num_batches; ++b) {
        Batch batch = next.get();
        if (b + 1 < num_batches) next = start_loading(b + 1);
        std::vector<ImageSlot*> ok;  // decoded, to be segmented
        std::vector<const Image*> inputs;
        for (ImageSlot& slot : batch)
            if (slot.error.empty()) {
                ok.push_back(&slot);
                inputs.push_back(&slot.image);
            }
        try {
            if (!inputs.empty()) {
                std::vector<models::SegmentResult> results = model.segment_batch(inputs, class_emb, opt);
                for (size_t j = 0; j < ok.size(); ++j) ok[j]->result = std::move(results[j]);
            }
        } catch (const std::exception& e) {
            if (ok.size() == 1) {
                ok[0]->error = error_text(e);
            } else {  // find out which image it was: one at a time
                for (ImageSlot* slot : ok) {
                    try {
                        slot->result = model.segment(slot->image, class_emb, opt);
                    } catch (const std::exception& e1) {
                        slot->error = error_text(e1);
                    }
                }
            }
        }
        if (writing.valid()) writing.get();
        writing = std::async(std::launch::async, write_batch, std::move(batch));
    }
    if (writing.valid()) writing.get();
    return failures ? 1 : 0;
}

// "cpu" -> -1; "cuda" -> 0; "cuda:N" -> N.
}  // namespace

int cmd_segment(int argc, char** argv) {
    Args args("segment", "Open-vocabulary semantic segmentation with ERR-Seg. For each IMAGE writes into OUTDIR:\n"
              "  <name>_labels.png   class index per pixel (8-bit for <= 255 classes, else 16-bit)\n"
              "  <name>_overlay.png  the image blended with class colours, with a legend\n"
              "  <name>.json         classes present with pixel fractions, CRM-selected classes, timings\n"
              "  <name>_logits.npy   (with --save-logits) decoder logits, T x h x w float32, before sigmoid",
              "--model M.safetensors --classes VOCAB [options] IMAGE... -o OUTDIR");
    args.option("model", "converted ERR-Seg model file (.safetensors)")
        .option("classes", "vocabulary: ade150|ade847|pc59|pc459|voc20|voc20b|coco, a file (JSON array or one name per line), or \"a,b,c\"")
        .option("class-embeddings", "reuse class embeddings saved by 'errseg embed-text --classes' (.npy, T x E)")
        .option("out-dir", "output directory (also -o)")
        .option("batch", "images per image-encoder pass (throughput mode; decoding, compute and writing overlap at any size)", "1")
        .option("top-k", "classes CRM keeps per image (default: the model's K; capped at the vocabulary size)")
        .option("max-classes", "refuse larger vocabularies", "4096")
        .option("max-pixels", "refuse larger images (checked from the file header, before decoding)",
                std::to_string(kMaxImagePixels))
        .option("max-memory", "refuse runs whose estimated memory (MB) for the class maps and the image exceeds this",
                std::to_string(physical_memory_mb()))
        .option("crm-ties", "how CRM breaks exact ties: torch-cpu (as upstream on CPU) or lower-index", "torch-cpu")
        .flag("upstream-resize", "first resize as the published evaluation's data loader (short side 800, long side <= 1333, PIL bilinear); outputs stay at the image's size")
        .flag("ignore-exif", "do not turn JPEG/PNG images upright by their EXIF orientation (detectron2 does)")
        .flag("save-logits", "also write the decoder logits as <name>_logits.npy")
        .flag("quiet", "no progress bar");
    add_model_options(args);
    if (!args.parse(argc, argv)) return 0;
    const auto& images = args.positionals();
    ERRSEG_CHECK(!images.empty(), "no input image given (see errseg segment --help)");
    const ModelParams params = model_params(args, args.get("model"));
    SegmentJob job;
    job.out_dir = args.get("out-dir");

    VocabularyLimits limits;
    limits.max_classes = size_t(args.get_int("max-classes", 1, 1000000));
    job.max_pixels = args.get_int("max-pixels", 1, long(kMaxImagePixels));
    job.max_memory_mb = uint64_t(args.get_int("max-memory", 1, 1L << 40));
    job.names = resolve_vocabulary(args.get("classes"), builtin_vocabulary, limits);
    job.batch = size_t(args.get_int("batch", 1, 256));
    job.top_k = args.has("top-k") ? int(args.get_int("top-k", 1, 1000000)) : -1;
    const std::string ties = args.get("crm-ties");
    ERRSEG_CHECK(ties == "torch-cpu" || ties == "lower-index", "--crm-ties must be torch-cpu or lower-index, got '", ties, "'");
    job.tie_rule = ties == "torch-cpu" ? models::CrmTieRule::TorchCpu : models::CrmTieRule::LowerIndex;
    if (args.has("class-embeddings")) job.class_embeddings_path = args.get("class-embeddings");
    job.save_logits = args.flag_set("save-logits");
    job.upstream_resize = args.flag_set("upstream-resize");
    job.exif = args.flag_set("ignore-exif") ? ExifOrientation::Ignore : ExifOrientation::Apply;
    job.quiet = args.flag_set("quiet");

    std::error_code ec;
    fs::create_directories(job.out_dir, ec);
    ERRSEG_CHECK(fs::is_directory(job.out_dir), "cannot create output directory '", job.out_dir, "'");
    ERRSEG_CHECK(::access(job.out_dir.c_str(), W_OK) == 0, "output directory '", job.out_dir, "' is not writable");

    return segment_images(Segmenter(params), job, images);
}

}  // namespace errseg::cli
