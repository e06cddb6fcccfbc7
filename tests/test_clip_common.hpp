// Shared helpers of the CLIP parity tests (test_clip_*.cpp): where the converted tiny models
// and their PyTorch references live, and the error measure used against them.
//
// References: tests/reference/gen_clip_models.py -> tests/data/clip/<stem>.<name>.npy;
// models: tests/convert_test_models.py -> ${ERRSEG_BUILD_DIR}/test_models/<stem>.safetensors
// (the ctest fixture `test_models` runs it first).
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>

#include "errseg/core.hpp"
#include "errseg/io/npy.hpp"
#include "errseg/io/weights.hpp"

namespace clip_test {

inline std::string data(const std::string& stem, const std::string& name) {
    return std::string(ERRSEG_TEST_DATA) + "/clip/" + stem + "." + name + ".npy";
}

inline errseg::Tensor ref(const std::string& stem, const std::string& name) {
    return errseg::read_npy(data(stem, name));
}

inline std::string model_path(const std::string& stem) {
    return std::string(ERRSEG_BUILD_DIR) + "/test_models/" + stem + ".safetensors";
}

inline errseg::Weights open_model(const std::string& stem) {
    const std::string path = model_path(stem);
    if (!std::ifstream(path).good())
        FAIL("missing ", path, ": run `python3 tests/convert_test_models.py ", ERRSEG_BUILD_DIR,
             "/test_models` (ctest runs it as the test_models fixture)");
    return errseg::Weights::open(path);
}

struct Error {
    double max_abs = 0;   // max |a - b|
    double max_ref = 0;   // max |b|
    double rel() const { return max_abs / std::max(max_ref, 1e-30); }  // scale-normalised error
};

// Same shape required; the error is normalised by the reference's largest magnitude.
inline Error compare(const errseg::Tensor& got, const errseg::Tensor& want) {
    REQUIRE_MESSAGE(got.shape() == want.shape(), "shape ", errseg::shape_str(got.shape()), " vs reference ",
                    errseg::shape_str(want.shape()));
    const errseg::Tensor a = got.contiguous(), b = want.contiguous();
    const float* pa = a.data<float>();
    const float* pb = b.data<float>();
    Error e;
    for (int64_t i = 0; i < a.numel(); ++i) {
        REQUIRE_MESSAGE(std::isfinite(pa[i]), "non-finite value at ", i);
        e.max_abs = std::max(e.max_abs, double(std::fabs(pa[i] - pb[i])));
        e.max_ref = std::max(e.max_ref, double(std::fabs(pb[i])));
    }
    return e;
}

// Checks max |a - b| <= tol * max |b| and prints the figures.
inline Error check_close(const std::string& what, const errseg::Tensor& got, const errseg::Tensor& want,
                         double tol = 1e-4) {
    Error e = compare(got, want);
    std::printf("  %-44s max abs %.3e  max |ref| %.3e  rel %.3e\n", what.c_str(), e.max_abs, e.max_ref, e.rel());
    CHECK_MESSAGE(e.rel() <= tol, what, ": relative error ", e.rel(), " > ", tol);
    return e;
}

}  // namespace clip_test
