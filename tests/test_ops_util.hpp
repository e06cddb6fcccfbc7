// Shared helpers of the op tests: fixtures from tests/data/ops (written by
// tests/reference/gen_ops.py), tolerance checks and thread-count determinism.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <string>

#include <errseg/io/npy.hpp>
#include <errseg/ops.hpp>

namespace optest {

using errseg::Tensor;

inline Tensor load(const std::string& case_name, const std::string& name) {
    return errseg::read_npy(std::string(ERRSEG_TEST_DATA) + "/ops/" + case_name + "." + name + ".npy");
}

struct Err {
    double max_abs = 0, max_rel = 0;
};

// Elementwise |got - want| <= max(atol, rtol * |want|); NaN must match NaN. Returns the errors.
inline Err check_close(const Tensor& got_in, const Tensor& want_in, double atol, double rtol,
                       const std::string& what) {
    INFO(what);
    REQUIRE(got_in.defined());
    REQUIRE(errseg::shape_str(got_in.shape()) == errseg::shape_str(want_in.shape()));
    Tensor got = got_in.to_f32(), want = want_in.to_f32();
    const float* g = got.data<float>();
    const float* w = want.data<float>();
    Err e;
    int64_t bad = 0, first_bad = -1;
    for (int64_t i = 0; i < got.numel(); ++i) {
        if (std::isnan(w[i]) || std::isnan(g[i])) {
            if (std::isnan(w[i]) != std::isnan(g[i]) && bad++ == 0) first_bad = i;
            continue;
        }
        const double d = std::fabs(double(g[i]) - double(w[i]));
        const double r = d / std::max(std::fabs(double(w[i])), 1e-30);
        e.max_abs = std::max(e.max_abs, d);
        if (std::fabs(w[i]) > 1e-2) e.max_rel = std::max(e.max_rel, r);  // rel. error of non-tiny values
        if (d > std::max(atol, rtol * std::fabs(double(w[i]))) && bad++ == 0) first_bad = i;
    }
    if (bad) {
        INFO("first bad element " << first_bad << ": got " << g[first_bad] << ", want " << w[first_bad]);
        INFO(bad << " elements out of tolerance; max abs err " << e.max_abs << ", max rel err " << e.max_rel);
        CHECK(bad == 0);
    }
    MESSAGE(what << ": max abs err " << e.max_abs << ", max rel err " << e.max_rel);
    return e;
}

// Default fp32 tolerance against float64 references.
inline Err check_f32(const Tensor& got, const Tensor& want, const std::string& what) {
    return check_close(got, want, 1e-5, 1e-4, what);
}

// Same dtype, shape and bytes.
inline bool identical(const Tensor& a, const Tensor& b) {
    if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
    Tensor ac = a.contiguous(), bc = b.contiguous();
    return std::memcmp(ac.raw(), bc.raw(), ac.nbytes()) == 0;
}

// Runs fn with 1 and with 2 threads (then restores the count); results must be bit-identical.
inline void check_thread_invariant(const std::function<Tensor()>& fn, const std::string& what) {
    INFO(what);
    const int before = errseg::get_num_threads();
    errseg::set_num_threads(1);
    Tensor one = fn();
    errseg::set_num_threads(2);
    Tensor two = fn();
    errseg::set_num_threads(4);
    Tensor four = fn();
    errseg::set_num_threads(before);
    CHECK(identical(one, two));
    CHECK(identical(one, four));
}

// A float32 random tensor (deterministic LCG; values in [-1, 1)).
inline Tensor random(const errseg::Shape& shape, uint32_t seed = 1) {
    Tensor t = Tensor::empty(shape);
    float* p = t.data<float>();
    uint32_t s = seed * 2654435761u + 12345u;
    for (int64_t i = 0; i < t.numel(); ++i) {
        s = s * 1664525u + 1013904223u;
        p[i] = float(s >> 8) / float(1 << 23) - 1.f;
    }
    return t;
}

// A non-contiguous view holding the same values as `t`: built as the transpose of a
// transposed copy, so its strides differ but the logical contents do not.
inline Tensor strided_copy(const Tensor& t, int64_t a = -1, int64_t b = -2) {
    return t.transpose(a, b).contiguous().transpose(a, b);
}

}  // namespace optest
