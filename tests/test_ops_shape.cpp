// pad2d / concat / index_select and the reductions (argmax, topk, sum, mean) against PyTorch.
#include "test_ops_util.hpp"

using namespace errseg;
using optest::load;

TEST_CASE("pad2d matches F.pad") {
    const Tensor x = load("pad", "x");
    optest::check_close(ops::pad2d(x, 1, 2, 0, 3, 0.5f), load("pad", "out"), 0, 0, "pad (1, 2, 0, 3) value 0.5");
    optest::check_close(ops::pad2d(x, -1, 2, 1, -2), load("pad", "crop"), 0, 0, "pad with negative (crop)");
    optest::check_close(ops::pad2d(optest::strided_copy(x), 1, 2, 0, 3, 0.5f), load("pad", "out"), 0, 0, "strided");
    CHECK_THROWS_WITH_AS(ops::pad2d(x, -3, -3, 0, 0), doctest::Contains("negative size"), Error);
}

TEST_CASE("concat matches torch.cat") {
    const Tensor a = load("concat", "a"), b = load("concat", "b"), c = load("concat", "c");
    optest::check_close(ops::concat({a, b, c}, 1), load("concat", "out"), 0, 0, "cat dim 1");
    optest::check_close(ops::concat({a, optest::strided_copy(b), c}, -2), load("concat", "out"), 0, 0, "cat dim -2");
    CHECK_THROWS_WITH_AS(ops::concat({a, Tensor::zeros({2, 3, 5})}, 1), doctest::Contains("[2, 3, 5]"), Error);
    CHECK_THROWS_WITH_AS(ops::concat({}, 0), doctest::Contains("no tensors"), Error);
}

TEST_CASE("index_select matches Tensor.index_select") {
    const Tensor x = load("index_select", "x");
    optest::check_close(ops::index_select(x, 1, {5, 0, 2, 2}), load("index_select", "out"), 0, 0, "index_select");
    CHECK_THROWS_WITH_AS(ops::index_select(x, 1, {6}), doctest::Contains("index 6"), Error);
}

TEST_CASE("argmax picks the first maximum") {
    const Tensor x = load("reduce", "x");
    CHECK(optest::identical(ops::argmax(x, -1), load("reduce", "argmax_last")));
    CHECK(optest::identical(ops::argmax(x, 1), load("reduce", "argmax_mid")));
    const Tensor t = Tensor::from_vector<float>({6}, {1.f, 3.f, 2.f, 3.f, NAN, 3.f});
    CHECK(ops::argmax(t, 0).data<int64_t>()[0] == 4);  // NaN is maximal, as in torch
    const Tensor u = Tensor::from_vector<float>({5}, {-1.f, 7.f, 7.f, 0.f, 7.f});
    CHECK(ops::argmax(u, 0).data<int64_t>()[0] == 1);
}

TEST_CASE("topk: descending, ties to the lower index") {
    const Tensor x = load("reduce", "x");
    const ops::TopK r = ops::topk(x, 4);
    // Compared as numbers: 0.0 and -0.0 tie, and torch may pick the other one.
    optest::check_close(r.values, load("reduce", "topk_values"), 0, 0, "topk values");
    CHECK(optest::identical(r.indices, load("reduce", "topk_indices")));
    const Tensor t = Tensor::from_vector<float>({7}, {0.5f, 2.f, 2.f, -1.f, 2.f, 3.f, 0.5f});
    const ops::TopK s = ops::topk(t, 5);
    const std::vector<int64_t> want{5, 1, 2, 4, 0};
    for (int i = 0; i < 5; ++i) CHECK(s.indices.data<int64_t>()[i] == want[size_t(i)]);
    CHECK_THROWS_WITH_AS(ops::topk(t, 8), doctest::Contains("k=8"), Error);
}

TEST_CASE("sum and mean over a dim") {
    const Tensor x = load("reduce", "x");
    optest::check_f32(ops::sum(x, 1), load("reduce", "sum_mid"), "sum dim 1");
    optest::check_f32(ops::mean(x, 0), load("reduce", "mean_first"), "mean dim 0");
    optest::check_f32(ops::sum(optest::strided_copy(x), 1), load("reduce", "sum_mid"), "sum strided");
    // Long reductions keep fp32 accuracy (double accumulation).
    const Tensor ones = Tensor::full({1, 1 << 24}, 0.1f);
    CHECK(ops::sum(ones, 1).data<float>()[0] == doctest::Approx(double(0.1f) * (1 << 24)).epsilon(1e-7));
}

TEST_CASE("reductions do not depend on the thread count") {
    const Tensor x = optest::random({9, 150, 41}, 1);
    optest::check_thread_invariant([&] { return ops::argmax(x, 1); }, "argmax");
    optest::check_thread_invariant([&] { return ops::topk(x, 10).indices; }, "topk");
    optest::check_thread_invariant([&] { return ops::sum(x, 1); }, "sum");
    optest::check_thread_invariant([&] { return ops::concat({x, x}, 2); }, "concat");
}
