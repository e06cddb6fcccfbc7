// Unit checks of the ERR-Seg building blocks that need no model file: CRM class selection
// (rank weights, float32 accumulation, tie rules, K > T), prompt construction, config parsing,
// and the row-wise post-processing against the plain resize + argmax ops.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>

#include "errseg/core/finite.hpp"
#include "errseg/models/clip_config.hpp"
#include "errseg/models/errseg/config.hpp"
#include "errseg/models/errseg/cost_map.hpp"
#include "errseg/models/errseg/crm.hpp"
#include "errseg/models/errseg/postprocess.hpp"
#include "errseg/models/errseg/text_embeddings.hpp"

using namespace errseg;
using namespace errseg::models;

namespace {

// A [T, H, W] cost map where pixel p ranks classes in the order given by ranking[p]
// (first = most similar); classes not listed get decreasing small values.
Tensor cost_from_rankings(int64_t T, const std::vector<std::vector<int64_t>>& ranking) {
    const int64_t P = int64_t(ranking.size());
    Tensor c = Tensor::empty({T, 1, P});
    float* d = c.data<float>();
    for (int64_t p = 0; p < P; ++p) {
        for (int64_t t = 0; t < T; ++t) d[t * P + p] = -1.f - 0.01f * float(t);
        float v = 1.f;
        for (int64_t t : ranking[size_t(p)]) {
            d[t * P + p] = v;
            v -= 0.1f;
        }
    }
    return c;
}

float expected_weight(int64_t c0, int64_t c1, int64_t c2) {
    float w = 0.f;
    w = w + float(c0) * 1.0f;
    w = w + float(c1) * 0.1f;
    w = w + float(c2) * 0.01f;
    return w;
}

}  // namespace

TEST_CASE("CRM: rank-weighted votes accumulated in float32 in upstream's order") {
    // 4 pixels, 6 classes.
    const Tensor cost = cost_from_rankings(6, {{2, 0, 1}, {2, 1, 0}, {0, 2, 5}, {4, 3, 2}});
    const std::vector<float> w = crm_class_weights(cost);
    REQUIRE(w.size() == 6);
    CHECK(w[0] == expected_weight(1, 1, 1));
    CHECK(w[1] == expected_weight(0, 1, 1));
    CHECK(w[2] == expected_weight(2, 1, 1));
    CHECK(w[3] == expected_weight(0, 1, 0));
    CHECK(w[4] == expected_weight(1, 0, 0));
    CHECK(w[5] == expected_weight(0, 0, 1));
    CHECK(select_classes(cost, 3) == std::vector<int64_t>{0, 2, 4});
    CHECK(select_classes(cost, 1) == std::vector<int64_t>{2});
}

TEST_CASE("CRM: a [P, T, H, W] cost map with P = 1 is the same as [T, H, W]") {
    const Tensor cost = cost_from_rankings(5, {{1, 2, 3}, {4, 1, 0}});
    CHECK(crm_class_weights(cost.unsqueeze(0)) == crm_class_weights(cost));
}

TEST_CASE("CRM: K larger than the vocabulary keeps every class; T <= 3 ranks all classes") {
    const Tensor cost = cost_from_rankings(3, {{1, 2, 0}, {1, 0, 2}});
    const std::vector<float> w = crm_class_weights(cost);
    CHECK(w[1] == expected_weight(2, 0, 0));
    CHECK(w[0] == expected_weight(0, 1, 1));
    CHECK(w[2] == expected_weight(0, 1, 1));
    CHECK(select_classes(cost, 8) == std::vector<int64_t>{0, 1, 2});
    CHECK(select_classes(cost, 3) == std::vector<int64_t>{0, 1, 2});
    // T = 2: r = 2, no third rank.
    const Tensor two = cost_from_rankings(2, {{1, 0}});
    CHECK(crm_class_weights(two) == std::vector<float>{expected_weight(0, 1, 0), expected_weight(1, 0, 0)});
    CHECK_THROWS(select_classes(two, 0));
}

