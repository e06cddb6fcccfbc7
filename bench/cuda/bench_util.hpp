// Shared pieces of the GPU benchmarks: random device tensors, an L2 flush, and CUDA-event
// timing fed to Google Benchmark as manual time (so host launch overhead is excluded and every
// iteration starts with a cold L2, as llm.c's benchmarks do).
#pragma once
#include <benchmark/benchmark.h>

#include <functional>
#include <random>

#include "errseg/core.hpp"
#include "errseg/cuda/backend.hpp"

namespace cuda_bench {

using errseg::DType;
using errseg::Shape;
using errseg::Tensor;
using errseg::cuda::DeviceTensor;

inline DeviceTensor random_device(const Shape& s, DType dt, float lo = -1.f, float hi = 1.f, uint32_t seed = 1) {
    Tensor t = Tensor::empty(s);
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> d(lo, hi);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(gen);
    return errseg::cuda::to_device(t, dt);
}

// Writes a buffer twice the L2 size so the next kernel starts from DRAM.
class L2Flush {
public:
    L2Flush() {
        bytes_ = 2 * std::max<size_t>(errseg::cuda::device_info().l2_bytes, size_t(1) << 20);
        buf_ = DeviceTensor::empty({int64_t(bytes_)}, DType::U8);
    }
    void operator()(cudaStream_t s) { ERRSEG_CUDA_CHECK(cudaMemsetAsync(buf_.data(), 0, bytes_, s)); }

private:
    size_t bytes_;
    DeviceTensor buf_;
};

// Runs `work` once per benchmark iteration on `stream`, timed by CUDA events.
inline void time_loop(benchmark::State& state, cudaStream_t stream, const std::function<void()>& work,
                      bool flush_l2 = true) {
    static L2Flush* flush = new L2Flush();
    cudaEvent_t start, stop;
    ERRSEG_CUDA_CHECK(cudaEventCreate(&start));
    ERRSEG_CUDA_CHECK(cudaEventCreate(&stop));
    work();  // warm-up (also lazy module loading)
    ERRSEG_CUDA_CHECK(cudaStreamSynchronize(stream));
    for (auto _ : state) {
        if (flush_l2) (*flush)(stream);
        ERRSEG_CUDA_CHECK(cudaEventRecord(start, stream));
        work();
        ERRSEG_CUDA_CHECK(cudaEventRecord(stop, stream));
        ERRSEG_CUDA_CHECK(cudaEventSynchronize(stop));
        float ms = 0.f;
        ERRSEG_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
        state.SetIterationTime(double(ms) * 1e-3);
    }
    ERRSEG_CUDA_CHECK(cudaEventDestroy(start));
    ERRSEG_CUDA_CHECK(cudaEventDestroy(stop));
}

inline const char* dtype_label(DType dt) { return errseg::dtype_name(dt); }

}  // namespace cuda_bench
