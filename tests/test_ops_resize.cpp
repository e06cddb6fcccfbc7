// Bilinear / bicubic resampling (F.interpolate semantics) and average pooling against PyTorch.
#include "test_ops_util.hpp"

using namespace errseg;
using optest::load;

// These are float32 PyTorch outputs (not float64 references): the bilinear weights are
// PyTorch's bit for bit, so only the rounding of the final multiply-adds differs; the bicubic
// weights may differ in their last bit.
constexpr double kResizeTol = 2e-6;
constexpr double kBicubicTol = 4e-6;

TEST_CASE("resize_bilinear and resize_bicubic match F.interpolate") {
    const Tensor x = load("resize", "x");
    const int sizes[][2] = {{13, 11}, {4, 3}, {7, 5}, {1, 1}, {16, 2}};
    for (const auto& s : sizes) {
        for (bool ac : {false, true}) {
            const std::string tag = std::to_string(s[0]) + "x" + std::to_string(s[1]) + (ac ? "_ac" : "_noac");
            optest::check_close(ops::resize_bilinear(x, s[0], s[1], ac), load("resize", "bilinear_" + tag), kResizeTol,
                                kResizeTol, "bilinear " + tag);
            optest::check_close(ops::resize_bicubic(x, s[0], s[1], ac), load("resize", "bicubic_" + tag), kBicubicTol,
                                kBicubicTol, "bicubic " + tag);
        }
    }
}

TEST_CASE("resize call sites of the model") {
    optest::check_close(ops::resize_bilinear(load("resize_hsm", "x"), 40, 40, false), load("resize_hsm", "out"),
                        kResizeTol, kResizeTol, "HSM 41->40");
    optest::check_close(ops::resize_bilinear(load("resize_20", "x"), 40, 40, false), load("resize_20", "out_noac"),
                        kResizeTol, kResizeTol, "20->40");
    optest::check_close(ops::resize_bilinear(load("resize_20", "x"), 40, 40, true), load("resize_20", "out_ac"),
                        kResizeTol, kResizeTol, "20->40 align_corners");
    optest::check_close(ops::resize_bicubic(load("resize_bicubic_down", "x"), 10, 9, false),
                        load("resize_bicubic_down", "out"), kBicubicTol, kBicubicTol, "bicubic 23x31->10x9");
    optest::check_close(ops::resize_bilinear(optest::strided_copy(load("resize_20", "x")), 40, 40, true),
                        load("resize_20", "out_ac"), kResizeTol, kResizeTol, "strided input");
}

TEST_CASE("avg_pool2d matches F.avg_pool2d") {
    const Tensor x = load("avg_pool", "x");
    optest::check_close(ops::avg_pool2d(x, 2, 2), load("avg_pool", "k2s2"), 1e-7, 1e-6, "avg_pool k2 s2 on 7x9");
    optest::check_close(ops::avg_pool2d(x, 3, 2), load("avg_pool", "k3s2"), 1e-7, 1e-6, "avg_pool k3 s2 on 7x9");
}

TEST_CASE("resize and pool errors") {
    CHECK_THROWS_WITH_AS(ops::resize_bilinear(Tensor::zeros({3, 4, 5}), 8, 8, false), doctest::Contains("[3, 4, 5]"),
                         Error);
    CHECK_THROWS_WITH_AS(ops::resize_bicubic(Tensor::zeros({1, 3, 4, 5}), 0, 8, false), doctest::Contains("0x8"),
                         Error);
    CHECK_THROWS_WITH_AS(ops::avg_pool2d(Tensor::zeros({1, 3, 1, 5}), 2, 2), doctest::Contains("[1, 3, 1, 5]"), Error);
}

TEST_CASE("resize results do not depend on the thread count") {
    const Tensor x = optest::random({2, 5, 37, 23}, 1);
    optest::check_thread_invariant([&] { return ops::resize_bilinear(x, 80, 61, false); }, "bilinear");
    optest::check_thread_invariant([&] { return ops::resize_bicubic(x, 19, 50, true); }, "bicubic");
    optest::check_thread_invariant([&] { return ops::avg_pool2d(x, 2, 2); }, "avg_pool");
}