TEST_CASE("CRM: ties at the top-K boundary") {
    // Only classes 0 and 4 are ever voted for; the other slots are filled among w = 0 classes.
    const Tensor cost = cost_from_rankings(7, {{4, 0, 6}});
    const std::vector<float> w = crm_class_weights(cost);
    CHECK(w[1] == 0.f);
    // Lower-index rule: larger weight first, then the lower class index.
    CHECK(select_classes(cost, 3) == std::vector<int64_t>{0, 4, 6});
    CHECK(select_classes(cost, 4) == std::vector<int64_t>{0, 1, 4, 6});
    CHECK(select_classes(cost, 5) == std::vector<int64_t>{0, 1, 2, 4, 6});

    // float32 collision: one rank-0 vote (1.0) equals ten rank-1 votes (fl32(10 * 0.1f) = 1.0).
    std::vector<std::vector<int64_t>> pixels;
    pixels.push_back({3, 2, 0});
    for (int i = 0; i < 10; ++i) pixels.push_back({5, 1, 0});
    const Tensor collide = cost_from_rankings(6, pixels);
    const std::vector<float> cw = crm_class_weights(collide);
    REQUIRE(cw[3] == 1.0f);
    REQUIRE(cw[1] == 1.0f);
    CHECK(select_classes(collide, 2) == std::vector<int64_t>{1, 5});  // 1 beats 3 on index
    CHECK(select_classes(collide, 3) == std::vector<int64_t>{1, 3, 5});
}

TEST_CASE("CRM: equal similarities within a pixel (duplicate prompts) rank the lower index first") {
    Tensor cost = Tensor::empty({4, 1, 1});
    float* d = cost.data<float>();
    d[0] = 0.1f, d[1] = 0.5f, d[2] = 0.5f, d[3] = 0.2f;  // classes 1 and 2 identical
    const std::vector<float> w = crm_class_weights(cost);
    CHECK(w[1] == 1.0f);
    CHECK(w[2] == 0.1f);
    CHECK(w[3] == 0.01f);
}

TEST_CASE("CRM: the torch-CPU tie rule reproduces upstream's CPU choice of filler classes") {
    // CRM weights of the vocab12 fixture (sample_400x300, 12 classes, K = 8): only 7 classes are
    // voted for; upstream (torch.topk on CPU) filled the 8th slot with class 11, not class 3.
    const std::vector<float> w = {352.48f, 46.67f, 37.57f, 0.f, 0.f, 1.22f, 0.f, 3.7f, 0.f, 0.04f, 2.32f, 0.f};
    CHECK(top_k_classes(w, 8, CrmTieRule::TorchCpu) == std::vector<int64_t>{0, 1, 2, 5, 7, 9, 10, 11});
    CHECK(top_k_classes(w, 8, CrmTieRule::LowerIndex) == std::vector<int64_t>{0, 1, 2, 3, 5, 7, 9, 10});
    // Without ties both rules agree.
    CHECK(top_k_classes(w, 7, CrmTieRule::TorchCpu) == top_k_classes(w, 7, CrmTieRule::LowerIndex));
    // k·64 <= n takes std::partial_sort in PyTorch: distinct values still give the plain top-k.
    std::vector<float> big(200);
    for (size_t i = 0; i < big.size(); ++i) big[i] = float((i * 37) % 200);
    CHECK(top_k_classes(big, 3, CrmTieRule::TorchCpu) == top_k_classes(big, 3, CrmTieRule::LowerIndex));
}

TEST_CASE("Cost map: cosine similarity of unit pixels and unit texts") {
    Tensor feat = Tensor::from_vector<float>({1, 2, 1, 2}, {3.f, 0.f, 4.f, 2.f});  // pixel 0 = (3, 4), pixel 1 = (0, 2)
    Tensor text = Tensor::from_vector<float>({2, 2}, {1.f, 0.f, 0.f, 5.f});
    const Tensor c = cost_map(feat, text);
    REQUIRE(c.shape() == Shape{2, 1, 2});
    CHECK(c.data<float>()[0] == doctest::Approx(0.6f));
    CHECK(c.data<float>()[1] == doctest::Approx(0.0f));
    CHECK(c.data<float>()[2] == doctest::Approx(0.8f));
    CHECK(c.data<float>()[3] == doctest::Approx(1.0f));
}

TEST_CASE("Prompts: first synonym and template") {
    CHECK(first_synonym("bed, bunk bed") == "bed");
    CHECK(first_synonym("wall") == "wall");
    CHECK(first_synonym("bed ") == "bed ");  // ADE-150 has "bed " — kept verbatim
    CHECK(first_synonym("a,b") == "a,b");      // only ", " separates synonyms
    CHECK(first_synonym("car, auto, automobile") == "car");
    CHECK(first_synonym(", x") == "");
    const std::string tpl = "A photo of a {} in the scene";
    CHECK(class_prompt(tpl, "traffic light") == "A photo of a traffic light in the scene");
    CHECK(class_prompt(tpl, "person, individual, someone") == "A photo of a person in the scene");
    CHECK(class_prompts(tpl, {"sky", "tree, trees"}) ==
          std::vector<std::string>{"A photo of a sky in the scene", "A photo of a tree in the scene"});
    CHECK_THROWS(class_prompt("no placeholder", "x"));
}

