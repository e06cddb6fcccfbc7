// The run-time fronts (errseg/front.hpp): errseg::Segmenter and errseg::Clip on the CPU give
// exactly what the template models give (they are the same code underneath), parameters are
// parsed and checked in one place, and a CUDA device is refused where it cannot be used.
#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "errseg/errseg.hpp"
#include "errseg/front.hpp"

using namespace errseg;

namespace {
const std::string kModel = std::string(ERRSEG_BUILD_DIR) + "/test_models/errseg_tiny.safetensors";
const std::string kImage = std::string(ERRSEG_TEST_DATA) + "/fixtures/sample_400x300.png";

bool same_bytes(const Tensor& a, const Tensor& b) {
    if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
    const Tensor ca = a.contiguous(), cb = b.contiguous();
    return std::memcmp(ca.raw(), cb.raw(), ca.nbytes()) == 0;
}
}  // namespace

TEST_CASE("Device and precision parsing") {
    CHECK(Device::parse("cpu").is_cpu());
    CHECK(Device::parse("cuda").kind == Device::Kind::Cuda);
    CHECK(Device::parse("cuda").index == 0);
    CHECK(Device::parse("cuda:3").index == 3);
    CHECK(Device::parse("cuda:3").name() == "cuda:3");
    for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda:-1", "CPU", "cuda:12345"})
        CHECK_THROWS_WITH_AS(Device::parse(bad), doctest::Contains("--device must be cpu, cuda or cuda:N"), Error);
    CHECK(parse_precision("fp32") == DType::F32);
    CHECK(parse_precision("fp16") == DType::F16);
    CHECK(parse_precision("bf16") == DType::BF16);
    CHECK_THROWS_WITH_AS(parse_precision("fp8"), doctest::Contains("--precision must be"), Error);
    // The CPU computes in fp32 only.
    CHECK_THROWS_WITH_AS(Segmenter(ModelParams{kModel, Device::parse("cpu"), DType::F16}),
                         doctest::Contains("--precision fp16 needs --device cuda"), Error);
}

TEST_CASE("a CUDA device is refused where this program cannot use it") {
    const ModelParams p{kModel, Device::parse("cuda")};
    if (!cuda_backend_compiled()) {
        CHECK_THROWS_WITH_AS(Segmenter{p}, doctest::Contains("built without the CUDA backend"), Error);
        CHECK_THROWS_WITH_AS(Clip{p}, doctest::Contains("built without the CUDA backend"), Error);
    }
}

TEST_CASE("Segmenter on the CPU is ErrSegModel, bit for bit") {
    const Segmenter seg(ModelParams{kModel, Device::parse("cpu"), DType::F32, 2});
    const auto model = models::ErrSegModel::load(kModel);
    const std::vector<std::string> names{"wall", "floor", "person", "sky", "tree", "car"};
    const Tensor a = seg.encode_classes(names), b = model.encode_classes(names);
    REQUIRE(same_bytes(a, b));
    const Image img = load_image(kImage);
    models::SegmentOptions opt;
    opt.keep_probs = true;
    const auto r1 = seg.segment(img, a, opt);
    const auto r2 = model.segment(img, b, opt);
    CHECK(same_bytes(r1.labels, r2.labels));
    CHECK(same_bytes(r1.logits, r2.logits));
    CHECK(same_bytes(r1.probs, r2.probs));
    CHECK(r1.selected == r2.selected);
    CHECK(seg.config().embed_dim == model.config().embed_dim);
    // segment_batch through the front too.
    const auto batch = seg.segment_batch({&img, &img}, a);
    REQUIRE(batch.size() == 2);
    CHECK(same_bytes(batch[1].labels, r2.labels));
}

TEST_CASE("Clip on the CPU is models::Clip, bit for bit") {
    const Clip clip(ModelParams{kModel});
    const auto ref = models::Clip::load(kModel);
    CHECK(clip.image_size() == ref.image_size());
    CHECK(clip.logit_scale() == ref.logit_scale());
    CHECK(same_bytes(clip.encode_text({"a photo of a cat", "a dog"}), ref.encode_text({"a photo of a cat", "a dog"})));
    const Tensor x = models::clip_preprocess(load_image(kImage), int(clip.image_size()));
    CHECK(same_bytes(clip.encode_image(x), ref.encode_image(x)));
}
