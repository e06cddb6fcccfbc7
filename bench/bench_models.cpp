// Whole-model CPU latency from converted model files.
//
//   bench_models [--threads=N] [--vit=FILE] [--convnext=FILE] [--errseg=FILE] [--image=PNG]
//                [--classes_dir=DIR] [--warmup=1] [--precision=fp32|bf16] [Google Benchmark flags]
//
// Each model file may also be given by environment variable (ERRSEG_BENCH_VIT, ERRSEG_BENCH_CONVNEXT,
// ERRSEG_BENCH_ERRSEG, ERRSEG_BENCH_IMAGE); a model that is not given (or not found) is skipped
// with a message on stderr. Threads: --threads=N, else $ERRSEG_BENCH_THREADS, else 2.
//
// Benchmarks (each iteration = one full forward; models load once, outside the timing; every
// benchmark runs `--warmup` untimed forwards first):
//   clip_vit_b16/image_pooled@224           ViT-B/16 pooled image embedding, 1x3x224x224
//   clip_convnext/trunk_stages@640          ConvNeXt trunk, the four stage outputs (ERR-Seg's dense
//                                           features before HSM), 1x3x640x640
//   clip_convnext/image_pooled@320          pooled image embedding at the native 320
//   clip_convnext/text_ade150               text tower on the 150 ADE-150 prompts ("A photo of a {}
//                                           in the scene"), one batch, computing only up to the
//                                           batch's last EOT (our default; same result)
//   clip_convnext/text_ade150_full77        the same on all 77 positions (what PyTorch runs)
//   errseg/e2e/ade150_K32, ade847_K48       ErrSegModel::segment (preprocess, CLIP dense features,
//                                           head, postprocess) with cached class embeddings;
//                                           counters: per-stage ms from Result::timings_ms,
//                                           peak RSS (process, and since the model was loaded)
//   errseg/text/ade150, ade847              encode_class_names (the once-per-vocabulary cost)
// --precision=bf16: the CPU GEMMs in bf16 (core/cpu_precision.hpp; the warm-up forward packs the
// weights). With --benchmark_repetitions=R every benchmark runs R times (1 iteration each) and the median
// aggregate is reported.
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "bench_common.hpp"

#include <errseg/errseg.hpp>
#include <errseg/front/params.hpp>
#include <errseg/vocabulary.hpp>

namespace {

using errseg::Tensor;
namespace models = errseg::models;
using errseg_bench::random_tensor;

struct Options {
    std::string vit, convnext, errseg, image, classes_dir;
    int warmup = 1;
};
Options g_opt;

bool file_exists(const std::string& p) {
    std::ifstream f(p);
    return !p.empty() && bool(f);
}

std::vector<std::string> vocabulary(const std::string& name) {
    return errseg::resolve_vocabulary(g_opt.classes_dir + "/" + name + ".json", nullptr);
}

// The given image, else the synthetic one (the PyTorch side gets the same file from
// run_cpu_bench.py).
errseg::Image bench_image() {
    return g_opt.image.empty() ? errseg_bench::synthetic_image() : errseg::load_image(g_opt.image);
}

// Process CPU time (all threads) in ms.
double process_cpu_ms() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) * 1e-6;
}

// Runs `fn` warmup times, then the timed loop; counter cpu_ms = process CPU time per iteration
// (all threads: on a shared machine wall time inflates, CPU time much less).
template <class F>
void timed(benchmark::State& state, F&& fn) {
    for (int i = 0; i < g_opt.warmup; ++i) fn();
    const double c0 = process_cpu_ms();
    int64_t n = 0;
    for (auto _ : state) {
        fn();
        ++n;
    }
    state.counters["cpu_ms"] = (process_cpu_ms() - c0) / double(std::max<int64_t>(n, 1));
}

// peak_rss_MiB: the whole process (model loading included, like PyTorch's getrusage figure);
// peak_rss_inference_MiB: since VmHWM was reset after loading (only where the reset worked).
void set_rss_counters(benchmark::State& state, double peak_before_reset, bool reset_ok) {
    const double now = errseg_bench::peak_rss_mb();
    state.counters["peak_rss_MiB"] = std::max(peak_before_reset, now);
    if (reset_ok) state.counters["peak_rss_inference_MiB"] = now;
}

