// The Clip facade (models/clip.hpp): loading from a model file's metadata (architecture "clip"
// and "errseg"), both vision tower families, and the text path from strings through the
// tokenizer carried in the file, against open_clip (tests/reference/gen_clip_models.py and
// gen_clip_errseg_tiny.py).
#include "test_clip_common.hpp"

#include "errseg/models/clip.hpp"

using namespace errseg;
using namespace errseg::models;

namespace {

// The prompts of gen_clip_errseg_tiny.py, in the same order.
std::vector<std::string> errseg_tiny_prompts() {
    std::string long_text;
    for (int i = 0; i < 60; ++i) long_text += (i ? " word" : "word") + std::to_string(i);
    return {"A photo of a wall in the scene", "A photo of a chest of drawers in the scene",
            "  Caf\xc3\xa9   NA\xc3\x8fVE r\xc3\xa9sum\xc3\xa9 \xe2\x80\x94 it's 3.5 o'clock!! ", "", long_text};
}

}  // namespace

TEST_CASE("Clip: OpenCLIP ConvNeXt model file") {
    const std::string stem = "clip_convnext_linear";
    const Clip clip = Clip::load(clip_test::model_path(stem));
    CHECK(clip.image_size() == 64);
    REQUIRE(clip.convnext() != nullptr);
    CHECK(clip.vit() == nullptr);
    const float log_scale = clip_test::ref(stem, "logit_scale").data<float>()[0];
    CHECK(clip.log_logit_scale() == log_scale);
    CHECK(clip.logit_scale() == doctest::Approx(std::exp(log_scale)).epsilon(1e-6));
    clip_test::check_close("encode_image", clip.encode_image(clip_test::ref(stem, "image64")),
                           clip_test::ref(stem, "embed64"));
    clip_test::check_close("encode_tokens", clip.encode_tokens(clip_test::ref(stem, "tokens")),
                           clip_test::ref(stem, "text"));
    // The tiny model's 512-id vocabulary cannot take real BPE ids.
    if (clip.tokenizer()) CHECK_THROWS_AS(clip.encode_text({"a photo of a cat"}), Error);
}

TEST_CASE("Clip: OpenAI ViT model file") {
    const std::string stem = "clip_vit_openai";
    const Clip clip = Clip::load(clip_test::model_path(stem));
    CHECK(clip.image_size() == 32);
    REQUIRE(clip.vit() != nullptr);
    CHECK(clip.convnext() == nullptr);
    CHECK(clip.text().config().act == "quick_gelu");
    clip_test::check_close("encode_image", clip.encode_image(clip_test::ref(stem, "image")),
                           clip_test::ref(stem, "embed"));
    clip_test::check_close("encode_tokens", clip.encode_tokens(clip_test::ref(stem, "tokens_text")),
                           clip_test::ref(stem, "text"));
}

TEST_CASE("Clip: the CLIP inside an ERR-Seg model file, text from strings") {
    const std::string stem = "errseg_tiny_clip";
    const std::string path = clip_test::model_path("errseg_tiny");
    if (!std::ifstream(path).good()) FAIL("missing ", path, " (run tests/convert_test_models.py)");
    const Clip clip = Clip::load(path);
    REQUIRE(clip.tokenizer() != nullptr);
    CHECK(clip.image_size() == 320);
    CHECK(clip.text().config().act == "gelu");

    const std::vector<std::string> prompts = errseg_tiny_prompts();
    // Our tokenizer gives open_clip's ids (incl. truncation of the long prompt with EOT last) ...
    const Tensor ids = clip.tokenizer()->tokenize_batch(prompts, 77);
    const Tensor want_ids = clip_test::ref(stem, "tokens");
    REQUIRE(ids.shape() == want_ids.shape());
    const Tensor ids_c = ids.contiguous();
    int64_t mismatches = 0;
    for (int64_t i = 0; i < ids.numel(); ++i)
        mismatches += (ids.dtype() == DType::I32 ? int64_t(ids_c.data<int32_t>()[i]) : ids_c.data<int64_t>()[i]) !=
                      want_ids.data<int64_t>()[i];
    CHECK(mismatches == 0);
    // ... and the text embeddings match from strings.
    clip_test::check_close("encode_text (5 prompts)", clip.encode_text(prompts), clip_test::ref(stem, "text"));

    const Tensor x = clip_test::ref(stem, "image");
    clip_test::check_close("encode_image (96x64)", clip.encode_image(x), clip_test::ref(stem, "embed"));
    const ConvNeXt& net = *clip.convnext();
    clip_test::check_close("project_dense(stage 3)", net.project_dense(net.forward_stages(x)[3]),
                           clip_test::ref(stem, "dense"));
}

TEST_CASE("Clip: errors") {
    CHECK_THROWS_AS(Clip::load(std::string(ERRSEG_BUILD_DIR) + "/test_models/does_not_exist.safetensors"), Error);
}
