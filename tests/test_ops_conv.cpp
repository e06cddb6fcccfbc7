// conv2d (general, grouped, 1x1, depthwise) and conv_transpose2d against PyTorch.
#include "test_ops_util.hpp"

using namespace errseg;
using optest::load;

namespace {

ops::Conv2dParams conv_params(int sh, int sw, int ph, int pw, int dh, int dw, int groups) {
    ops::Conv2dParams p;
    p.stride_h = sh, p.stride_w = sw, p.pad_h = ph, p.pad_w = pw, p.dilation_h = dh, p.dilation_w = dw;
    p.groups = groups;
    return p;
}

struct ConvCase {
    const char* name;
    bool bias;
    ops::Conv2dParams p;
};

// Parameters mirror gen_conv() in tests/reference/gen_ops.py.
const ConvCase kConvCases[] = {
    {"conv_basic", true, conv_params(1, 1, 1, 1, 1, 1, 1)},
    {"conv_s2", false, conv_params(2, 2, 1, 1, 1, 1, 1)},
    {"conv_dil", true, conv_params(1, 2, 2, 1, 2, 1, 1)},
    {"conv_groups", true, conv_params(1, 1, 1, 1, 1, 1, 3)},
    {"conv_1x1", true, conv_params(1, 1, 0, 0, 1, 1, 1)},
    {"conv_1x1_s2", true, conv_params(2, 2, 0, 0, 1, 1, 1)},
    {"conv_stem", true, conv_params(4, 4, 0, 0, 1, 1, 1)},
    {"conv_big", true, conv_params(1, 1, 1, 1, 1, 1, 1)},
    {"conv_dw7", true, conv_params(1, 1, 3, 3, 1, 1, 10)},
    {"conv_dw3_s2", false, conv_params(2, 2, 1, 1, 1, 1, 6)},
    {"conv_dw_dil", true, conv_params(1, 1, 2, 2, 2, 2, 5)},
    {"conv_dw3", true, conv_params(1, 1, 1, 1, 1, 1, 11)},
    {"conv_dw7_big", true, conv_params(1, 1, 3, 3, 1, 1, 9)},
    {"conv_dw5_nopad", false, conv_params(1, 1, 0, 0, 1, 1, 3)},
};

struct ConvTCase {
    const char* name;
    bool bias;
    ops::ConvTranspose2dParams p;
};

ops::ConvTranspose2dParams convt_params(int sh, int sw, int ph, int pw, int oph, int opw, int groups) {
    ops::ConvTranspose2dParams p;
    p.stride_h = sh, p.stride_w = sw, p.pad_h = ph, p.pad_w = pw, p.output_pad_h = oph, p.output_pad_w = opw;
    p.groups = groups;
    return p;
}

const ConvTCase kConvTCases[] = {
    {"convt_k2s2", true, convt_params(2, 2, 0, 0, 0, 0, 1)},
    {"convt_s2_pad_opad", true, convt_params(2, 2, 1, 1, 1, 1, 1)},
    {"convt_groups", false, convt_params(1, 1, 1, 1, 0, 0, 2)},
    {"convt_asym", true, convt_params(3, 2, 1, 0, 2, 1, 1)},
};

}  // namespace

TEST_CASE("conv2d matches F.conv2d") {
    for (const ConvCase& c : kConvCases) {
        const Tensor b = c.bias ? load(c.name, "b") : Tensor();
        optest::check_f32(ops::conv2d(load(c.name, "x"), load(c.name, "w"), b, c.p), load(c.name, "out"), c.name);
    }
}

TEST_CASE("conv2d accepts strided (channels-last) input") {
    for (const ConvCase& c : kConvCases) {
        const Tensor x = load(c.name, "x");
        // NHWC memory viewed as NCHW.
        const Tensor xs = x.permute({0, 2, 3, 1}).contiguous().permute({0, 3, 1, 2});
        const Tensor b = c.bias ? load(c.name, "b") : Tensor();
        optest::check_f32(ops::conv2d(xs, load(c.name, "w"), b, c.p), load(c.name, "out"),
                          std::string(c.name) + " strided");
    }
}

