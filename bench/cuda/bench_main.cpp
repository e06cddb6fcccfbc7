// Google Benchmark main for the GPU benchmarks: skips (exit 0) without a CUDA device and prints
// the device so published numbers carry their machine.
#include <benchmark/benchmark.h>

#include <cstdio>

#include "errseg/cuda/device.hpp"

int main(int argc, char** argv) {
    if (errseg::cuda::cuda_device_count() == 0) {
        std::printf("%s: SKIPPED - no CUDA device (%s)\n", argc > 0 ? argv[0] : "bench",
                    errseg::cuda::cuda_unavailable_reason().c_str());
        return 0;
    }
    const auto& info = errseg::cuda::device_info();
    int runtime = 0, driver = 0;
    cudaRuntimeGetVersion(&runtime);
    cudaDriverGetVersion(&driver);
    benchmark::AddCustomContext("cuda_device", info.name);
    benchmark::AddCustomContext("cuda_cc", std::to_string(info.compute_capability()));
    benchmark::AddCustomContext("cuda_sms", std::to_string(info.sm_count));
    benchmark::AddCustomContext("cuda_runtime", std::to_string(runtime));
    benchmark::AddCustomContext("cuda_driver", std::to_string(driver));
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
