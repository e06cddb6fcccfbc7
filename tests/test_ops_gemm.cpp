// matmul / linear against PyTorch (tests/reference/gen_ops.py), strided operands, errors,
// thread-count invariance.
#include "error_of.hpp"
#include "test_ops_util.hpp"

using namespace errseg;
using optest::load;

TEST_CASE("matmul matches torch.matmul") {
    for (const char* c : {"mm2d", "mm_batched", "mm_bcast", "mm_large", "mm_batched_large"})
        optest::check_f32(ops::matmul(load(c, "a"), load(c, "b")), load(c, "out"), c);
    optest::check_f32(ops::matmul(load("mm_transb", "a"), load("mm_transb", "b"), true), load("mm_transb", "out"),
                      "mm_transb");
}

TEST_CASE("matmul accepts strided and transposed views") {
    const Tensor a = load("mm_batched", "a"), b = load("mm_batched", "b"), want = load("mm_batched", "out");
    // Same values, transposed memory layouts.
    optest::check_f32(ops::matmul(optest::strided_copy(a), optest::strided_copy(b)), want, "strided a, b");
    // b^T given as a transposed view with trans_b: the view's own transpose is b again.
    optest::check_f32(ops::matmul(a, b.transpose(-1, -2).contiguous(), true), want, "trans_b of a copy");
    // Batch dims that are not contiguous (permuted batch).
    Tensor ap = a.permute({1, 0, 2, 3}).contiguous().permute({1, 0, 2, 3});
    optest::check_f32(ops::matmul(ap, b), want, "permuted batch of a");
    // A sliced operand (non-zero offset, row stride larger than cols).
    Tensor big = Tensor::zeros({2, 3, 7, 9});
    Tensor slice = big.slice(3, 2, 7);
    for (int64_t i = 0; i < 2; ++i)
        for (int64_t j = 0; j < 3; ++j)
            for (int64_t r = 0; r < 7; ++r)
                for (int64_t c = 0; c < 5; ++c)
                    big.data<float>()[((i * 3 + j) * 7 + r) * 9 + 2 + c] = a.data<float>()[((i * 3 + j) * 7 + r) * 5 + c];
    optest::check_f32(ops::matmul(slice, b), want, "sliced a");
}

TEST_CASE("linear matches nn.Linear") {
    optest::check_f32(ops::linear(load("linear", "x"), load("linear", "w"), load("linear", "b")), load("linear", "out"),
                      "linear");
    optest::check_f32(ops::linear(load("linear_nobias", "x"), load("linear_nobias", "w")), load("linear_nobias", "out"),
                      "linear_nobias");
    optest::check_f32(ops::linear(optest::strided_copy(load("linear", "x"), 0, 1), load("linear", "w"), load("linear", "b")),
                      load("linear", "out"), "linear strided input");
}

TEST_CASE("matmul and linear accept fp16 weights") {
    Tensor w = load("linear", "w");
    Tensor w16 = Tensor::empty(w.shape(), DType::F16);
    auto* p = static_cast<uint16_t*>(const_cast<void*>(w16.raw()));
    for (int64_t i = 0; i < w.numel(); ++i) p[i] = float_to_half(w.data<float>()[i]);
    Tensor ref = ops::linear(load("linear", "x"), w16.to_f32(), load("linear", "b"));
    optest::check_f32(ops::linear(load("linear", "x"), w16, load("linear", "b")), ref, "fp16 weight");
}

TEST_CASE("matmul agrees with a float64 reference across tile and k-block edges") {
    // M, N not multiples of the 6x16 register tile; K spans three k blocks of 256.
    const int64_t M = 131, K = 517, N = 83;
    const Tensor a = optest::random({M, K}, 11), b = optest::random({K, N}, 12);
    Tensor want = Tensor::empty({M, N});
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
            double s = 0;
            for (int64_t k = 0; k < K; ++k) s += double(a.data<float>()[i * K + k]) * b.data<float>()[k * N + j];
            want.data<float>()[i * N + j] = float(s);
        }
    optest::check_f32(ops::matmul(a, b), want, "131x517x83");
    optest::check_f32(ops::matmul(a, b.transpose(0, 1).contiguous(), true), want, "131x517x83 trans_b");
    // op(A) from a transposed view (unit stride along rows) and op(B) from a transposed view.
    optest::check_f32(ops::matmul(a.transpose(0, 1).contiguous().transpose(0, 1),
                                  b.transpose(0, 1).contiguous().transpose(0, 1)),
                      want, "131x517x83 transposed views");
    // Accumulation onto a bias (linear) over the same shape.
    const Tensor bias = optest::random({N}, 13);
    Tensor want_b = Tensor::empty({M, N});
    for (int64_t i = 0; i < M * N; ++i) want_b.data<float>()[i] = want.data<float>()[i] + bias.data<float>()[i % N];
    optest::check_f32(ops::linear(a, b.transpose(0, 1).contiguous(), bias), want_b, "linear 131x517x83");
}

