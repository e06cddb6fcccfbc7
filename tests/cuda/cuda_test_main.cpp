// doctest main for the GPU tests: without a usable CUDA device the binary reports a skip and
// exits 0 (CI machines have no GPU); ERRSEG_CUDA_REQUIRE_DEVICE=1 makes that a failure instead.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>

#include "errseg/cuda/device.hpp"

int main(int argc, char** argv) {
    const char* prog = argc > 0 ? argv[0] : "test";
    if (errseg::cuda::cuda_device_count() == 0) {
        std::printf("%s: SKIPPED - no CUDA device (%s)\n", prog, errseg::cuda::cuda_unavailable_reason().c_str());
        const char* req = std::getenv("ERRSEG_CUDA_REQUIRE_DEVICE");
        return (req && req[0] == '1') ? 1 : 0;
    }
    const auto& info = errseg::cuda::device_info();
    std::printf("%s: running on %s (sm_%d, %d SMs)\n", prog, info.name.c_str(), info.compute_capability(),
                info.sm_count);
    doctest::Context ctx(argc, argv);
    return ctx.run();
}