TEST_CASE("conv2d_depthwise_nhwc matches F.conv2d on the channels-last data") {
    // The PyTorch depthwise cases with stride 1 and no dilation (gen_conv in gen_ops.py).
    for (const ConvCase& c : kConvCases) {
        if (c.p.groups != load(c.name, "x").size(1) || c.p.stride_h != 1 || c.p.stride_w != 1 ||
            c.p.dilation_h != 1 || c.p.dilation_w != 1)
            continue;
        const Tensor x_nhwc = load(c.name, "x").permute({0, 2, 3, 1}).contiguous();
        const Tensor b = c.bias ? load(c.name, "b") : Tensor();
        const Tensor y = ops::conv2d_depthwise_nhwc(x_nhwc, load(c.name, "w"), b, c.p.pad_h, c.p.pad_w);
        optest::check_f32(y.permute({0, 3, 1, 2}).contiguous(), load(c.name, "out"), std::string(c.name) + " nhwc");
    }
    // Channel counts around the 64-channel block (full blocks, a tail, tail only) against the
    // NCHW path, ERR-Seg's 7x7 included.
    for (int64_t C : {64, 130, 7}) {
        const Tensor x = optest::random({2, 9, 13, C}, 11), w = optest::random({C, 1, 7, 7}, 12);
        const Tensor b = optest::random({C}, 13);
        const Tensor ref = ops::conv2d(x.permute({0, 3, 1, 2}), w, b, conv_params(1, 1, 3, 3, 1, 1, int(C)));
        const Tensor got = ops::conv2d_depthwise_nhwc(x, w, b, 3, 3).permute({0, 3, 1, 2}).contiguous();
        REQUIRE(got.shape() == ref.shape());
        double worst = 0;
        for (int64_t i = 0; i < ref.numel(); ++i)
            worst = std::max(worst, double(std::fabs(got.data<float>()[i] - ref.data<float>()[i])));
        CAPTURE(C);
        CHECK(worst <= 1e-5);
    }
    const Tensor x = optest::random({2, 37, 29, 130}, 14), w = optest::random({130, 1, 7, 7}, 15);
    optest::check_thread_invariant([&] { return ops::conv2d_depthwise_nhwc(x, w, Tensor(), 3, 3); }, "depthwise nhwc");
    CHECK_THROWS_WITH_AS(ops::conv2d_depthwise_nhwc(x, Tensor::zeros({129, 1, 7, 7}), Tensor(), 3, 3),
                         doctest::Contains("[129, 1, 7, 7]"), Error);
}

TEST_CASE("conv_transpose2d matches F.conv_transpose2d") {
    for (const ConvTCase& c : kConvTCases) {
        const Tensor b = c.bias ? load(c.name, "b") : Tensor();
        optest::check_f32(ops::conv_transpose2d(load(c.name, "x"), load(c.name, "w"), b, c.p), load(c.name, "out"),
                          c.name);
    }
}

TEST_CASE("conv results do not depend on the thread count") {
    const Tensor x = optest::random({2, 24, 37, 29}, 1);
    const Tensor w = optest::random({40, 24, 3, 3}, 2), b = optest::random({40}, 3);
    optest::check_thread_invariant([&] { return ops::conv2d(x, w, b, conv_params(1, 1, 1, 1, 1, 1, 1)); }, "3x3");
    const Tensor x1 = optest::random({1, 24, 80, 80}, 9);
    optest::check_thread_invariant([&] { return ops::conv2d(x1, w, b, conv_params(1, 1, 1, 1, 1, 1, 1)); },
                                   "3x3 many tiles");
    const Tensor w1 = optest::random({40, 24, 1, 1}, 4);
    optest::check_thread_invariant([&] { return ops::conv2d(x, w1, b, conv_params(1, 1, 0, 0, 1, 1, 1)); }, "1x1");
    const Tensor wd = optest::random({24, 1, 7, 7}, 5), bd = optest::random({24}, 6);
    optest::check_thread_invariant([&] { return ops::conv2d(x, wd, bd, conv_params(1, 1, 3, 3, 1, 1, 24)); },
                                   "depthwise");
    const Tensor wt = optest::random({24, 16, 2, 2}, 7), bt = optest::random({16}, 8);
    optest::check_thread_invariant(
        [&] { return ops::conv_transpose2d(x, wt, bt, convt_params(2, 2, 0, 0, 0, 0, 1)); }, "transposed");
}

TEST_CASE("conv errors name the shapes") {
    const Tensor x = Tensor::zeros({1, 4, 8, 8});
    CHECK_THROWS_WITH_AS(ops::conv2d(x, Tensor::zeros({6, 3, 3, 3}), Tensor(), ops::Conv2dParams{}),
                         doctest::Contains("[6, 3, 3, 3]"), Error);
    CHECK_THROWS_WITH_AS(ops::conv2d(x, Tensor::zeros({6, 3, 3, 3}), Tensor(), ops::Conv2dParams{}),
                         doctest::Contains("[1, 4, 8, 8]"), Error);
    CHECK_THROWS_WITH_AS(ops::conv2d(Tensor::zeros({4, 8, 8}), Tensor::zeros({6, 4, 3, 3}), Tensor(), {}),
                         doctest::Contains("[4, 8, 8]"), Error);
    CHECK_THROWS_WITH_AS(ops::conv2d(x, Tensor::zeros({6, 4, 9, 9}), Tensor(), ops::Conv2dParams{}),
                         doctest::Contains("smaller than the kernel"), Error);
    CHECK_THROWS_WITH_AS(ops::conv2d(x, Tensor::zeros({6, 4, 3, 3}), Tensor::zeros({5}), ops::Conv2dParams{}),
                         doctest::Contains("bias"), Error);
    ops::Conv2dParams g3;
    g3.groups = 3;
    CHECK_THROWS_WITH_AS(ops::conv2d(x, Tensor::zeros({6, 1, 3, 3}), Tensor(), g3), doctest::Contains("groups=3"),
                         Error);
    ops::ConvTranspose2dParams tp;
    tp.stride_h = tp.stride_w = 2;
    tp.output_pad_h = 2;
    CHECK_THROWS_WITH_AS(ops::conv_transpose2d(x, Tensor::zeros({4, 2, 2, 2}), Tensor(), tp),
                         doctest::Contains("output padding"), Error);
    CHECK_THROWS_WITH_AS(ops::conv_transpose2d(x, Tensor::zeros({3, 2, 2, 2}), Tensor(), {}),
                         doctest::Contains("[3, 2, 2, 2]"), Error);
}
