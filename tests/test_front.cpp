// The run-time fronts (errseg/front.hpp): errseg::Segmenter and errseg::Clip on the CPU give
// exactly what the template models give (they are the same code underneath), parameters are
// parsed and checked in one place, and a CUDA device is refused where it cannot be used.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "errseg/errseg.hpp"
#include "errseg/front.hpp"
#include "errseg/named_vocabulary.hpp"

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
    // The CPU computes in fp32, or bf16 where it has AVX512-BF16.
    CHECK_THROWS_WITH_AS(Segmenter(ModelParams{kModel, Device::parse("cpu"), DType::F16}),
                         doctest::Contains("--precision fp16 needs --device cuda"), Error);
    if (!cpu_bf16_supported())
        CHECK_THROWS_WITH_AS(Segmenter(ModelParams{kModel, Device::parse("cpu"), DType::BF16}),
                             doctest::Contains("--precision bf16 on the CPU: "), Error);
}

namespace {
double label_agreement(const Tensor& x, const Tensor& y) {
    REQUIRE(x.shape() == y.shape());
    const int32_t* a = x.data<int32_t>();
    const int32_t* b = y.data<int32_t>();
    int64_t same = 0;
    for (int64_t i = 0; i < x.numel(); ++i) same += a[i] == b[i];
    return double(same) / double(x.numel());
}
}  // namespace

TEST_CASE("bf16 on the CPU: labels of the trained demo model at least 99 % identical to fp32") {
    if (!cpu_bf16_supported()) {
        MESSAGE("skipped: ", detail::cpu_bf16_missing_reason());
        return;
    }
    const std::vector<std::string> ade150 =
        load_vocabulary(std::string(ERRSEG_SOURCE_DIR) + "/data/classes/ade150.json", nullptr).classes;
    const std::string model = std::string(ERRSEG_BUILD_DIR) + "/test_models/errseg_shapes.safetensors";
    const Segmenter fp32(ModelParams{model, Device::parse("cpu"), DType::F32, 2});
    const Segmenter bf16(ModelParams{model, Device::parse("cpu"), DType::BF16, 2});
    CHECK(bf16.precision() == DType::BF16);
    const Tensor e32 = fp32.encode_classes(ade150), e16 = bf16.encode_classes(ade150);
    CHECK_FALSE(same_bytes(e32, e16));  // bf16 really ran (in the text tower too)
    for (const char* image : {"sample_400x300.png", "sample_257x385.png"}) {
        INFO(image);
        const Image img = load_image(std::string(ERRSEG_TEST_DATA) + "/fixtures/" + image);
        for (const Tensor* e : {&e32, &e16}) {  // the image side alone, then both towers in bf16
            const double agreement = label_agreement(fp32.segment(img, e32).labels, bf16.segment(img, *e).labels);
            MESSAGE(std::string(image), e == &e32 ? " (fp32 classes)" : " (bf16 classes)", ": bf16 labels ", agreement * 100,
                    " % identical to fp32");
            CHECK(agreement >= 0.99);
        }
    }
}

// The tiny fixture's weights are random: its top two logits differ by about 0.2 % of their range
// on average, so its labels follow rounding noise (63-85 % agree) and are no measure. Its logits
// are: close to fp32 relative to their range wherever CRM kept the same classes.
TEST_CASE("bf16 on the CPU: the random tiny fixture's logits stay close to fp32") {
    if (!cpu_bf16_supported()) {
        MESSAGE("skipped: ", detail::cpu_bf16_missing_reason());
        return;
    }
    const std::vector<std::string> names{"wall", "floor", "person", "sky", "tree", "car", "bed", "door"};
    const Segmenter fp32(ModelParams{kModel, Device::parse("cpu"), DType::F32, 2});
    const Segmenter bf16(ModelParams{kModel, Device::parse("cpu"), DType::BF16, 2});
    const Tensor e = fp32.encode_classes(names);
    const Image img = load_image(kImage);
    const auto r32 = fp32.segment(img, e), r16 = bf16.segment(img, e);
    REQUIRE(r32.selected == r16.selected);
    const float* x = r32.logits.data<float>();
    const float* y = r16.logits.data<float>();
    double lo = 1e30, hi = -1e30, worst = 0, sum = 0;
    for (int64_t i = 0; i < r32.logits.numel(); ++i) {
        lo = std::min(lo, double(x[i])), hi = std::max(hi, double(x[i]));
        worst = std::max(worst, double(std::fabs(x[i] - y[i])));
        sum += std::fabs(x[i] - y[i]);
    }
    const double range = hi - lo, mean = sum / double(r32.logits.numel());
    MESSAGE("tiny fixture: logits range ", range, ", bf16 max |diff| ", worst, ", mean ", mean);
    CHECK(worst > 0);
    CHECK(worst <= 0.03 * range);
    CHECK(mean <= 0.003 * range);
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
