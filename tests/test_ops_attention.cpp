// Scaled dot-product attention and nn.MultiheadAttention self-attention against PyTorch.
#include "test_ops_util.hpp"

using namespace errseg;
using optest::load;

TEST_CASE("attention matches softmax(QK^T / sqrt(d)) V") {
    const Tensor q = load("attn", "q"), k = load("attn", "k"), v = load("attn", "v");
    optest::check_f32(ops::attention(q, k, v), load("attn", "out"), "attention Lq=9 Lk=11 Dv=6");
    optest::check_f32(ops::attention(q, k, v, false, 0.3f), load("attn", "out_scale03"), "attention scale 0.3");
    // [B, L, H, D] memory viewed as [B, H, L, D] (how heads come out of a projection).
    auto heads_last = [](const Tensor& t) { return t.permute({0, 2, 1, 3}).contiguous().permute({0, 2, 1, 3}); };
    optest::check_f32(ops::attention(heads_last(q), heads_last(k), heads_last(v)), load("attn", "out"),
                      "attention strided heads");
    optest::check_f32(ops::attention(q, optest::strided_copy(k), v), load("attn", "out"), "attention transposed k");
}

TEST_CASE("attention_tokens (heads as channel groups of [B, L, H*D]) matches the PyTorch fixture") {
    const Tensor q = load("attn", "q"), k = load("attn", "k"), v = load("attn", "v");
    const int64_t heads = q.size(1);
    auto tokens = [](const Tensor& t) {  // [B, H, L, D] -> [B, L, H*D]
        return t.permute({0, 2, 1, 3}).contiguous().reshape({t.size(0), t.size(2), t.size(1) * t.size(3)});
    };
    optest::check_f32(ops::attention_tokens(tokens(q), tokens(k), tokens(v), heads, 0.3f),
                      tokens(load("attn", "out_scale03")), "attention_tokens scale 0.3");
    CHECK_THROWS_WITH_AS(ops::attention_tokens(tokens(q), tokens(k), tokens(v), 5, 0.3f),
                         doctest::Contains("5 heads"), Error);
}

TEST_CASE("causal attention spans query blocks") {
    const Tensor q = load("attn_causal", "q"), k = load("attn_causal", "k"), v = load("attn_causal", "v");
    optest::check_f32(ops::attention(q, k, v, true), load("attn_causal", "out"), "causal attention L=70");
}

TEST_CASE("multi_head_self_attention matches nn.MultiheadAttention") {
    const Tensor x = load("mha", "x"), iw = load("mha", "in_w"), ib = load("mha", "in_b"), ow = load("mha", "out_w"),
                 ob = load("mha", "out_b");
    optest::check_f32(ops::multi_head_self_attention(x, iw, ib, ow, ob, 4, false), load("mha", "out"), "mha");
    optest::check_f32(ops::multi_head_self_attention(x, iw, ib, ow, ob, 4, true), load("mha", "out_causal"),
                      "mha causal");
}

TEST_CASE("attention errors name the shapes") {
    const Tensor q = Tensor::zeros({1, 2, 5, 8});
    CHECK_THROWS_WITH_AS(ops::attention(q, Tensor::zeros({1, 2, 5, 7}), Tensor::zeros({1, 2, 5, 8})),
                         doctest::Contains("[1, 2, 5, 7]"), Error);
    CHECK_THROWS_WITH_AS(ops::attention(q, Tensor::zeros({1, 2, 6, 8}), Tensor::zeros({1, 2, 6, 8}), true),
                         doctest::Contains("causal"), Error);
    CHECK_THROWS_WITH_AS(ops::attention(Tensor::zeros({2, 5, 8}), q, q), doctest::Contains("[2, 5, 8]"), Error);
    const Tensor x = Tensor::zeros({2, 3, 16});
    CHECK_THROWS_WITH_AS(ops::multi_head_self_attention(x, Tensor::zeros({48, 16}), Tensor(), Tensor::zeros({16, 16}),
                                                        Tensor(), 5, false),
                         doctest::Contains("5 heads"), Error);
    CHECK_THROWS_WITH_AS(ops::multi_head_self_attention(x, Tensor::zeros({47, 16}), Tensor(), Tensor::zeros({16, 16}),
                                                        Tensor(), 4, false),
                         doctest::Contains("[47, 16]"), Error);
}

TEST_CASE("attention results do not depend on the thread count") {
    const Tensor q = optest::random({2, 3, 150, 32}, 1), k = optest::random({2, 3, 150, 32}, 2),
                 v = optest::random({2, 3, 150, 32}, 3);
    optest::check_thread_invariant([&] { return ops::attention(q, k, v); }, "attention");
    optest::check_thread_invariant([&] { return ops::attention(q, k, v, true); }, "causal attention");
    const Tensor x = optest::random({2, 77, 64}, 4), iw = optest::random({192, 64}, 5), ib = optest::random({192}, 6),
                 ow = optest::random({64, 64}, 7), ob = optest::random({64}, 8);
    optest::check_thread_invariant([&] { return ops::multi_head_self_attention(x, iw, ib, ow, ob, 4, true); }, "mha");
}
