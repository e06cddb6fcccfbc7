// What the cross-backend op table (tests/backend_ops) does not check on the GPU facade: dtype
// casts (exact), layout ops on integer tensors, and the argument errors each op reports.
#include "cuda_test_util.hpp"

using namespace cuda_test;
namespace ec = errseg::cuda;

TEST_CASE("cast chains through every pair of float dtypes exactly") {
    const Tensor x = rand_tensor({2, 3, 4, 5}, 40, -3.f, 3.f);
    for (DType a : float_types())
        for (DType b : float_types()) {
            const Tensor got = down(ec::ops::cast(ec::ops::cast(up(x, DType::F32), a), b));
            check_close(got, quantize(quantize(x, a), b), {0, 0},
                        "cast F32 -> " + dtype_label(a) + " -> " + dtype_label(b));
        }
}

TEST_CASE("permute of an integer tensor") {
    const Tensor ints = Tensor::from_vector<int64_t>({2, 3}, {1, 2, 3, 4, 5, 6});
    const Tensor pi = ec::to_host(ec::ops::permute(ec::to_device(ints), {1, 0}));
    REQUIRE(pi.shape() == Shape({3, 2}));
    CHECK(pi.data<int64_t>()[1] == 4);
    CHECK(pi.data<int64_t>()[4] == 3);
}

TEST_CASE("argument errors are reported as errseg::Error") {
    const auto f32 = [](const Shape& s) { return up(rand_tensor(s, 1), DType::F32); };
    ec::ops::Conv2dParams p;
    p.pad_h = p.pad_w = 1;
    // conv2d: weight channels do not match the input
    CHECK_THROWS_AS(ec::ops::conv2d(f32({1, 4, 10, 12}), f32({6, 3, 3, 3}), DeviceTensor(), p), errseg::Error);
    // group_norm: channels not divisible into groups
    CHECK_THROWS_AS(ec::ops::group_norm(f32({1, 6, 2, 2}), 4, DeviceTensor(), DeviceTensor(), 1e-5f), errseg::Error);
    // shapes that do not broadcast
    CHECK_THROWS_AS(ec::ops::add(f32({2, 3}), f32({4})), errseg::Error);
    // mixed dtypes
    CHECK_THROWS_AS(ec::ops::linear(f32({2, 4}), up(rand_tensor({3, 4}, 2), DType::F16)), errseg::Error);
    // a fused residual of another shape (neither the output's nor its shape without dim 0)
    CHECK_THROWS_AS(ec::ops::linear(f32({2, 5, 4}), f32({3, 4}), DeviceTensor(), ec::Activation::None, f32({2, 5, 4})),
                    errseg::Error);
    CHECK_THROWS_AS(ec::ops::conv2d(f32({2, 4, 6, 6}), f32({5, 4, 3, 3}), DeviceTensor(), p, ec::Activation::Relu,
                                    f32({2, 5, 6, 5})),
                    errseg::Error);
    CHECK_THROWS_AS(ec::ops::group_norm(f32({2, 4, 3, 3}), 2, DeviceTensor(), DeviceTensor(), 1e-5f,
                                        ec::Activation::None, f32({2, 4, 9})),
                    errseg::Error);
}
