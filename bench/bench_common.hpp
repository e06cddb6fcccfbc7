// Helpers shared by bench_ops.cpp, bench_models.cpp and cuda/bench_cuda_errseg.cpp:
// thread-count option, random tensors, the synthetic test image, peak-RSS lookup, machine
// context for the JSON output.
#pragma once
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <errseg/core.hpp>
#include <errseg/io/image.hpp>

namespace errseg_bench {

// Removes "--NAME=VALUE" (or "--NAME VALUE") from argv and returns VALUE; `def` when absent.
// Our own flags are taken out before benchmark::Initialize sees argv.
inline std::string take_flag(int& argc, char** argv, const std::string& name, const std::string& def = "") {
    const std::string eq = "--" + name + "=", bare = "--" + name;
    std::string value = def;
    int out = 1;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a.compare(0, eq.size(), eq) == 0) {
            value = a.substr(eq.size());
        } else if (a == bare && i + 1 < argc) {
            value = argv[++i];
        } else {
            argv[out++] = argv[i];
        }
    }
    argc = out;
    argv[argc] = nullptr;
    return value;
}

inline std::string env_or(const char* name, const std::string& def) {
    const char* v = std::getenv(name);
    return v && *v ? std::string(v) : def;
}

// Thread count: --threads=N, else ERRSEG_BENCH_THREADS, else 2 (the comparison default).
inline int setup_threads(int& argc, char** argv) {
    const std::string s = take_flag(argc, argv, "threads", env_or("ERRSEG_BENCH_THREADS", "2"));
    int n = std::atoi(s.c_str());
    if (n < 1) n = 1;
    errseg::set_num_threads(n);
    benchmark::AddCustomContext("errseg_threads", std::to_string(errseg::get_num_threads()));
    return n;
}

// A deterministic 400x300 RGB image (gradients and a checkerboard) for when no image is given;
// run_cpu_bench.py writes the same picture for the PyTorch side.
inline errseg::Image synthetic_image() {
    errseg::Image im;
    im.width = 400;
    im.height = 300;
    im.rgb.resize(size_t(im.width) * im.height * 3);
    for (int y = 0; y < im.height; ++y)
        for (int x = 0; x < im.width; ++x) {
            uint8_t* p = &im.rgb[(size_t(y) * im.width + x) * 3];
            p[0] = uint8_t((x * 255) / im.width);
            p[1] = uint8_t((y * 255) / im.height);
            p[2] = uint8_t(((x / 25 + y / 25) % 2) * 200 + 20);
        }
    return im;
}

// Uniform [-1, 1) values, deterministic.
inline errseg::Tensor random_tensor(const errseg::Shape& shape, uint32_t seed = 1, float scale = 1.f) {
    errseg::Tensor t = errseg::Tensor::empty(shape);
    float* p = t.data<float>();
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-scale, scale);
    for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = u(rng);
    return t;
}

// Peak resident set size of this process (VmHWM) in MiB; -1 when unknown.
inline double peak_rss_mb() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.compare(0, 6, "VmHWM:") == 0) return std::atof(line.c_str() + 6) / 1024.0;
    return -1;
}

inline double current_rss_mb() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.compare(0, 6, "VmRSS:") == 0) return std::atof(line.c_str() + 6) / 1024.0;
    return -1;
}

// Resets VmHWM to the current RSS (Linux >= 4.0); false where not permitted.
inline bool reset_peak_rss() {
    std::ofstream f("/proc/self/clear_refs");
    if (!f) return false;
    f << "5";
    return bool(f.flush());
}

inline void add_build_context() {
    // The hot kernels' run-time path (core/cpu_isa.hpp); errseg_simd is what the rest (Eigen) was
    // compiled for.
    benchmark::AddCustomContext("errseg_cpu_isa", errseg::cpu_isa_name(errseg::active_cpu_isa()));
#if defined(__AVX512F__)
    benchmark::AddCustomContext("errseg_simd", "AVX-512");
#elif defined(__AVX2__) && defined(__FMA__)
    benchmark::AddCustomContext("errseg_simd", "AVX2+FMA");
#elif defined(__AVX__)
    benchmark::AddCustomContext("errseg_simd", "AVX");
#else
    benchmark::AddCustomContext("errseg_simd", "SSE2 or less");
#endif
#if defined(EIGEN_WORLD_VERSION)
    benchmark::AddCustomContext("eigen", std::to_string(EIGEN_WORLD_VERSION) + "." +
                                             std::to_string(EIGEN_MAJOR_VERSION) + "." +
                                             std::to_string(EIGEN_MINOR_VERSION));
#endif
    benchmark::AddCustomContext("compiler", __VERSION__);
}

}  // namespace errseg_bench
