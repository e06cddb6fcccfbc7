// ERR-Seg end to end on the GPU backend (the same model code as the CPU, instantiated with
// cuda::CudaBackend), against the upstream fixtures and against our CPU backend:
//   * fp32: CRM selects exactly the fixture's classes; kept logits within 1e-3 absolute of the
//     fixture; labels >= 99.9 % identical to the fixture (the CPU bound);
//   * fp16 / bf16: labels >= 99 % identical to the GPU fp32 run (figures printed);
//   * the GPU text tower's class embeddings within 1e-4 of the CPU's.
// The tiny checkpoint is converted by the cuda_test_models fixture (tests/convert_test_models.py).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "errseg/cuda/cuda_backend.hpp"
#include "errseg/errseg.hpp"

using namespace errseg;
using namespace errseg::models;

namespace {

using GpuModel = ErrSegModelOn<cuda::CudaBackend>;

const std::string kModel = std::string(ERRSEG_CUDA_TEST_MODELS) + "/errseg_tiny.safetensors";
const std::string kFixtures = std::string(ERRSEG_TEST_DATA) + "/fixtures/";

bool model_present() {
    std::ifstream f(kModel);
    return bool(f);
}

const ErrSegModel& cpu_model() {
    static const ErrSegModel m = ErrSegModel::load(kModel);
    return m;
}

// One GPU model per precision (weights are uploaded in the compute dtype at load).
const GpuModel& gpu_model(DType precision) {
    static std::map<int, std::unique_ptr<GpuModel>> models;
    auto& slot = models[int(precision)];
    if (!slot) {
        cuda::PrecisionScope scope(precision);
        slot = std::make_unique<GpuModel>(GpuModel::load(kModel));
    }
    return *slot;
}

const std::vector<std::string> kVocab12 = {"wall", "floor", "ceiling", "bed",    "window", "cabinet",
                                           "person", "door", "table",   "chair", "lamp",   "plant"};

double label_agreement(const Tensor& a, const Tensor& b) {
    REQUIRE(a.shape() == b.shape());
    int64_t same = 0;
    for (int64_t i = 0; i < a.numel(); ++i) same += a.data<int32_t>()[i] == b.data<int32_t>()[i];
    return double(same) / double(a.numel());
}

// Largest |a - b| over the classes in `kept` (others must both be -100).
double kept_logit_error(const Tensor& got, const Tensor& want, const std::vector<int64_t>& kept) {
    REQUIRE(got.shape() == want.shape());
    const int64_t plane = got.size(1) * got.size(2);
    double worst = 0;
    for (int64_t t : kept)
        for (int64_t i = 0; i < plane; ++i)
            worst = std::max(worst, double(std::fabs(got.data<float>()[t * plane + i] - want.data<float>()[t * plane + i])));
    return worst;
}

}  // namespace

TEST_CASE("GPU ERR-Seg: fp32 matches the upstream fixture and the CPU backend") {
    REQUIRE_MESSAGE(model_present(), "converted test model missing: ", kModel, " (run the cuda_test_models fixture)");
    const auto ref = read_npz(kFixtures + "seed0_sample400_vocab12.npz");
    const Image img = load_image(kFixtures + "sample_400x300.png");

    const Tensor text_cpu = cpu_model().encode_classes(kVocab12);
    const Tensor text_gpu = gpu_model(DType::F32).encode_classes(kVocab12);
    double text_err = 0;
    for (int64_t i = 0; i < text_cpu.numel(); ++i)
        text_err = std::max(text_err, double(std::fabs(text_cpu.data<float>()[i] - text_gpu.data<float>()[i])));
    std::printf("class embeddings GPU fp32 vs CPU: max abs %.3g\n", text_err);
    CHECK(text_err <= 1e-4);

    SegmentOptions opt;
    opt.crm_tie_rule = CrmTieRule::TorchCpu;  // CRM runs on the host: same rule as the fixture
    const SegmentResult gpu = gpu_model(DType::F32).segment(img, text_cpu, opt);
    const SegmentResult cpu = cpu_model().segment(img, text_cpu, opt);

    const Tensor sel = ref.at("selected");
    const std::vector<int64_t> expected(sel.data<int64_t>(), sel.data<int64_t>() + sel.numel());
    CHECK(gpu.selected == expected);
    const double vs_fixture = kept_logit_error(gpu.logits, ref.at("logits").to_f32(), expected);
    const double vs_cpu = kept_logit_error(gpu.logits, cpu.logits, expected);
    const double agree_fixture = label_agreement(gpu.labels, ref.at("labels"));
    const double agree_cpu = label_agreement(gpu.labels, cpu.labels);
    std::printf("GPU fp32: logits max abs vs fixture %.3g, vs CPU %.3g; labels agree with fixture %.4f%%, with CPU %.4f%%\n",
                vs_fixture, vs_cpu, 100 * agree_fixture, 100 * agree_cpu);
    CHECK(vs_fixture <= 1e-3);
    CHECK(agree_fixture >= 0.999);
    CHECK(agree_cpu >= 0.999);
    for (const auto& t : gpu.timings_ms) std::printf(" %s %.2f ms;", t.first.c_str(), t.second);
    std::printf("\n");
}

TEST_CASE("GPU ERR-Seg: fp16 and bf16 label maps agree with fp32") {
    REQUIRE(model_present());
    const Image img = load_image(kFixtures + "sample_400x300.png");
    const Tensor text = cpu_model().encode_classes(kVocab12);
    const SegmentResult fp32 = gpu_model(DType::F32).segment(img, text);
    for (DType dt : {DType::F16, DType::BF16}) {
        const SegmentResult low = gpu_model(dt).segment(img, text);
        const double agree = label_agreement(low.labels, fp32.labels);
        std::printf("GPU %s: labels agree with GPU fp32 %.4f%%; CRM selection %s\n", dtype_name(dt), 100 * agree,
                    low.selected == fp32.selected ? "identical" : "differs");
        CHECK(agree >= 0.99);
    }
}

TEST_CASE("GPU ERR-Seg: ADE-150 fixture (sample_257x385)") {
    REQUIRE(model_present());
    const auto ref = read_npz(kFixtures + "seed0_sample257_ade150.npz");
    const std::vector<std::string> classes = read_npz_strings(kFixtures + "seed0_sample257_ade150.npz", "classes");
    const Image img = load_image(kFixtures + "sample_257x385.png");
    SegmentOptions opt;
    opt.crm_tie_rule = CrmTieRule::TorchCpu;
    const SegmentResult gpu = gpu_model(DType::F32).segment(img, cpu_model().encode_classes(classes), opt);
    const Tensor sel = ref.at("selected");
    const std::vector<int64_t> expected(sel.data<int64_t>(), sel.data<int64_t>() + sel.numel());
    CHECK(gpu.selected == expected);
    const double agree = label_agreement(gpu.labels, ref.at("labels"));
    const double err = kept_logit_error(gpu.logits, ref.at("logits").to_f32(), expected);
    std::printf("GPU fp32 ADE-150: logits max abs vs fixture %.3g; labels agree %.4f%%\n", err, 100 * agree);
    CHECK(err <= 1e-3);
    CHECK(agree >= 0.999);
}
