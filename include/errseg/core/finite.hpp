// NaN / Inf detection for float32 tensors: model weights when they are read, class embeddings
// from files, and the logits the decoder produces (finite but extreme weights can overflow
// them). A non-finite value there would otherwise give a confident-looking label map.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

#include "error.hpp"
#include "tensor.hpp"

namespace errseg {

struct NonFiniteCount {
    size_t count = 0;      // NaN and +-Inf values
    size_t first = 0;      // element index of the first one (row-major)
    float first_value = 0;
};

// Counts by exponent bits (all ones = NaN or Inf), so it is exact under -ffast-math too.
inline NonFiniteCount count_non_finite(const Tensor& t_in) {
    ERRSEG_CHECK(t_in.dtype() == DType::F32, "count_non_finite: expected an F32 tensor, got ", dtype_name(t_in.dtype()));
    const Tensor t = t_in.contiguous();
    const uint32_t* bits = static_cast<const uint32_t*>(t.raw());
    const size_t n = size_t(t.numel());
    NonFiniteCount r;
    for (size_t i = 0; i < n; ++i) r.count += (bits[i] & 0x7F800000u) == 0x7F800000u;
    if (r.count == 0) return r;
    while ((bits[r.first] & 0x7F800000u) != 0x7F800000u) ++r.first;
    std::memcpy(&r.first_value, bits + r.first, sizeof(float));
    return r;
}

// Fails with "<what> holds N non-finite value(s) (NaN/Inf; first: V at element I)<consequence>".
inline void check_finite(const Tensor& t, const std::string& what, const std::string& consequence = "") {
    const NonFiniteCount r = count_non_finite(t);
    if (r.count == 0) return;
    fail(what, " holds ", r.count, " non-finite value", r.count > 1 ? "s" : "", " (NaN/Inf; first: ", r.first_value,
         " at element ", r.first, ")", consequence);
}

}  // namespace errseg
