// Activations, broadcasting arithmetic and softmax against PyTorch.
#include "test_ops_util.hpp"

using namespace errseg;
using optest::load;

TEST_CASE("activations match PyTorch") {
    const Tensor x = load("unary", "x");
    optest::check_f32(ops::gelu(x), load("unary", "gelu"), "gelu (erf)");
    optest::check_f32(ops::quick_gelu(x), load("unary", "quick_gelu"), "quick_gelu");
    optest::check_close(ops::relu(x), load("unary", "relu"), 0, 0, "relu");
    optest::check_close(ops::relu6(x), load("unary", "relu6"), 0, 0, "relu6");
    optest::check_close(ops::clamp(x, -2.5f, 4.f), load("unary", "clamp"), 0, 0, "clamp");
    // sigmoid(-100) ~ 3.7e-44 is subnormal: absolute tolerance covers flush-to-zero differences.
    optest::check_close(ops::sigmoid(x), load("unary", "sigmoid"), 1e-7, 1e-5, "sigmoid");
    const Tensor s = ops::scale(x, 0.25f);
    for (int64_t i = 0; i < x.numel(); ++i) CHECK(s.data<float>()[i] == x.data<float>()[i] * 0.25f);
    // Saturation: no NaN/inf from exp overflow.
    const Tensor ext = Tensor::from_vector<float>({4}, {-1e30f, -90.f, 90.f, 1e30f});
    const Tensor sg = ops::sigmoid(ext), qg = ops::quick_gelu(ext), ge = ops::gelu(ext);
    CHECK(sg.data<float>()[0] == 0.f);
    CHECK(sg.data<float>()[3] == 1.f);
    CHECK(qg.data<float>()[2] == 90.f);
    CHECK(ge.data<float>()[1] == doctest::Approx(0.f));
    CHECK(ge.data<float>()[3] == 1e30f);
}

TEST_CASE("binary ops broadcast like numpy") {
    optest::check_f32(ops::add(load("add", "a"), load("add", "b")), load("add", "out"), "add [2,3,4,5]+[3,1,5]");
    optest::check_f32(ops::sub(load("sub", "a"), load("sub", "b")), load("sub", "out"), "sub [4,1]-[3]");
    optest::check_f32(ops::mul(load("mul", "a"), load("mul", "b")), load("mul", "out"), "mul [2,3,4,5]*[1,3,1,1]");
    optest::check_f32(ops::div(load("div", "a"), load("div", "b")), load("div", "out"), "div [2,3,5]/[5]");
    optest::check_f32(ops::add(load("add_scalar_b", "a"), load("add_scalar_b", "b")), load("add_scalar_b", "out"),
                      "add [3,4]+[1]");
    // Broadcasting on the left operand and strided operands.
    optest::check_f32(ops::add(load("add", "b"), load("add", "a")), load("add", "out"), "add swapped");
    optest::check_f32(ops::mul(optest::strided_copy(load("mul", "a")), load("mul", "b")), load("mul", "out"),
                      "mul strided");
    optest::check_f32(ops::mul(optest::strided_copy(load("mul", "a"), 0, 3), load("mul", "b")), load("mul", "out"),
                      "mul strided, outer and inner dims swapped");
    Tensor a = load("add", "a").clone();
    ops::add_(a, load("add", "b"));
    optest::check_f32(a, load("add", "out"), "add_ in place");
    // A full-size transposed operand in place (the ConvNeXt residual pattern).
    const Tensor orig = load("mul", "a");
    Tensor base = orig.clone();
    ops::add_(base, optest::strided_copy(orig, 1, 3));
    for (int64_t i = 0; i < base.numel(); ++i) REQUIRE(base.data<float>()[i] == 2 * orig.data<float>()[i]);
    Tensor s = ops::add_scalar(load("add", "a"), 2.f);
    CHECK(s.data<float>()[7] == load("add", "a").data<float>()[7] + 2.f);
}

TEST_CASE("binary op errors name the shapes") {
    CHECK_THROWS_WITH_AS(ops::add(Tensor::zeros({2, 3}), Tensor::zeros({4})), doctest::Contains("[2, 3]"), Error);
    CHECK_THROWS_WITH_AS(ops::mul(Tensor::zeros({2, 3}), Tensor::zeros({3, 3})), doctest::Contains("[3, 3]"), Error);
    Tensor a = Tensor::zeros({3});
    CHECK_THROWS_WITH_AS(ops::add_(a, Tensor::zeros({2, 3})), doctest::Contains("in-place"), Error);
    CHECK_THROWS_WITH_AS(ops::clamp(a, 2.f, 1.f), doctest::Contains("exceeds"), Error);
    CHECK_THROWS_WITH_AS(ops::relu(Tensor::zeros({2}, DType::I64)), doctest::Contains("float32"), Error);
}

TEST_CASE("softmax matches torch.softmax") {
    optest::check_f32(ops::softmax(load("softmax_last", "x")), load("softmax_last", "out"), "softmax last dim");
    optest::check_f32(ops::softmax(load("softmax_mid", "x"), 1), load("softmax_mid", "out"), "softmax dim 1 of 4");
    optest::check_f32(ops::softmax(optest::strided_copy(load("softmax_mid", "x"), 1, 3), -3), load("softmax_mid", "out"),
                      "softmax strided, negative dim");
    const Tensor inf = Tensor::from_vector<float>({1, 3}, {-INFINITY, 0.f, -INFINITY});
    CHECK(ops::softmax(inf).data<float>()[1] == 1.f);
    CHECK_THROWS_WITH_AS(ops::softmax(Tensor::zeros({2, 3}), 2), doctest::Contains("out of range"), Error);
}

TEST_CASE("elementwise results do not depend on the thread count") {
    const Tensor x = optest::random({7, 33, 101}, 1), y = optest::random({33, 1}, 2);
    optest::check_thread_invariant([&] { return ops::gelu(x); }, "gelu");
    optest::check_thread_invariant([&] { return ops::quick_gelu(x); }, "quick_gelu");
    optest::check_thread_invariant([&] { return ops::add(x, y); }, "add");
    optest::check_thread_invariant([&] { return ops::softmax(x, 1); }, "softmax mid");
    optest::check_thread_invariant([&] { return ops::softmax(x); }, "softmax last");
}
