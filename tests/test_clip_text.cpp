// CLIP text tower vs PyTorch (open_clip encode_text) on tiny random-weight models: OpenCLIP
// (exact GELU) from the two ConvNeXt checkpoints and OpenAI (QuickGELU) from the ViT checkpoint.
#include "test_clip_common.hpp"

#include "errseg/models/clip_text.hpp"

using namespace errseg;
using namespace errseg::models;

namespace {

ClipText load(const std::string& stem) {
    Weights w = clip_test::open_model(stem);
    return ClipText(w.scope("clip."), TextConfig::from_json(w.config()["clip"]));
}

Tensor to_i32(const Tensor& t) {
    const Tensor c = t.contiguous();
    std::vector<int32_t> v(size_t(c.numel()));
    for (int64_t i = 0; i < c.numel(); ++i) v[size_t(i)] = int32_t(c.data<int64_t>()[i]);
    return Tensor::from_vector(c.shape(), v);
}

void check_model(const std::string& stem, const std::string& tokens_name) {
    std::printf("%s\n", stem.c_str());
    const ClipText text = load(stem);
    const Tensor tokens = clip_test::ref(stem, tokens_name);  // I64 [B, 77]
    REQUIRE(tokens.dtype() == DType::I64);
    const Tensor want = clip_test::ref(stem, "text");

    const Tensor got = text.encode(tokens);
    clip_test::check_close("text (truncated after EOT)", got, want);
    const Tensor full = text.encode(tokens, /*truncate_after_eot=*/false);
    clip_test::check_close("text (all 77 positions)", full, want);
    // Causal mask: the positions after the last EOT cannot change the EOT features. Mathematically
    // identical; in floating point the GEMMs over 77 vs fewer rows/keys may round differently
    // (and the ops' results may vary with which thread ran a block), so allow fp32 noise.
    clip_test::check_close("truncated vs all 77 positions", got, full, 1e-6);
    // I32 ids (what the tokenizer returns) give the same result as I64.
    clip_test::check_close("I32 ids vs I64 ids", text.encode(to_i32(tokens)), got, 1e-6);
}

}  // namespace

TEST_CASE("text config from the model file") {
    const TextConfig c = TextConfig::from_json(clip_test::open_model("clip_convnext_linear").config()["clip"]);
    CHECK(c.context_length == 77);
    CHECK(c.vocab_size == 512);
    CHECK(c.width == 32);
    CHECK(c.heads == 4);
    CHECK(c.layers == 2);
    CHECK(c.embed_dim == 32);
    CHECK(c.act == "gelu");
    CHECK(c.eps == 1e-5f);
    CHECK(TextConfig::from_json(clip_test::open_model("clip_vit_openai").config()["clip"]).act == "quick_gelu");
}

TEST_CASE("OpenCLIP text tower (GELU) matches open_clip") {
    check_model("clip_convnext_linear", "tokens");
    check_model("clip_convnext_mlp", "tokens");
}

TEST_CASE("OpenAI text tower (QuickGELU) matches open_clip") { check_model("clip_vit_openai", "tokens_text"); }

TEST_CASE("text tower: EOT at the last position (sequence truncated to 77)") {
    for (const char* stem : {"clip_convnext_linear", "clip_convnext_mlp"}) {
        const ClipText text = load(stem);
        const Tensor tokens = clip_test::ref(stem, "tokens_full");
        clip_test::check_close(std::string(stem) + " text_full", text.encode(tokens),
                               clip_test::ref(stem, "text_full"));
    }
}

TEST_CASE("text tower: rows are independent of their batch") {
    const ClipText text = load("clip_convnext_linear");
    const Tensor tokens = clip_test::ref("clip_convnext_linear", "tokens");
    const Tensor all = text.encode(tokens);
    for (int64_t b = 0; b < tokens.size(0); ++b) {
        const Tensor one = text.encode(tokens.slice(0, b, b + 1));
        CHECK(clip_test::compare(one, all.slice(0, b, b + 1)).rel() <= 1e-6);
    }
}

TEST_CASE("text tower rejects bad tokens") {
    const ClipText text = load("clip_convnext_linear");
    CHECK_THROWS_AS(text.encode(Tensor::from_vector<int32_t>({1, 3}, {510, 600, 511})), Error);  // id >= vocab
    CHECK_THROWS_AS(text.encode(Tensor::from_vector<int32_t>({1, 3}, {510, -1, 511})), Error);
    CHECK_THROWS_AS(text.encode(Tensor::zeros({1, 78}, DType::I32)), Error);                     // > context
    CHECK_THROWS_AS(text.encode(Tensor::zeros({2, 3})), Error);                                  // float ids
    CHECK_THROWS_AS(text.encode(Tensor::zeros({6}, DType::I32)), Error);                         // not [B, L]
}
