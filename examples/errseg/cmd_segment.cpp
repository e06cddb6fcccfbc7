// errseg segment: images (files, directories, @lists; optionally one --shard of them) +
// vocabulary -> per image the outputs chosen by --format (segment_outputs.hpp), published as
// one unit with the JSON record written last; --skip-existing resumes, --manifest logs the run.
// Resource limits (--max-classes, --max-pixels, --max-memory) and the output contract:
// docs/LIMITS.md.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <iostream>
#include <unistd.h>

#include "cli_args.hpp"
#include "commands.hpp"
#include "errseg/errseg.hpp"
#include "errseg/io/atomic_file.hpp"
#include "errseg/io/image.hpp"
#include "errseg/io/json.hpp"
#include "errseg/io/label_map.hpp"
#include "errseg/io/npy.hpp"
#include "errseg/models/errseg/class_embeddings_file.hpp"
#include "errseg/named_vocabulary.hpp"
#include "errseg/vocabulary.hpp"
#include "model_options.hpp"
#include "run_manifest.hpp"
#include "segment_inputs.hpp"
#include "segment_outputs.hpp"

namespace fs = std::filesystem;

namespace errseg::cli {

namespace {

// Label PNGs hold 16-bit class indices (io/label_map.hpp refuses more when writing).
constexpr size_t kMaxLabelPngClasses = 65536;

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
    Vocabulary vocabulary;      // names plus the vocabulary's name and default K
    std::string top_k_source;   // "option", "vocabulary" or "model" (named_vocabulary.hpp)
    std::string model_identity; // text-tower fingerprint, checked against --class-embeddings
    std::string out_dir;
    std::string device, precision;  // as run: "cpu" / "cuda:N", "fp32" / "fp16" / "bf16"
    int top_k = -1;
    models::CrmTieRule tie_rule = models::CrmTieRule::TorchCpu;
    int64_t max_pixels = 0;
    uint64_t max_memory_mb = 0;
    size_t batch = 1;
    bool upstream_resize = false;
    ExifOrientation exif = ExifOrientation::Apply;
    std::string class_embeddings_path;
    OutputFormats formats;
    RunManifest* manifest = nullptr;
    bool quiet = false;
};

// One input image on its way through the pipeline: decoded, then segmented, or failed.
struct ImageSlot {
    std::string path;
    Image image;
    models::SegmentResult result;
    std::string error;  // non-empty: this image failed (no new output set of it is published)
};

std::string error_text(const std::exception& e) {
    return dynamic_cast<const std::bad_alloc*>(&e) != nullptr ? "out of memory" : e.what();
}

// Writes one image's outputs as a unit (segment_outputs.hpp) and logs it; returns the line for stdout.
std::string write_outputs(const SegmentJob& job, const ImageSlot& slot) {
    json::Value run_fields = json::Value::object();
    run_fields.set("vocabulary", job.vocabulary.name);
    run_fields.set("top_k", int64_t(slot.result.selected.size()));  // the K CRM used: min(K, T)
    run_fields.set("top_k_source", job.top_k_source);
    run_fields.set("device", job.device);
    run_fields.set("precision", job.precision);
    const json::Value record =
        write_image_outputs(job.out_dir, job.formats, job.names, slot.path, slot.image, slot.result, run_fields);
    if (job.manifest) job.manifest->append(manifest_line(slot.path, "ok", record, ""));
    std::string line = slot.path + " ->";
    for (const json::Value& f : record["outputs"].as_array())
        line += " " + (fs::path(job.out_dir) / f["file"].as_string()).string() + ",";
    line += " " + (fs::path(job.out_dir) / (output_name(slot.path) + kRecordSuffix)).string();
    return line + " (" + std::to_string(int(record["timings_ms"]["total"].as_number())) + " ms)";
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
        class_emb = models::load_class_embeddings_for(job.class_embeddings_path, job.vocabulary, job.model_identity,
                                                      model.config().embed_dim);
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
                if (job.manifest) job.manifest->append(manifest_line(slot.path, "failed", json::Value(), slot.error));
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

// The images this run segments: those of its shard, less (with --skip-existing) those whose
// outputs are complete already (a record listing every file this run would write, all present).
std::vector<std::string> select_images(const std::vector<std::string>& all, const Shard& shard, bool skip_existing,
                                       const SegmentJob& job) {
    std::vector<std::string> out;
    size_t skipped = 0;
    const std::vector<std::string> required = output_suffixes(job.formats);
    for (const std::string& path : all) {
        const std::string name = output_name(path);
        if (!in_shard(name, shard)) continue;
        if (skip_existing) {
            const json::Value record = OutputSet::read_complete_record(job.out_dir, name, kRecordSuffix, required);
            if (!record.is_null()) {
                if (job.manifest) job.manifest->append(manifest_line(path, "skipped", record, ""));
                if (!isatty(2) || job.quiet) std::cout << path << " -> skipped (complete outputs exist)\n";
                ++skipped;
                continue;
            }
        }
        out.push_back(path);
    }
    if (skipped && isatty(2) && !job.quiet)
        std::cerr << "errseg segment: " << skipped << " image(s) with complete outputs skipped\n";
    return out;
}

}  // namespace

int cmd_segment(int argc, char** argv) {
    Args args("segment", "Open-vocabulary semantic segmentation with ERR-Seg. INPUT is an image, a directory (its\n"
              ".png/.jpg/.jpeg/.bmp/.ppm/.pgm/.pnm files, sorted, not recursive) or @LIST (a file with one\n"
              "image or directory path per line). For each image writes into OUTDIR, by --format:\n"
              "  <name>_labels.png    labels: class index per pixel (8-bit gray for <= 255 classes, else 16-bit; <= 65536)\n"
              "  <name>_palette.png   palette: the same indices as a palette PNG (<= 256 classes), shown in colour\n"
              "  <name>_overlay.png   overlay: the image blended with class colours, with a legend\n"
              "  <name>_logits.npy    logits: decoder logits, T x h x w float32, before sigmoid\n"
              "  <name>_sem_seg.json  sem-seg: per-class COCO RLE, detectron2 sem_seg_predictions.json entries\n"
              "  <name>.json          always, written last: classes present, CRM selection, timings + cpu_isa, files\n"
              "<name> is the image's file name without extension; inputs whose outputs would share a name,\n"
              "or replace an input, are refused before anything is written. A re-run replaces an image's\n"
              "outputs as a unit and removes those it no longer writes (docs/LIMITS.md).",
              "--model M.safetensors --classes VOCAB [options] INPUT... -o OUTDIR");
    args.option("model", "converted ERR-Seg model file (.safetensors)")
        .option("classes", "vocabulary: ade150|ade847|pc59|pc459|voc20|voc20b|coco, a file (JSON array or one name per line), '[\"a, b\",\"c\"]' (inline JSON) or \"a,b,c\"")
        .option("class-embeddings", "reuse class embeddings saved by 'errseg embed-text --classes' (refused when made for other classes or by another model)")
        .option("out-dir", "output directory (also -o)")
        .option("format", "outputs per image, comma-separated: labels, palette, overlay, logits, sem-seg", "labels,overlay")
        .option("shard", "I/N: segment only shard I (0-based) of N; each image's shard follows from a hash of its name, so N runs with I = 0..N-1 cover every image exactly once")
        .option("manifest", "append one JSON line per image (image, status, outputs, classes present, timings, error) to this file")
        .option("batch", "images per image-encoder pass (throughput mode; decoding, compute and writing overlap at any size)", "1")
        .option("top-k", "classes CRM keeps per image (default: the published K of a built-in vocabulary: ade150 32, ade847 48, pc59 24, pc459 48, voc20 16; otherwise the model's K; capped at the vocabulary size)")
        .option("max-classes", "refuse larger vocabularies", "4096")
        .option("max-pixels", "refuse larger images (checked from the file header, before decoding)",
                std::to_string(kMaxImagePixels))
        .option("max-memory", "refuse runs whose estimated memory (MB) for the class maps and the image exceeds this",
                std::to_string(physical_memory_mb()))
        .option("crm-ties", "how CRM breaks exact ties: torch-cpu (as upstream on CPU) or lower-index", "torch-cpu")
        .flag("skip-existing", "skip images whose outputs are complete (their .json record lists every file --format asks for, all present): resume an interrupted run")
        .flag("upstream-resize", "first resize as the published evaluation's data loader (short side 800, long side <= 1333, PIL bilinear); outputs stay at the image's size")
        .flag("ignore-exif", "do not turn JPEG/PNG images upright by their EXIF orientation (detectron2 does)")
        .flag("save-logits", "same as adding logits to --format")
        .flag("quiet", "no progress bar");
    add_model_options(args);
    if (!args.parse(argc, argv)) return 0;
    const ModelParams params = model_params(args, args.get("model"));
    SegmentJob job;
    job.out_dir = args.get("out-dir");
    job.device = params.device.name();
    job.precision = params.precision_name();

    VocabularyLimits limits;
    limits.max_classes = size_t(args.get_int("max-classes", 1, 1000000));
    ERRSEG_CHECK(limits.max_classes <= kMaxLabelPngClasses, "--max-classes ", limits.max_classes,
                 " is more than segment supports: its label PNGs hold 16-bit class indices (at most ",
                 kMaxLabelPngClasses, " classes)");
    job.max_pixels = args.get_int("max-pixels", 1, long(kMaxImagePixels));
    job.max_memory_mb = uint64_t(args.get_int("max-memory", 1, 1L << 40));
    job.formats = parse_formats(args.get("format"));
    job.formats.logits = job.formats.logits || args.flag_set("save-logits");
    const Shard shard = args.has("shard") ? parse_shard(args.get("shard")) : Shard{};
    ERRSEG_CHECK(!args.positionals().empty(), "no input image given (see errseg segment --help)");
    const std::vector<std::string> images = expand_inputs(args.positionals());
    ERRSEG_CHECK(!images.empty(), "no input image found: the directories and lists given hold no image");
    job.vocabulary = load_vocabulary(args.get("classes"), builtin_vocabulary, limits);
    job.names = job.vocabulary.classes;
    ERRSEG_CHECK(!job.formats.palette || job.names.size() <= 256, "--format palette: a palette PNG holds at most 256 classes, the vocabulary has ",
                 job.names.size(), " (use --format labels)");
    job.batch = size_t(args.get_int("batch", 1, 256));
    const TopKChoice k = choose_top_k(job.vocabulary, args.has("top-k") ? args.get_int("top-k", 1, 1000000) : 0);
    job.top_k = k.requested > 0 ? int(k.requested) : -1;
    job.top_k_source = k.source;
    const std::string ties = args.get("crm-ties");
    ERRSEG_CHECK(ties == "torch-cpu" || ties == "lower-index", "--crm-ties must be torch-cpu or lower-index, got '", ties, "'");
    job.tie_rule = ties == "torch-cpu" ? models::CrmTieRule::TorchCpu : models::CrmTieRule::LowerIndex;
    if (args.has("class-embeddings")) {
        job.class_embeddings_path = args.get("class-embeddings");
        job.model_identity = models::text_tower_identity(Weights::open(args.get("model")));
    }
    job.upstream_resize = args.flag_set("upstream-resize");
    job.exif = args.flag_set("ignore-exif") ? ExifOrientation::Ignore : ExifOrientation::Apply;
    job.quiet = args.flag_set("quiet");

    std::error_code ec;
    fs::create_directories(job.out_dir, ec);
    ERRSEG_CHECK(fs::is_directory(job.out_dir), "cannot create output directory '", job.out_dir, "'");
    ERRSEG_CHECK(::access(job.out_dir.c_str(), W_OK) == 0, "output directory '", job.out_dir, "' is not writable");
    // Everything the run reads is protected from its writes; the check covers all inputs, not
    // only this shard's, so every shard refuses the same runs.
    std::vector<std::string> protected_files = {args.get("model"), args.get("classes")};
    if (!job.class_embeddings_path.empty()) protected_files.push_back(job.class_embeddings_path);
    for (const std::string& a : args.positionals())
        if (a.size() > 1 && a[0] == '@') protected_files.push_back(a.substr(1));
    std::vector<std::string> family = output_family();
    family.push_back(kRecordSuffix);
    const std::vector<std::string> manifest_path = args.has("manifest") ? std::vector<std::string>{args.get("manifest")}
                                                                        : std::vector<std::string>{};
    check_output_names(images, family, job.out_dir, protected_files, manifest_path);
    remove_stale_temps(job.out_dir);

    std::unique_ptr<RunManifest> manifest;
    if (args.has("manifest")) {
        manifest = std::make_unique<RunManifest>(args.get("manifest"));
        job.manifest = manifest.get();
    }
    const std::vector<std::string> todo = select_images(images, shard, args.flag_set("skip-existing"), job);
    if (todo.empty()) return 0;  // nothing in this shard, or everything done already
    return segment_images(Segmenter(params), job, todo);
}

}  // namespace errseg::cli