// ---- CLIP ViT ----
const models::Clip& vit_model() {
    static models::Clip m = models::Clip::load(g_opt.vit);
    return m;
}

void BM_vit_pooled(benchmark::State& state) {
    const models::Clip& m = vit_model();
    ERRSEG_CHECK(m.vit(), g_opt.vit, " is not a ViT CLIP model");
    const int64_t s = m.image_size();
    const Tensor x = random_tensor({1, 3, s, s}, 7);
    timed(state, [&] { benchmark::DoNotOptimize(m.encode_image(x).raw()); });
    state.counters["image_size"] = double(s);
}

// ---- CLIP ConvNeXt ----
const models::Clip& convnext_model() {
    static models::Clip m = models::Clip::load(g_opt.convnext);
    return m;
}

void BM_convnext_trunk640(benchmark::State& state) {
    const models::Clip& m = convnext_model();
    ERRSEG_CHECK(m.convnext(), g_opt.convnext, " is not a ConvNeXt CLIP model");
    const Tensor x = random_tensor({1, 3, 640, 640}, 7);
    timed(state, [&] {
        std::vector<Tensor> st = m.convnext()->forward_stages(x);
        benchmark::DoNotOptimize(st.back().raw());
    });
}

void BM_convnext_pooled(benchmark::State& state) {
    const models::Clip& m = convnext_model();
    ERRSEG_CHECK(m.convnext(), g_opt.convnext, " is not a ConvNeXt CLIP model");
    const int64_t s = m.image_size();
    const Tensor x = random_tensor({1, 3, s, s}, 7);
    timed(state, [&] { benchmark::DoNotOptimize(m.encode_image(x).raw()); });
    state.counters["image_size"] = double(s);
}

Tensor ade150_tokens(const models::Clip& m) {
    ERRSEG_CHECK(m.tokenizer(), "model file has no tokenizer");
    const std::vector<std::string> prompts =
        models::class_prompts("A photo of a {} in the scene", vocabulary("ade150"));
    return m.tokenizer()->tokenize_batch(prompts, int(m.text().config().context_length));
}

void BM_convnext_text(benchmark::State& state, bool full) {
    const models::Clip& m = convnext_model();
    const Tensor tokens = ade150_tokens(m);
    timed(state, [&] { benchmark::DoNotOptimize(m.text().encode(tokens, /*truncate_after_eot=*/!full).raw()); });
    state.counters["prompts"] = double(tokens.size(0));
}

// ---- ERR-Seg ----
models::ErrSegModel& errseg_model() {
    static models::ErrSegModel m = models::ErrSegModel::load(g_opt.errseg);
    return m;
}

void BM_errseg_e2e(benchmark::State& state, const std::string& vocab, int k) {
    const models::ErrSegModel& m = errseg_model();
    const errseg::Image image = bench_image();
    const std::vector<std::string> names = vocabulary(vocab);
    const Tensor classes = m.encode_classes(names);  // cached, as in the CLI / upstream
    const double peak_before = errseg_bench::peak_rss_mb();
    const bool reset_ok = errseg_bench::reset_peak_rss();
    std::map<std::string, double> sum;
    int64_t iters = 0;
    models::SegmentOptions opt;
    opt.top_k = k;
    for (int i = 0; i < g_opt.warmup; ++i) benchmark::DoNotOptimize(m.segment(image, classes, opt).labels.raw());
    const double c0 = process_cpu_ms();
    for (auto _ : state) {
        models::ErrSegModel::Result r = m.segment(image, classes, opt);
        benchmark::DoNotOptimize(r.labels.raw());
        for (const auto& kv : r.timings_ms) sum[kv.first] += kv.second;
        ++iters;
    }
    state.counters["cpu_ms"] = (process_cpu_ms() - c0) / double(std::max<int64_t>(iters, 1));
    for (const auto& kv : sum) state.counters["ms." + kv.first] = kv.second / double(std::max<int64_t>(iters, 1));
    state.counters["T"] = double(names.size());
    state.counters["K"] = double(k);
    state.counters["crop"] = double(m.config().input.crop_size);
    state.counters["image_w"] = double(image.width);
    state.counters["image_h"] = double(image.height);
    set_rss_counters(state, peak_before, reset_ok);
}

