// Deterministic random host tensors and their round trip through a storage dtype, shared by the
// GPU tests (tests/cuda) and the cross-backend op test (tests/backend_ops).
#pragma once
#include <cstdint>
#include <random>

#include "errseg/core.hpp"

namespace errseg_test {

// Uniform in [lo, hi), deterministic per seed.
inline errseg::Tensor rand_tensor(const errseg::Shape& s, uint32_t seed, float lo = -1.f, float hi = 1.f) {
    errseg::Tensor t = errseg::Tensor::empty(s);
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> d(lo, hi);
    float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = d(gen);
    return t;
}

// The float32 values a tensor has after storage in `dt` (what a backend computing in dt sees).
inline errseg::Tensor quantize(const errseg::Tensor& x, errseg::DType dt) {
    errseg::Tensor c = x.contiguous().clone();
    float* p = c.data<float>();
    for (int64_t i = 0; i < c.numel(); ++i) {
        if (dt == errseg::DType::F16) p[i] = errseg::half_to_float(errseg::float_to_half(p[i]));
        else if (dt == errseg::DType::BF16) p[i] = errseg::bf16_to_float(errseg::float_to_bf16(p[i]));
    }
    return c;
}

}  // namespace errseg_test
