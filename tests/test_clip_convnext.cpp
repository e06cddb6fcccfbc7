// OpenCLIP ConvNeXt image tower vs PyTorch (open_clip TimmModel around timm ConvNeXt) on tiny
// random-weight models, linear and MLP heads (tests/reference/gen_clip_models.py).
#include "test_clip_common.hpp"

#include "errseg/models/convnext.hpp"

using namespace errseg;
using namespace errseg::models;

namespace {

ConvNeXt load(const std::string& stem) {
    Weights w = clip_test::open_model(stem);
    return ConvNeXt(w.scope("clip.visual."), ConvNeXtConfig::from_json(w.config()["clip"]));
}

void check_model(const std::string& stem) {
    std::printf("%s\n", stem.c_str());
    const ConvNeXt net = load(stem);
    const Tensor x = clip_test::ref(stem, "image");  // [1, 3, 100, 84]

    // Stem and stages chained (each stage fed with our own previous output).
    Tensor y = net.stem(x);
    clip_test::check_close("stem", y, clip_test::ref(stem, "stem"));
    std::vector<Tensor> chained;
    for (int s = 0; s < 4; ++s) {
        y = net.stage(s, y);
        chained.push_back(y);
        clip_test::check_close("stage" + std::to_string(s), y, clip_test::ref(stem, "stage" + std::to_string(s)));
    }

    // forward_stages = the same chain; stage = downsample + blocks. (Repeating a computation
    // may differ in the last bits: the ops' rounding can depend on scratch-buffer alignment.)
    const std::vector<Tensor> stages = net.forward_stages(x);
    REQUIRE(stages.size() == 4);
    for (int s = 0; s < 4; ++s) CHECK(clip_test::compare(stages[size_t(s)], chained[size_t(s)]).rel() <= 1e-6);
    CHECK(clip_test::compare(net.blocks(2, net.downsample(2, chained[1])), chained[2]).rel() <= 1e-6);
    CHECK(clip_test::compare(net.downsample(0, chained[0]), chained[0]).max_abs == 0);  // identity

    // Per-pixel projection of the stride-32 map and pooled embeddings.
    clip_test::check_close("dense (project_dense(stage3))", net.project_dense(stages[3]),
                           clip_test::ref(stem, "dense"));
    clip_test::check_close("embed (100x84)", net.embed(x), clip_test::ref(stem, "embed"));
    clip_test::check_close("embed (2 x 64x64)", net.embed(clip_test::ref(stem, "image64")),
                           clip_test::ref(stem, "embed64"));
}

}  // namespace

TEST_CASE("ConvNeXt config from the model file") {
    Weights w = clip_test::open_model("clip_convnext_linear");
    const ConvNeXtConfig c = ConvNeXtConfig::from_json(w.config()["clip"]);
    CHECK(c.dims == std::vector<int64_t>{16, 24, 32, 48});
    CHECK(c.depths == std::vector<int64_t>{1, 1, 2, 1});
    CHECK(c.head == "linear");
    CHECK(c.image_size == 64);
    CHECK(c.embed_dim == 32);
    CHECK(c.eps == 1e-6f);
    CHECK(ConvNeXtConfig::from_json(clip_test::open_model("clip_convnext_mlp").config()["clip"]).head == "mlp");
}

TEST_CASE("ConvNeXt (linear head) matches open_clip") { check_model("clip_convnext_linear"); }

TEST_CASE("ConvNeXt (MLP head) matches open_clip") { check_model("clip_convnext_mlp"); }

TEST_CASE("ConvNeXt rejects bad inputs and configs") {
    Weights w = clip_test::open_model("clip_convnext_linear");
    ConvNeXtConfig c = ConvNeXtConfig::from_json(w.config()["clip"]);
    const ConvNeXt net(w.scope("clip.visual."), c);
    CHECK_THROWS_AS(net.stem(Tensor::zeros({1, 4, 32, 32})), Error);
    CHECK_THROWS_AS(net.stem(Tensor::zeros({1, 3, 2, 32})), Error);
    CHECK_THROWS_AS(net.stage(4, Tensor::zeros({1, 48, 2, 2})), Error);
    CHECK_THROWS_AS(net.project_dense(Tensor::zeros({1, 32, 2, 2})), Error);

    ConvNeXtConfig wrong = c;
    wrong.dims[2] = 40;  // shapes no longer match the file
    CHECK_THROWS_AS(ConvNeXt(w.scope("clip.visual."), wrong), Error);
    wrong = c;
    wrong.depths[3] = 0;  // the file has a block the config does not list
    CHECK_THROWS_AS(ConvNeXt(w.scope("clip.visual."), wrong), Error);
    wrong = c;
    wrong.head = "attn";
    CHECK_THROWS_AS(ConvNeXt(w.scope("clip.visual."), wrong), Error);
}
