// Where an ERR-Seg forward pass spends its time, op by op (CPU backend):
//
//   profile_errseg MODEL.safetensors [IMAGE] [--classes=ade150] [--runs=2] [--threads=2] [--top=40]
//
// Runs ErrSegModelOn<ProfilingBackend<CpuBackend>>::segment (class embeddings computed once,
// before the timed runs) and prints the time per op kind and per (op, input shapes).
#include <chrono>
#include <cstdio>
#include <string>

#include <errseg/errseg.hpp>
#include <errseg/vocabulary.hpp>

#include "bench_common.hpp"
#include "profiling_backend.hpp"

using namespace errseg;

int main(int argc, char** argv) {
    using errseg_bench::take_flag;
    const std::string classes = take_flag(argc, argv, "classes", "ade150");
    const int runs = std::max(1, std::atoi(take_flag(argc, argv, "runs", "2").c_str()));
    const size_t top = size_t(std::max(1, std::atoi(take_flag(argc, argv, "top", "40").c_str())));
    const int threads = errseg_bench::setup_threads(argc, argv);
    if (argc < 2 || argc > 3) {
        std::fprintf(stderr, "usage: profile_errseg MODEL.safetensors [IMAGE] [--classes=ade150] [--runs=2] [--threads=2] [--top=40]\n");
        return 2;
    }
    const std::string model_path = argv[1], image_path = argc > 2 ? argv[2] : "";
    try {
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
