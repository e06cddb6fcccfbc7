// layer_norm, layer_norm2d, group_norm, l2_normalize against PyTorch.
#include "test_ops_util.hpp"

using namespace errseg;
using optest::load;

TEST_CASE("layer_norm matches F.layer_norm") {
    optest::check_f32(ops::layer_norm(load("layer_norm", "x"), load("layer_norm", "w"), load("layer_norm", "b"), 1e-5f),
                      load("layer_norm", "out"), "layer_norm (mean 5, affine)");
    // Tiny spread around a large mean: a one-pass E[x^2]-E[x]^2 would lose it entirely.
    optest::check_f32(ops::layer_norm(load("layer_norm_plain", "x"), Tensor(), Tensor(), 1e-6f),
                      load("layer_norm_plain", "out"), "layer_norm (std 0.01, mean -3, no affine)");
    optest::check_f32(ops::layer_norm(optest::strided_copy(load("layer_norm", "x"), 0, 1), load("layer_norm", "w"),
                                      load("layer_norm", "b"), 1e-5f),
                      load("layer_norm", "out"), "layer_norm strided");
}

TEST_CASE("layer_norm2d normalises over channels") {
    optest::check_f32(
        ops::layer_norm2d(load("layer_norm2d", "x"), load("layer_norm2d", "w"), load("layer_norm2d", "b"), 1e-6f),
        load("layer_norm2d", "out"), "layer_norm2d");
    const Tensor x = load("layer_norm2d", "x");
    const Tensor xs = x.permute({0, 2, 3, 1}).contiguous().permute({0, 3, 1, 2});
    optest::check_f32(ops::layer_norm2d(xs, load("layer_norm2d", "w"), load("layer_norm2d", "b"), 1e-6f),
                      load("layer_norm2d", "out"), "layer_norm2d channels-last input");
}

TEST_CASE("group_norm matches F.group_norm") {
    optest::check_f32(
        ops::group_norm(load("group_norm", "x"), 4, load("group_norm", "w"), load("group_norm", "b"), 1e-5f),
        load("group_norm", "out"), "group_norm 4 groups");
    optest::check_f32(ops::group_norm(load("group_norm_3d", "x"), 2, Tensor(), Tensor(), 1e-5f),
                      load("group_norm_3d", "out"), "group_norm on [N, C, L]");
}

TEST_CASE("l2_normalize matches F.normalize") {
    const Tensor out = ops::l2_normalize(load("l2_normalize", "x"));
    optest::check_f32(out, load("l2_normalize", "out"), "l2_normalize");
    for (int64_t j = 0; j < 17; ++j) CHECK(out.data<float>()[2 * 17 + j] == 0.f);  // zero row stays zero
}

TEST_CASE("norm errors name the shapes") {
    CHECK_THROWS_WITH_AS(ops::layer_norm(Tensor::zeros({2, 5}), Tensor::zeros({4}), Tensor(), 1e-5f),
                         doctest::Contains("[4]"), Error);
    CHECK_THROWS_WITH_AS(ops::layer_norm2d(Tensor::zeros({2, 5, 3}), Tensor(), Tensor(), 1e-6f),
                         doctest::Contains("[2, 5, 3]"), Error);
    CHECK_THROWS_WITH_AS(ops::group_norm(Tensor::zeros({2, 6, 3, 3}), 4, Tensor(), Tensor(), 1e-5f),
                         doctest::Contains("[2, 6, 3, 3]"), Error);
    CHECK_THROWS_WITH_AS(ops::group_norm(Tensor::zeros({2, 6, 3, 3}), 3, Tensor::zeros({5}), Tensor(), 1e-5f),
                         doctest::Contains("weight"), Error);
}

TEST_CASE("norm results do not depend on the thread count") {
    const Tensor x = optest::random({3, 40, 33, 17}, 1), w = optest::random({40}, 2), b = optest::random({40}, 3);
    optest::check_thread_invariant([&] { return ops::layer_norm2d(x, w, b, 1e-6f); }, "layer_norm2d");
    optest::check_thread_invariant([&] { return ops::group_norm(x, 8, w, b, 1e-5f); }, "group_norm");
    const Tensor y = optest::random({500, 96}, 4), wy = optest::random({96}, 5), by = optest::random({96}, 6);
    optest::check_thread_invariant([&] { return ops::layer_norm(y, wy, by, 1e-5f); }, "layer_norm");
    optest::check_thread_invariant([&] { return ops::l2_normalize(y); }, "l2_normalize");
}