TEST_CASE("Text embedding cache: keyed by the exact vocabulary, most recent kept") {
    TextEmbeddingCache cache(2);
    int computed = 0;
    auto compute = [&](const std::vector<std::string>& names) {
        ++computed;
        return Tensor::full({int64_t(names.size()), 2}, float(names.size()));
    };
    cache.get({"a", "b"}, compute);
    cache.get({"a", "b"}, compute);
    CHECK(computed == 1);
    cache.get({"b", "a"}, compute);  // order matters
    CHECK(computed == 2);
    cache.get({"c"}, compute);  // evicts {"a", "b"}
    CHECK(cache.size() == 2);
    cache.get({"a", "b"}, compute);
    CHECK(computed == 4);
}

TEST_CASE("Config: the tiny fixture config") {
    std::ifstream f(std::string(ERRSEG_TEST_DATA) + "/fixtures/errseg_tiny.config.json");
    REQUIRE(f.good());
    std::stringstream ss;
    ss << f.rdbuf();
    const ErrSegConfig c = ErrSegConfig::from_json(json::parse(ss.str()));
    CHECK(c.embed_dim == 32);
    CHECK(c.head.aggregator_dim == 32);
    CHECK(c.head.aggregator_heads == 4);
    CHECK(c.head.num_layers() == 2);
    CHECK(c.head.decoder_dims == std::vector<int64_t>{16, 16, 8});
    CHECK(c.head.image_guidance_dims == std::vector<int64_t>{128, 64, 32, 16});
    CHECK(c.head.sample_classes_num == 8);
    CHECK(c.input.crop_size == 320);
    CHECK(c.input.pixel_mean[1] == 116.280f);
    CHECK(c.input.pixel_std[2] == 57.375f);
    CHECK(c.prompt_template == "A photo of a {} in the scene");
    CHECK_THROWS(ErrSegConfig::from_json(json::parse(R"({"architecture": "clip"})")));
    CHECK_THROWS(ErrSegConfig::from_json(json::parse(R"({"head": {"decoder_dims": [4, 8, 8]}})")));
    CHECK_NOTHROW(ErrSegConfig::from_json(json::parse(R"({"head": {"decoder_dims": [12, 8, 8]}})")));  // 1 group
    CHECK_THROWS(ErrSegConfig::from_json(json::parse(R"({"head": {"aggregator_dim": 130}})")));
}

TEST_CASE("Postprocess: row-wise labels and probabilities equal resize-then-argmax") {
    std::mt19937 rng(7);
    std::normal_distribution<float> nd(0.f, 1.f);
    const int64_t T = 9, h = 12, w = 10;
    const std::vector<int64_t> selected = {1, 2, 4, 7, 8};
    Tensor logits = Tensor::full({T, h, w}, -100.f);
    for (int64_t s : selected)
        for (int64_t i = 0; i < h * w; ++i) logits.data<float>()[s * h * w + i] = nd(rng);
    for (auto size : std::vector<std::pair<int64_t, int64_t>>{{37, 23}, {12, 10}, {7, 31}, {1, 1}}) {
        PostprocessOptions opt;
        opt.keep_probs = true;
        const PostprocessResult r = postprocess(logits, selected, size.first, size.second, -100.f, opt);
        const Tensor ref = ops::resize_bilinear(ops::sigmoid(logits).unsqueeze(0), size.first, size.second, false)
                               .select(0, 0)
                               .contiguous();
        const Tensor ref_labels = ops::argmax(ref, 0);
        REQUIRE(r.probs.shape() == ref.shape());
        double max_err = 0;
        for (int64_t i = 0; i < ref.numel(); ++i)
            max_err = std::max(max_err, double(std::fabs(r.probs.data<float>()[i] - ref.data<float>()[i])));
        CHECK(max_err < 1e-6);
        int64_t differ = 0;
        for (int64_t i = 0; i < r.labels.numel(); ++i)
            differ += r.labels.data<int32_t>()[i] != int32_t(ref_labels.data<int64_t>()[i]);
        CHECK(differ == 0);
    }
}

TEST_CASE("Postprocess: dropped classes win only where every kept logit is below the fill") {
    // Class 0 dropped (fill -100), class 1 kept with logits below -100 on the left half.
    Tensor logits = Tensor::full({2, 2, 4}, -100.f);
    float* l = logits.data<float>() + 8;
    for (int i = 0; i < 8; ++i) l[i] = (i % 4) < 2 ? -120.f : 3.f;
    const PostprocessResult r = postprocess(logits, {1}, 2, 4, -100.f);
    const int32_t* lab = r.labels.data<int32_t>();
    CHECK(lab[0] == 0);
    CHECK(lab[3] == 1);
    // Upstream quirk: crop the map to the input size before resizing (off by default).
    PostprocessOptions crop;
    crop.upstream_crop = true;
    const PostprocessResult c = postprocess(logits, {1}, 1, 2, -100.f, crop);
    CHECK(c.labels.shape() == Shape{1, 2});
    CHECK(c.labels.data<int32_t>()[0] == 0);
}

