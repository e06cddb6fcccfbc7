// OpenAI-layout CLIP ViT vs PyTorch (open_clip VisionTransformer, QuickGELU) on a tiny
// random-weight model (tests/reference/gen_clip_models.py): pooled embedding, dense patch
// tokens, intermediate block outputs, and the position grid resized for another input size
// the way open_clip's resize_pos_embed does it (bicubic, antialias=True).
#include "test_clip_common.hpp"

#include <algorithm>

#include "errseg/models/vit.hpp"

using namespace errseg;
using namespace errseg::models;

namespace {

const std::string kStem = "clip_vit_openai";

VisionTransformer load(PosEmbedResize mode = PosEmbedResize::OpenClipAntialias) {
    Weights w = clip_test::open_model(kStem);
    return VisionTransformer(w.scope("clip.visual."), VitConfig::from_json(w.config()["clip"]), mode);
}

}  // namespace

TEST_CASE("ViT config from the model file") {
    const VitConfig c = VitConfig::from_json(clip_test::open_model(kStem).config()["clip"]);
    CHECK(c.width == 32);
    CHECK(c.layers == 2);
    CHECK(c.heads == 4);
    CHECK(c.patch_size == 8);
    CHECK(c.image_size == 32);
    CHECK(c.embed_dim == 32);
    CHECK(c.act == "quick_gelu");
    CHECK(c.eps == 1e-5f);
}

TEST_CASE("ViT at its native size matches open_clip") {
    std::printf("%s\n", kStem.c_str());
    const VisionTransformer vit = load();
    CHECK(vit.native_grid() == 4);
    const Tensor x = clip_test::ref(kStem, "image");  // [2, 3, 32, 32]
    const VitOutput out = vit.forward(x, {0});
    CHECK(out.grid_h == 4);
    CHECK(out.grid_w == 4);
    clip_test::check_close("pooled embedding", out.pooled, clip_test::ref(kStem, "embed"));
    clip_test::check_close("dense patch tokens (last block)", out.tokens, clip_test::ref(kStem, "tokens"));
    REQUIRE(out.intermediates.size() == 1);
    const Tensor block0 = clip_test::ref(kStem, "block0");  // [2, 17, 32] incl. the class token
    clip_test::check_close("block 0 patch tokens", out.intermediates[0], block0.slice(1, 1, 17).contiguous());
    // Same computations again (equal up to the ops' last-bit rounding, which can depend on
    // scratch-buffer alignment); project() on the class token is the pooled embedding.
    CHECK(clip_test::compare(vit.embed(x), out.pooled).rel() <= 1e-6);
    CHECK(clip_test::compare(vit.project(out.class_token), out.pooled).rel() <= 1e-6);
}

TEST_CASE("ViT at another size: position grid resized like open_clip's resize_pos_embed") {
    const VisionTransformer vit = load();
    clip_test::check_close("positional embedding 4x4 -> 6x6", vit.positional_embedding(6, 6),
                           clip_test::ref(kStem, "pos48"), 1e-6);
    const Tensor x = clip_test::ref(kStem, "image48");  // [1, 3, 48, 48]
    const VitOutput out = vit.forward(x);
    CHECK(out.grid_h == 6);
    clip_test::check_close("pooled embedding (48x48)", out.pooled, clip_test::ref(kStem, "embed48"));
    clip_test::check_close("dense patch tokens (48x48)", out.tokens, clip_test::ref(kStem, "tokens48"));

    // The plain-bicubic mode (CAT-Seg's F.interpolate without antialias) differs when upsampling
    // (A = -0.75 instead of -0.5) but keeps the class position.
    const VisionTransformer cat = load(PosEmbedResize::Bicubic);
    const Tensor p = cat.positional_embedding(6, 6);
    CHECK(p.shape() == Shape{37, 32});
    CHECK(clip_test::compare(p.slice(0, 0, 1), vit.positional_embedding(6, 6).slice(0, 0, 1)).max_abs == 0);
    CHECK(clip_test::compare(p, vit.positional_embedding(6, 6)).max_abs > 1e-4);
}

TEST_CASE("ViT: non-square inputs and partial patches") {
    const VisionTransformer vit = load();
    // 40x35: a 5x4 grid (the last 3 columns are dropped by the stride-8 patch conv).
    const Tensor x = clip_test::ref(kStem, "image48").slice(2, 0, 40).slice(3, 0, 35).contiguous();
    const VitOutput out = vit.forward(x);
    CHECK(out.grid_h == 5);
    CHECK(out.grid_w == 4);
    CHECK(out.tokens.shape() == Shape{1, 20, 32});
    CHECK(out.pooled.shape() == Shape{1, 32});
}

TEST_CASE("ViT rejects bad inputs") {
    const VisionTransformer vit = load();
    CHECK_THROWS_AS(vit.forward(Tensor::zeros({1, 1, 32, 32})), Error);
    CHECK_THROWS_AS(vit.forward(Tensor::zeros({1, 3, 4, 32})), Error);
    CHECK_THROWS_AS(vit.forward(Tensor::zeros({1, 3, 32, 32}), {2}), Error);
    Weights w = clip_test::open_model(kStem);
    VitConfig c = VitConfig::from_json(w.config()["clip"]);
    c.layers = 1;  // the file has a second block
    CHECK_THROWS_AS(VisionTransformer(w.scope("clip.visual."), c), Error);
    c = VitConfig::from_json(w.config()["clip"]);
    c.patch_size = 16;
    CHECK_THROWS_AS(VisionTransformer(w.scope("clip.visual."), c), Error);
}

TEST_CASE("ViT from a TorchScript archive (OpenAI's published container) = from the state dict") {
    Weights a = clip_test::open_model(kStem), b = clip_test::open_model(kStem + "_jit");
    // Same tensors under the same names.
    std::vector<std::string> na = a.scope("clip.").names(), nb = b.scope("clip.").names();
    std::sort(na.begin(), na.end());
    std::sort(nb.begin(), nb.end());
    CHECK(na == nb);
    for (const std::string& n : na)
        CHECK_MESSAGE(clip_test::compare(b.get("clip." + n), a.get("clip." + n)).max_abs == 0, n);
    const VisionTransformer vit(b.scope("clip.visual."), VitConfig::from_json(b.config()["clip"]));
    clip_test::check_close("pooled embedding (TorchScript file)", vit.embed(clip_test::ref(kStem, "image")),
                           clip_test::ref(kStem, "embed"));
}