TEST_CASE("gemm shape errors name the shapes") {
    Tensor a = Tensor::zeros({2, 3, 4}), b = Tensor::zeros({5, 6});
    CHECK_THROWS_WITH_AS(ops::matmul(a, b), doctest::Contains("[2, 3, 4]"), Error);
    CHECK_THROWS_WITH_AS(ops::matmul(a, b), doctest::Contains("[5, 6]"), Error);
    CHECK_THROWS_WITH_AS(ops::matmul(Tensor::zeros({2, 3, 4}), Tensor::zeros({3, 4, 5})),
                         doctest::Contains("do not broadcast"), Error);
    CHECK_THROWS_WITH_AS(ops::matmul(Tensor::zeros({4}), b), doctest::Contains("at least 2-d"), Error);
    CHECK_THROWS_WITH_AS(ops::linear(Tensor::zeros({2, 7}), Tensor::zeros({3, 8})), doctest::Contains("[3, 8]"), Error);
    CHECK_THROWS_WITH_AS(ops::linear(Tensor::zeros({2, 8}), Tensor::zeros({3, 8}), Tensor::zeros({4})),
                         doctest::Contains("bias"), Error);
    CHECK_THROWS_WITH_AS(ops::matmul(Tensor::zeros({2, 2}, DType::I32), Tensor::zeros({2, 2})),
                         doctest::Contains("float32"), Error);
    // gated_mlp: hidden widths of fc1, fc2 and fc3 must agree with each other and with x.
    const Tensor x = Tensor::zeros({5, 8}), w = Tensor::zeros({24, 8}), w3 = Tensor::zeros({8, 24});
    CHECK_THROWS_WITH_AS(ops::gated_mlp(x, w, Tensor(), Activation::Relu6, Tensor::zeros({20, 8}), Tensor(), w3, Tensor()),
                         doctest::Contains("[20, 8]"), Error);
    CHECK_THROWS_WITH_AS(ops::gated_mlp(Tensor::zeros({5, 9}), w, Tensor(), Activation::Relu6, w, Tensor(), w3, Tensor()),
                         doctest::Contains("[5, 9]"), Error);
    CHECK_THROWS_WITH_AS(ops::gated_mlp(x, w, Tensor::zeros({23}), Activation::Relu6, w, Tensor(), w3, Tensor()),
                         doctest::Contains("bias"), Error);
    CHECK_THROWS_WITH_AS(ops::gated_mlp(x, Tensor::zeros({24}), Tensor(), Activation::Relu6, w, Tensor(), w3, Tensor()),
                         doctest::Contains("fc1 weight"), Error);
}

TEST_CASE("gemm results do not depend on the thread count") {
    const Tensor a = optest::random({301, 257}, 1), b = optest::random({257, 203}, 2);
    const Tensor w = optest::random({96, 257}, 3), bias = optest::random({96}, 4);
    const Tensor wide = optest::random({5, 257}, 5), bw = optest::random({257, 3001}, 6);
    optest::check_thread_invariant([&] { return ops::matmul(a, b); }, "matmul rows");
    optest::check_thread_invariant([&] { return ops::matmul(wide, bw); }, "matmul columns");
    optest::check_thread_invariant([&] { return ops::linear(a, w, bias); }, "linear");
    const Tensor ba = optest::random({12, 33, 40}, 7), bb = optest::random({12, 40, 29}, 8);
    optest::check_thread_invariant([&] { return ops::matmul(ba, bb); }, "batched");
}

TEST_CASE("empty and degenerate products") {
    Tensor out = ops::matmul(Tensor::zeros({0, 4}), Tensor::zeros({4, 3}));
    CHECK(out.shape() == Shape{0, 3});
    Tensor z = ops::matmul(Tensor::full({2, 0}, 1.f), Tensor::full({0, 3}, 1.f));
    CHECK(z.shape() == Shape{2, 3});
    for (int64_t i = 0; i < z.numel(); ++i) CHECK(z.data<float>()[i] == 0.f);
    Tensor v = ops::linear(Tensor::full({3}, 1.f), Tensor::full({2, 3}, 2.f), Tensor::full({2}, 0.5f));
    CHECK(v.shape() == Shape{2});
    CHECK(v.data<float>()[1] == 6.5f);
}

TEST_CASE("fused residual: the output's shape or its shape without the first dim, else an error naming both") {
    const Tensor x = Tensor::zeros({2, 5, 4}), w = Tensor::zeros({3, 4});
    CHECK(ops::linear(x, w, Tensor(), Activation::Relu, Tensor::zeros({2, 5, 3})).shape() == Shape({2, 5, 3}));
    CHECK(ops::linear(x, w, Tensor(), Activation::None, Tensor::zeros({5, 3})).shape() == Shape({2, 5, 3}));
    CHECK(ops::linear(x, w, Tensor(), Activation::None, Tensor::zeros({1, 5, 3})).shape() == Shape({2, 5, 3}));
    CHECK(error_of([&] { ops::linear(x, w, Tensor(), Activation::None, Tensor::zeros({2, 1, 3})); }) ==
          "linear: residual [2, 1, 3] does not match the output [2, 5, 3] (nor its shape without the first dim)");
    ops::Conv2dParams p;
    CHECK(error_of([&] {
              ops::conv2d(Tensor::zeros({2, 4, 3, 3}), Tensor::zeros({5, 4, 1, 1}), Tensor(), p, Activation::Relu6,
                          Tensor::zeros({2, 5, 9}));
          }) == "conv2d: residual [2, 5, 9] does not match the output [2, 5, 3, 3] (nor its shape without the first dim)");
    CHECK(error_of([&] {
              ops::group_norm(Tensor::zeros({2, 4, 3}), 2, Tensor(), Tensor(), 1e-5f, Activation::None,
                              Tensor::zeros({3}));
          }) == "group_norm: residual [3] does not match the output [2, 4, 3] (nor its shape without the first dim)");
}
