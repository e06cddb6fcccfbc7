// Where an ERR-Seg forward pass spends its time, op by op (CPU backend):
//
//   profile_errseg MODEL.safetensors [IMAGE] [--classes=ade150] [--runs=2] [--threads=2] [--top=40]
//
// Runs ErrSegModelOn<ProfilingBackend<CpuBackend>>::segment (class embeddings computed once,
// before the timed runs) and prints the time per op kind and per (op, input shapes).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include <errseg/errseg.hpp>
#include <errseg/vocabulary.hpp>

#include "bench_common.hpp"
#include "profiling_backend.hpp"

using namespace errseg;

int main(int argc, char** argv) {
    std::string model_path, image_path, classes = "ade150";
    int runs = 2, threads = 2;
    size_t top = 40;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a.rfind("--classes=", 0) == 0) classes = a.substr(10);
        else if (a.rfind("--runs=", 0) == 0) runs = std::max(1, std::atoi(a.c_str() + 7));
        else if (a.rfind("--threads=", 0) == 0) threads = std::max(1, std::atoi(a.c_str() + 10));
        else if (a.rfind("--top=", 0) == 0) top = size_t(std::max(1, std::atoi(a.c_str() + 6)));
        else if (model_path.empty()) model_path = a;
        else image_path = a;
    }
    if (model_path.empty()) {
        std::fprintf(stderr, "usage: profile_errseg MODEL.safetensors [IMAGE] [--classes=ade150] [--runs=2] [--threads=2] [--top=40]\n");
        return 2;
    }
    try {
        set_num_threads(threads);
        using Backend = bench::ProfilingBackend<CpuBackend>;
        const auto model = models::ErrSegModelOn<Backend>::load(model_path);
        const std::string file = std::string(ERRSEG_SOURCE_DIR "/data/classes/") + classes + ".json";
        const Tensor text = model.encode_classes(resolve_vocabulary(classes.find(',') != std::string::npos ? classes : file, nullptr));
        const Image image = image_path.empty() ? errseg_bench::synthetic_image() : load_image(image_path);
        model.segment(image, text);  // warm-up
        bench::OpProfile::get().reset();
        double total = 0;
        std::vector<std::pair<std::string, double>> stages;
        for (int r = 0; r < runs; ++r) {
            const auto result = model.segment(image, text);
            for (const auto& [stage, ms] : result.timings_ms) {
                if (stage == "total") total += ms;
                if (r == 0) stages.push_back({stage, 0});
                for (auto& s : stages)
                    if (s.first == stage) s.second += ms;
            }
        }
        std::printf("ERR-Seg %s, %s (%zu classes), image %dx%d, %d threads, %d runs\n\nstages:\n", model_path.c_str(),
                    classes.c_str(), size_t(text.size(0)), image.width, image.height, threads, runs);
        for (const auto& [stage, ms] : stages) std::printf("  %8.1f ms  %s\n", ms / runs, stage.c_str());
        std::printf("\n");
        bench::OpProfile::get().print(runs, top, total / runs);
        const auto [hits, misses] = detail::LargeBlockCache::instance().hits_and_misses();
        std::printf("\nlarge blocks (>= 4 MiB) since start: %llu reused, %llu fresh from the OS\n",
                    (unsigned long long)hits, (unsigned long long)misses);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "profile_errseg: %s\n", e.what());
        return 1;
    }
    return 0;
}