void BM_errseg_text(benchmark::State& state, const std::string& vocab) {
    const models::ErrSegModel& m = errseg_model();
    const std::vector<std::string> names = vocabulary(vocab);
    timed(state, [&] {
        // Not through the model's cache: the cost of encoding a new vocabulary.
        benchmark::DoNotOptimize(
            models::encode_class_names(m.text_encoder(), m.tokenizer(), m.config().prompt_template, names).raw());
    });
    state.counters["T"] = double(names.size());
}

void add(const std::string& name, std::function<void(benchmark::State&)> fn) {
    benchmark::RegisterBenchmark(name.c_str(), std::move(fn))
        ->UseRealTime()
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond);
}

bool usable(const std::string& what, const std::string& path, const char* flag, const char* env) {
    if (file_exists(path)) return true;
    std::fprintf(stderr, "bench_models: SKIPPED %s: %s (give --%s=FILE or %s)\n", what.c_str(),
                 path.empty() ? "no model file given" : ("cannot read " + path).c_str(), flag, env);
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    using errseg_bench::env_or;
    using errseg_bench::take_flag;
    errseg_bench::setup_threads(argc, argv);
    errseg_bench::add_build_context();
    g_opt.vit = take_flag(argc, argv, "vit", env_or("ERRSEG_BENCH_VIT", ""));
    g_opt.convnext = take_flag(argc, argv, "convnext", env_or("ERRSEG_BENCH_CONVNEXT", ""));
    g_opt.errseg = take_flag(argc, argv, "errseg", env_or("ERRSEG_BENCH_ERRSEG", ""));
    g_opt.image = take_flag(argc, argv, "image", env_or("ERRSEG_BENCH_IMAGE", ""));
    g_opt.classes_dir = take_flag(argc, argv, "classes_dir", ERRSEG_SOURCE_DIR "/data/classes");
    g_opt.warmup = std::max(0, std::atoi(take_flag(argc, argv, "warmup", "1").c_str()));
    const std::string precision = take_flag(argc, argv, "precision", "fp32");
    const errseg::CpuPrecisionScope precision_scope(errseg::parse_precision(precision));  // this thread runs them
    benchmark::AddCustomContext("precision", precision);

    if (usable("clip_vit_b16/*", g_opt.vit, "vit", "ERRSEG_BENCH_VIT")) {
        add("clip_vit_b16/image_pooled@224", BM_vit_pooled);
        benchmark::AddCustomContext("model_vit", g_opt.vit);
    }
    if (usable("clip_convnext/*", g_opt.convnext, "convnext", "ERRSEG_BENCH_CONVNEXT")) {
        add("clip_convnext/trunk_stages@640", BM_convnext_trunk640);
        add("clip_convnext/image_pooled@320", BM_convnext_pooled);
        add("clip_convnext/text_ade150", [](benchmark::State& s) { BM_convnext_text(s, false); });
        add("clip_convnext/text_ade150_full77", [](benchmark::State& s) { BM_convnext_text(s, true); });
        benchmark::AddCustomContext("model_convnext", g_opt.convnext);
    }
    if (usable("errseg/*", g_opt.errseg, "errseg", "ERRSEG_BENCH_ERRSEG")) {
        add("errseg/e2e/ade150_K32", [](benchmark::State& s) { BM_errseg_e2e(s, "ade150", 32); });
        add("errseg/e2e/ade847_K48", [](benchmark::State& s) { BM_errseg_e2e(s, "ade847", 48); });
        add("errseg/text/ade150", [](benchmark::State& s) { BM_errseg_text(s, "ade150"); });
        add("errseg/text/ade847", [](benchmark::State& s) { BM_errseg_text(s, "ade847"); });
        benchmark::AddCustomContext("model_errseg", g_opt.errseg);
        benchmark::AddCustomContext("image", g_opt.image.empty() ? "synthetic 400x300" : g_opt.image);
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    try {
        benchmark::RunSpecifiedBenchmarks();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_models: error: %s\n", e.what());
        return 1;
    }
    benchmark::Shutdown();
    return 0;
}
