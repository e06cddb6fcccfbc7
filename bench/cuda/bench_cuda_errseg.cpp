// ERR-Seg end to end on the GPU backend (ErrSegModelOn<cuda::CudaBackend>), the numbers to set
// beside bench/pytorch/time_errseg.py --device cuda on the same GPU:
//
//   ERRSEG_BENCH_ERRSEG=errseg_b.safetensors [ERRSEG_BENCH_IMAGE=photo.png] bench_cuda_errseg
//
//   errseg_gpu/e2e/<vocab>_K<k>/<precision>   segment(): preprocess, dense CLIP features, head,
//                                             postprocess (class embeddings cached), host result
//   errseg_gpu/text/<vocab>/<precision>       the vocabulary's text embeddings, cold
//
// The model file comes from bench/make_random_checkpoints.py (real ERR-Seg B sizes, random
// weights). Wall-clock per iteration (the result is on the host, so the GPU has finished).
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "errseg/cuda/cuda_backend.hpp"
#include "errseg/errseg.hpp"
#include "errseg/vocabulary.hpp"

namespace {

using GpuModel = errseg::models::ErrSegModelOn<errseg::cuda::CudaBackend>;

std::string g_model_path, g_image_path;

const GpuModel& model(errseg::DType precision) {
    static std::map<int, std::unique_ptr<GpuModel>> models;
    auto& slot = models[int(precision)];
    if (!slot) {
        errseg::cuda::PrecisionScope scope(precision);
        slot = std::make_unique<GpuModel>(GpuModel::load(g_model_path));
    }
    return *slot;
}

std::vector<std::string> vocabulary(const std::string& name) {
    return errseg::resolve_vocabulary(std::string(ERRSEG_SOURCE_DIR) + "/data/classes/" + name + ".json", nullptr);
}

errseg::Image image() {
    return g_image_path.empty() ? errseg_bench::synthetic_image() : errseg::load_image(g_image_path);
}

void BM_e2e(benchmark::State& state, const std::string& vocab, int k, errseg::DType precision) {
    const GpuModel& m = model(precision);
    const errseg::Image img = image();
    const errseg::Tensor classes = m.encode_classes(vocabulary(vocab));
    errseg::models::SegmentOptions opt;
    opt.top_k = k;
    m.segment(img, classes, opt);  // warm-up: allocator cache, kernel loading
    for (auto _ : state) {
        const errseg::models::SegmentResult r = m.segment(img, classes, opt);
        benchmark::DoNotOptimize(r.labels.raw());
    }
}

void BM_text(benchmark::State& state, const std::string& vocab, errseg::DType precision) {
    const GpuModel& m = model(precision);
    const std::vector<std::string> names = vocabulary(vocab);
    for (auto _ : state) {
        const errseg::Tensor t = errseg::models::encode_class_names(m.text_encoder(), m.tokenizer(),
                                                                    m.config().prompt_template, names);
        benchmark::DoNotOptimize(t.raw());
    }
}

const char* label(errseg::DType d) { return d == errseg::DType::F32 ? "fp32" : d == errseg::DType::F16 ? "fp16" : "bf16"; }

// Registered after flags are read (the model path decides whether there is anything to run).
struct Registrar {
    Registrar() {
        g_model_path = errseg_bench::env_or("ERRSEG_BENCH_ERRSEG", "");
        g_image_path = errseg_bench::env_or("ERRSEG_BENCH_IMAGE", "");
        if (g_model_path.empty()) {
            std::printf("bench_cuda_errseg: set ERRSEG_BENCH_ERRSEG=<ERR-Seg model file> "
                        "(bench/make_random_checkpoints.py makes one); nothing to run\n");
            return;
        }
        for (errseg::DType p : {errseg::DType::F32, errseg::DType::F16, errseg::DType::BF16}) {
            const std::string s = label(p);
            benchmark::RegisterBenchmark(("errseg_gpu/e2e/ade150_K32/" + s).c_str(),
                                         [p](benchmark::State& st) { BM_e2e(st, "ade150", 32, p); })
                ->Unit(benchmark::kMillisecond)->UseRealTime();
            benchmark::RegisterBenchmark(("errseg_gpu/e2e/ade847_K48/" + s).c_str(),
                                         [p](benchmark::State& st) { BM_e2e(st, "ade847", 48, p); })
                ->Unit(benchmark::kMillisecond)->UseRealTime();
            benchmark::RegisterBenchmark(("errseg_gpu/text/ade847/" + s).c_str(),
                                         [p](benchmark::State& st) { BM_text(st, "ade847", p); })
                ->Unit(benchmark::kMillisecond)->UseRealTime();
        }
    }
} registrar;

}  // namespace