TEST_CASE("Config: absurd values are refused at load, naming the field") {
    auto error_of = [](const std::string& json_text) -> std::string {
        try {
            ErrSegConfig::from_json(json::parse(json_text));
        } catch (const Error& e) {
            return e.what();
        }
        return "(accepted)";
    };
    const std::string head = R"("head": {"aggregator_scale_ratio": [2, 2]})";
    CHECK(error_of("{" + head + R"(, "input": {"pixel_mean": [1e308, 116, 103]}})") ==
          "ERR-Seg config: input.pixel_mean[0] = 1e+308 is out of range");
    CHECK(error_of("{" + head + R"(, "input": {"pixel_mean": [300, 116, 103]}})") ==
          "ERR-Seg config: input.pixel_mean[0] must be in [0, 255] (0-255 RGB), got 300");
    CHECK(error_of("{" + head + R"(, "input": {"pixel_std": [58, 1e-9, 57]}})") ==
          "ERR-Seg config: input.pixel_std[1] must be in [0.01, 1000] (0-255 RGB), got 1e-09");
    CHECK(error_of("{" + head + R"(, "input": {"crop_size": 16}})") ==
          "ERR-Seg config: crop_size 16 is too small for the network: the image encoder's deepest stage has stride "
          "32, so the smallest crop it can run is 32");
    CHECK(error_of("{" + head + R"(, "input": {"crop_size": 65536}})") ==
          "ERR-Seg config: crop_size 65536 is larger than the limit of 4096");
    CHECK(error_of(R"({"head": {"aggregator_scale_ratio": [4]}, "input": {"crop_size": 32}})") ==
          "ERR-Seg config: aggregator_scale_ratio 4 is larger than the stride-16 map of crop_size 32 (2 pixels)");
    CHECK(error_of(R"({"head": {"corr_fpn_inter_dim": 1e9}})") ==
          "ERR-Seg config: head.corr_fpn_inter_dim must be in [1, 65536], got 1000000000");
    CHECK(error_of(R"({"head": {"sample_classes_num": 0}})") == "ERR-Seg config: sample_classes_num must be >= 1");
    CHECK(error_of(R"({"head": {"sample_classes_num": 100000}})") ==
          "ERR-Seg config: head.sample_classes_num must be in [1, 65536], got 100000");
    CHECK(error_of(R"({"head": {"decoder_dims": [64, 32, 1.5]}})") ==
          "ERR-Seg config: 'decoder_dims': JSON number 1.5 is not an integer");
    CHECK(error_of(R"({"head": {}, "input": {"crop_size": "big"}})").find("'crop_size': ") != std::string::npos);
    CHECK(error_of("{" + head + R"(, "input": {"crop_size": 32}})") == "(accepted)");
}

TEST_CASE("CLIP config: LayerNorm epsilons and sizes are range-checked, naming the field") {
    const json::Value text = json::parse(
        R"({"embed_dim": 32, "text": {"vocab_size": 49408, "width": 32, "heads": 4, "layers": 1, "ln_eps": -1e-5}})");
    CHECK_THROWS_WITH_AS(TextConfig::from_json(text), doctest::Contains("text.ln_eps must be in (0, 1], got -1e-05"), Error);
    const json::Value wide = json::parse(
        R"({"embed_dim": 32, "text": {"vocab_size": 49408, "width": 4294967296, "heads": 4, "layers": 1}})");
    CHECK_THROWS_WITH_AS(TextConfig::from_json(wide), doctest::Contains("text config: invalid sizes (width 4294967296"), Error);
}

TEST_CASE("Non-finite values: counted by their bits, reported with the first one") {
    Tensor t = Tensor::zeros({2, 3});
    CHECK(count_non_finite(t).count == 0);
    CHECK_NOTHROW(check_finite(t, "x"));
    t.data<float>()[4] = std::numeric_limits<float>::infinity();
    t.data<float>()[5] = std::nanf("");
    const NonFiniteCount r = count_non_finite(t);
    CHECK(r.count == 2);
    CHECK(r.first == 4);
    CHECK(std::isinf(r.first_value));
    CHECK_THROWS_WITH_AS(check_finite(t, "the logits", ": overflow"),
                         "the logits holds 2 non-finite values (NaN/Inf; first: inf at element 4): overflow", Error);
    // Strided views are checked in their logical order.
    CHECK(count_non_finite(t.permute({1, 0})).first == 3);  // (1, 1) of the transpose
}
