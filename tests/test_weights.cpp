// Weights: scoped float32 access, F16/BF16 conversion, shape checks, config metadata,
// usage tracking.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "error_of.hpp"
#include "errseg/io/weights.hpp"

using namespace errseg;

// Read access to a (possibly read-only, memory-mapped) tensor's elements.
template <class T>
const T* ro(const Tensor& t) {
    return t.data<T>();
}

namespace {

std::string scratch(const std::string& name) {
    static const std::filesystem::path dir = [] {
        auto p = std::filesystem::path(ERRSEG_BUILD_DIR) / "io_test_tmp" / ("w_" + std::to_string(::getpid()));
        std::filesystem::create_directories(p);
        return p;
    }();
    return (dir / name).string();
}

Tensor half_tensor(const Shape& shape, const std::vector<float>& v, bool bf16) {
    Tensor t = Tensor::empty(shape, bf16 ? DType::BF16 : DType::F16);
    auto* p = reinterpret_cast<uint16_t*>(t.storage()->data());
    for (size_t i = 0; i < v.size(); ++i) p[i] = bf16 ? float_to_bf16(v[i]) : float_to_half(v[i]);
    return t;
}

// A small model file: F32, F16, BF16 and I64 tensors under two prefixes, plus metadata.
std::string make_model(const std::string& name, bool with_config = true, const std::string& config =
                                                                              R"({"architecture":"clip","clip":{"embed_dim":4}})") {
    std::map<std::string, std::string> meta = {{"errseg.format", "1"}, {"errseg.source", "unit test"}};
    if (with_config) meta["errseg.config"] = config;
    const std::string path = scratch(name);
    write_safetensors(path,
                      {{"clip.visual.conv1.weight", Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4})},
                       {"clip.visual.ln.weight", half_tensor({3}, {0.5f, -1.f, 65504.f}, false)},
                       {"clip.visual.ln.bias", half_tensor({2}, {3.f, -0.125f}, true)},
                       {"clip.text.ids", Tensor::from_vector<int64_t>({2}, {7, 8})},
                       {"head.proj.weight", Tensor::from_vector<float>({1}, {9})}},
                      meta);
    return path;
}

}  // namespace

TEST_CASE("weights: get, scope, F16/BF16 -> F32") {
    Weights w = Weights::open(make_model("model.safetensors"));
    CHECK(w.path() == scratch("model.safetensors"));
    CHECK(w.has("clip.visual.conv1.weight"));
    Tensor c = w.get("clip.visual.conv1.weight");
    CHECK(c.dtype() == DType::F32);
    CHECK(c.shape() == Shape{2, 2});
    CHECK(ro<float>(c)[3] == 4.f);

    Weights vis = w.scope("clip.").scope("visual.");
    CHECK(vis.prefix() == "clip.visual.");
    CHECK(vis.has("conv1.weight"));
    CHECK_FALSE(vis.has("clip.visual.conv1.weight"));
    CHECK(vis.names() == std::vector<std::string>{"conv1.weight", "ln.weight", "ln.bias"});

    Tensor ln = vis.get("ln.weight");
    CHECK(ln.dtype() == DType::F32);
    const float* lp = ro<float>(ln);
    CHECK(lp[0] == 0.5f);
    CHECK(lp[1] == -1.f);
    CHECK(lp[2] == 65504.f);
    // Converted once: a second get returns the same cached storage.
    CHECK(vis.get("ln.weight").storage() == ln.storage());

    Tensor lb = vis.get("ln.bias", {2});
    CHECK(ro<float>(lb)[0] == 3.f);
    CHECK(ro<float>(lb)[1] == -0.125f);

    CHECK(vis.stored_dtype("ln.weight") == DType::F16);
    CHECK(vis.stored_shape("ln.weight") == Shape{3});
    CHECK(w.get_raw("clip.text.ids").dtype() == DType::I64);
    CHECK(ro<int64_t>(w.get_raw("clip.text.ids"))[1] == 8);
}

TEST_CASE("weights: error messages name the model file, tensor and shapes") {
    const std::string path = make_model("errors.safetensors");
    Weights w = Weights::open(path);
    Weights vis = w.scope("clip.visual.");
    CHECK(error_of([&] { vis.get("conv2.weight"); }) ==
          "model file " + path + " has no tensor 'clip.visual.conv2.weight'");
    CHECK(error_of([&] { vis.get("conv1.weight", {2, 3}); }) ==
          "tensor 'clip.visual.conv1.weight' has shape [2, 2], expected [2, 3] (model file " + path + ")");
    CHECK(error_of([&] { w.get("clip.text.ids"); }).find("has dtype I64, expected a floating-point type") !=
          std::string::npos);
    CHECK(error_of([&] { Weights::open(scratch("missing.safetensors")); }).find("cannot open") != std::string::npos);
    CHECK(error_of([&] { Weights().get("x"); }) == "Weights: no model file opened");
}

TEST_CASE("weights: config and metadata") {
    Weights w = Weights::open(make_model("cfg.safetensors"));
    CHECK(w.config()["architecture"].as_string() == "clip");
    CHECK(w.config()["clip"]["embed_dim"].as_int() == 4);
    CHECK(&w.config() == &w.scope("clip.").config());  // parsed once, shared by scopes
    CHECK(w.metadata("errseg.source") == "unit test");
    CHECK(w.metadata("absent") == "");

    const std::string nocfg = make_model("nocfg.safetensors", false);
    CHECK(error_of([&] { Weights::open(nocfg).config(); }).find("has no 'errseg.config' metadata") !=
          std::string::npos);
    const std::string badcfg = make_model("badcfg.safetensors", true, "{\"a\": [1,}");
    CHECK(error_of([&] { Weights::open(badcfg).config(); }).find("metadata 'errseg.config' is not valid JSON") !=
          std::string::npos);
    const std::string arrcfg = make_model("arrcfg.safetensors", true, "[1]");
    CHECK(error_of([&] { Weights::open(arrcfg).config(); }).find("is not a JSON object") != std::string::npos);
}

TEST_CASE("weights: usage tracking lists tensors never read") {
    Weights w = Weights::open(make_model("usage.safetensors"));
    CHECK(w.unused().size() == 5);
    w.scope("clip.visual.").get("conv1.weight");
    w.scope("clip.visual.").get("ln.weight");
    w.has("head.proj.weight");  // has() is not a use
    w.scope("clip.").stored_shape("text.ids");
    CHECK(w.unused() == std::vector<std::string>{"clip.visual.ln.bias", "clip.text.ids", "head.proj.weight"});
    w.reset_usage();
    CHECK(w.unused().size() == 5);
    CHECK(w.tensor_bytes() == 16 + 6 + 4 + 16 + 4);
    CHECK(w.file_bytes() > w.tensor_bytes());
}

TEST_CASE("weights: concurrent gets of a converted tensor are safe") {
    Weights w = Weights::open(make_model("threads.safetensors"));
    std::vector<std::thread> threads;
    std::vector<float> seen(8);
    for (int i = 0; i < 8; ++i)
        threads.emplace_back([&, i] {
            Tensor t = w.get("clip.visual.ln.weight");
            seen[size_t(i)] = ro<float>(t)[2];
        });
    for (auto& t : threads) t.join();
    CHECK(std::all_of(seen.begin(), seen.end(), [](float v) { return v == 65504.f; }));
}
