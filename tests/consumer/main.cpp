// A program outside the errseg tree: proves the package is usable as a dependency (CMake
// find_package, FetchContent, pkg-config), with the compiled library or header-only, with or
// without the CUDA component. Built with the compiler's default flags (no -m options), it must
// still get the best CPU kernel path this machine has (run-time dispatch).
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <string>

#include <errseg/errseg.hpp>
#include <errseg/front.hpp>

int main() {
    using namespace errseg;
    Tensor x = Tensor::from_vector<float>({1, 3}, {1.f, 2.f, 3.f});
    Tensor w = Tensor::from_vector<float>({2, 3}, {1.f, 0.f, 0.f, 0.f, 1.f, 1.f});
    Tensor y = ops::linear(x, w);
    const float* p = y.data<float>();
    if (std::fabs(p[0] - 1.f) > 1e-6f || std::fabs(p[1] - 5.f) > 1e-6f) {
        std::printf("consumer: wrong result %f %f\n", p[0], p[1]);
        return 1;
    }
    // Run-time dispatch: the best path the CPU has, judged here independently of the library.
    CpuIsa best = CpuIsa::sse2;
#if defined(__x86_64__) || defined(__i386__)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        best = CpuIsa::avx2;
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
            best = CpuIsa::avx512;
    }
#endif
    const char* forced = std::getenv("ERRSEG_ISA");
    if ((!forced || !*forced) && active_cpu_isa() != best) {
        std::printf("consumer: CPU kernels run the %s path, this CPU has %s\n", cpu_isa_name(active_cpu_isa()),
                    cpu_isa_name(best));
        return 1;
    }
    std::printf("consumer: CPU kernel path %s\n", cpu_isa_name(active_cpu_isa()));
    // The run-time front: a CUDA device is refused by a build without errseg::cuda, and by a CUDA
    // build on a machine without a GPU; with one, the missing model file is the error.
    try {
        Segmenter seg(ModelParams{"no_such_model.safetensors", Device::parse("cuda")});
        std::printf("consumer: opening a missing model did not fail\n");
        return 1;
    } catch (const Error& e) {
        const std::string msg = e.what();
#if defined(ERRSEG_WITH_CUDA)
        const bool expected = msg.find("no usable CUDA device") != std::string::npos ||
                              msg.find("no_such_model.safetensors") != std::string::npos;
#else
        const bool expected = msg.find("built without the CUDA backend") != std::string::npos;
#endif
        if (!expected) {
            std::printf("consumer: unexpected error for --device cuda: %s\n", msg.c_str());
            return 1;
        }
        std::printf("consumer: --device cuda -> %s\n", msg.c_str());
    }
    std::printf("consumer: errseg works (%f, %f)\n", p[0], p[1]);
    return 0;
}
