// Shared helpers of the GPU tests: random host tensors, round trips through a storage dtype,
// and an elementwise closeness check that reports the worst element.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "errseg/core.hpp"
#include "errseg/cuda/backend.hpp"
#include "random_tensors.hpp"

namespace cuda_test {

using errseg::DType;
using errseg::Shape;
using errseg::Tensor;
using errseg::cuda::DeviceTensor;

inline const std::vector<DType>& float_types() {
    static const std::vector<DType> t{DType::F32, DType::F16, DType::BF16};
    return t;
}

using errseg_test::quantize;
using errseg_test::rand_tensor;

inline DeviceTensor up(const Tensor& x, DType dt) { return errseg::cuda::to_device(x, dt); }
inline Tensor down(const DeviceTensor& d) { return errseg::cuda::to_host(d).to_f32(); }

// Tolerances for outputs stored in dt, relative to the typical output magnitude `scale`.
struct Tol {
    double atol, rtol;
};
inline Tol tol_for(DType dt, double scale = 1.0) {
    switch (dt) {
        case DType::F16: return {2e-3 * scale, 2e-3};
        case DType::BF16: return {1.6e-2 * scale, 1.6e-2};
        default: return {2e-5 * scale, 2e-5};
    }
}

inline void check_close(const Tensor& got, const Tensor& want, Tol tol, const std::string& what) {
    INFO(what);
    REQUIRE(got.shape() == want.shape());
    const Tensor g = got.to_f32(), w = want.to_f32();
    const float* pg = g.data<float>();
    const float* pw = w.data<float>();
    int64_t worst = -1, bad = 0;
    double worst_excess = 0;
    for (int64_t i = 0; i < g.numel(); ++i) {
        const double d = std::fabs(double(pg[i]) - double(pw[i]));
        const double lim = tol.atol + tol.rtol * std::fabs(double(pw[i]));
        const bool ok = d <= lim || (std::isnan(pg[i]) && std::isnan(pw[i])) ||
                        (std::isinf(pw[i]) && pg[i] == pw[i]);
        if (!ok) {
            ++bad;
            if (worst < 0 || d - lim > worst_excess) {
                worst = i;
                worst_excess = d - lim;
            }
        }
    }
    if (bad) {
        INFO("shape " << errseg::shape_str(g.shape()) << ": " << bad << " of " << g.numel()
                      << " elements out of tolerance; worst at flat index " << worst << ": got " << pg[worst]
                      << ", want " << pw[worst] << " (atol " << tol.atol << ", rtol " << tol.rtol << ")");
        CHECK(bad == 0);
    }
}

inline std::string dtype_label(DType dt) { return errseg::dtype_name(dt); }

}  // namespace cuda_test
