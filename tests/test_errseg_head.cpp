// The ERR-Seg decoder head on its own, with the tiny fixture model:
//   * head-only parity: dense CLIP features and text embeddings of the vocab12 fixture (dumped
//     by tests/reference/errseg_reference.py, an independent PyTorch re-implementation that
//     matches upstream to ~3e-7) through our head, compared with upstream's logits;
//   * permutation invariance: upstream shuffles the kept classes before decoding; decoding in
//     any order and scattering back by class index gives the same logits (within 1e-6);
//   * class chunking (a memory bound) does not change the result;
//   * an aggregator layer's peak memory stays a small multiple of its input (heap_usage).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "errseg/io/npy.hpp"
#include "errseg/io/npz.hpp"
#include "errseg/io/weights.hpp"
#include "errseg/models/errseg/config.hpp"
#include "errseg/models/errseg/head.hpp"
#include "random_tensors.hpp"

using namespace errseg;
using namespace errseg::models;

namespace {

const std::string kModel = std::string(ERRSEG_BUILD_DIR) + "/test_models/errseg_tiny.safetensors";
const std::string kInputs = std::string(ERRSEG_TEST_DATA) + "/errseg/sample400_vocab12/";

struct Fixture {
    Weights weights;
    ErrSegConfig cfg;
    ErrSegHead head;
    DenseFeatures features;
    Tensor text;
};

const Fixture& fixture() {
    static const Fixture f = [] {
        Fixture x;
        x.weights = Weights::open(kModel);
        x.cfg = ErrSegConfig::from_json(x.weights.config());
        x.head = ErrSegHead(x.weights.scope("head."), x.cfg.head);
        x.features.os4 = read_npy(kInputs + "os4.npy");
        x.features.os8 = read_npy(kInputs + "os8.npy");
        x.features.os16 = read_npy(kInputs + "os16.npy");
        x.features.os32 = read_npy(kInputs + "os32.npy");
        x.features.os16_dense = read_npy(kInputs + "os16_dense.npy");
        x.features.clip_vis_dense = read_npy(kInputs + "clip_vis_dense.npy");
        x.text = read_npy(kInputs + "text.npy");
        return x;
    }();
    return f;
}

double max_abs_diff(const Tensor& a_in, const Tensor& b_in) {
    const Tensor a = a_in.contiguous(), b = b_in.contiguous();
    REQUIRE(a.shape() == b.shape());
    double m = 0;
    for (int64_t i = 0; i < a.numel(); ++i)
        m = std::max(m, double(std::fabs(a.data<float>()[i] - b.data<float>()[i])));
    return m;
}

}  // namespace

TEST_CASE("ERR-Seg head: logits of the vocab12 fixture from reference features") {
    const Fixture& f = fixture();
    const auto ref = read_npz(std::string(ERRSEG_TEST_DATA) + "/fixtures/seed0_sample400_vocab12.npz");
    const Tensor ref_logits = ref.at("logits").to_f32();
    const Tensor ref_sel = ref.at("selected");
    std::vector<int64_t> expected(size_t(ref_sel.numel()));
    for (int64_t i = 0; i < ref_sel.numel(); ++i) expected[size_t(i)] = ref_sel.data<int64_t>()[i];

    const ErrSegHead::Output out = f.head.forward(f.features, f.text, -1, CrmTieRule::TorchCpu);
    CHECK(out.selected == expected);
    REQUIRE(out.logits.shape() == ref_logits.shape());
    const int64_t plane = out.logits.size(1) * out.logits.size(2);
    double max_abs = 0, max_rel = 0;
    int64_t bad = 0;
    std::vector<bool> kept(size_t(out.logits.size(0)), false);
    for (int64_t s : expected) kept[size_t(s)] = true;
    for (int64_t t = 0; t < out.logits.size(0); ++t)
        for (int64_t i = 0; i < plane; ++i) {
            const float a = out.logits.data<float>()[t * plane + i], b = ref_logits.data<float>()[t * plane + i];
            if (!kept[size_t(t)]) {
                bad += a != -100.f;
                continue;
            }
            const double d = std::fabs(double(a) - double(b));
            max_abs = std::max(max_abs, d);
            max_rel = std::max(max_rel, d / std::max(1e-30, std::fabs(double(b))));
            bad += !(d <= 1e-5 || d <= 1e-4 * std::fabs(double(b)));
        }
    std::printf("[head vocab12] max abs err %.3g, max rel err %.3g\n", max_abs, max_rel);
    CHECK(bad == 0);
}

TEST_CASE("ERR-Seg head: decoding the kept classes in any order gives the same logits") {
    const Fixture& f = fixture();
    const Tensor cost16 = cost_map(f.features.os16_dense, f.text);
    const std::vector<int64_t> sorted = select_classes(cost16, 8, CrmTieRule::TorchCpu);
    const Tensor reference = f.head.decode(f.features, f.text, cost16, sorted);

    std::mt19937 rng(1234);
    for (int trial = 0; trial < 3; ++trial) {
        std::vector<int64_t> shuffled = sorted;
        std::shuffle(shuffled.begin(), shuffled.end(), rng);
        const Tensor permuted = f.head.decode(f.features, f.text, cost16, shuffled);
        const double d = max_abs_diff(reference, permuted);
        std::printf("[head permutation %d] max abs diff %.3g\n", trial, d);
        CHECK(d <= 1e-6);
    }
    // All classes (K = T), reversed.
    std::vector<int64_t> all(size_t(f.text.size(0)));
    for (size_t i = 0; i < all.size(); ++i) all[i] = int64_t(i);
    const Tensor forward_all = f.head.decode(f.features, f.text, cost16, all);
    std::reverse(all.begin(), all.end());
    CHECK(max_abs_diff(forward_all, f.head.decode(f.features, f.text, cost16, all)) <= 1e-6);
}

TEST_CASE("ERR-Seg head: class chunking does not change the result") {
    const Fixture& f = fixture();
    ErrSegHead head = f.head;
    const ErrSegHead::Output whole = head.forward(f.features, f.text, -1, CrmTieRule::TorchCpu);
    head.set_class_chunk(3);
    const ErrSegHead::Output chunked = head.forward(f.features, f.text, -1, CrmTieRule::TorchCpu);
    CHECK(whole.selected == chunked.selected);
    CHECK(max_abs_diff(whole.logits, chunked.logits) <= 1e-6);
}

TEST_CASE("ERR-Seg head: K larger than the vocabulary keeps every class") {
    const Fixture& f = fixture();
    const Tensor text3 = f.text.slice(0, 0, 3).contiguous();
    const ErrSegHead::Output out = f.head.forward(f.features, text3, 8);
    CHECK(out.selected == std::vector<int64_t>{0, 1, 2});
    CHECK(out.logits.shape() == Shape{3, 80, 80});
    int64_t filled = 0;
    for (int64_t i = 0; i < out.logits.numel(); ++i) filled += out.logits.data<float>()[i] == -100.f;
    CHECK(filled == 0);
}

TEST_CASE("ERR-Seg head: an aggregator layer holds at most ~3 copies of its K x C x H x W input") {
    // What the layer keeps alive besides per-chunk temporaries: its input, overwritten by
    // spatial fusion chunk by chunk (the input is moved in), class fusion's pooled-grid tensors
    // (its MLP runs over chunks of positions) and the upsampled residual, summed in place. Before
    // this was bounded the layer held input, chunk list, concatenation, upsampled and sum at
    // once: 5.5x the input above what was alive before, at this shape.
    const Fixture& f = fixture();
    const ErrSegHeadConfig& cfg = f.cfg.head;
    const int64_t K = 48, C = cfg.aggregator_dim, H = 16, W = 16, chunk = 4;
    const AggregatorLayer layer(f.weights.scope("head.aggregator_layers.0."), C, cfg.aggregator_heads,
                                cfg.aggregator_scale_ratio[0]);
    const Tensor guidance = errseg_test::rand_tensor({1, C, H, W}, 7);
    const Tensor text_guidance = errseg_test::rand_tensor({K, C}, 8);
    const Tensor x_ref = errseg_test::rand_tensor({K, C, H, W}, 9);
    const Tensor expected = layer.forward(x_ref.clone(), guidance, text_guidance, K);  // one chunk

    Tensor x = x_ref.clone();
    const double input_bytes = double(x.numel()) * 4;
    reset_heap_peak();
    const size_t before = heap_usage().tensor_bytes;  // includes x
    const Tensor out = layer.forward(std::move(x), guidance, text_guidance, chunk);
    const double extra = double(heap_usage().peak_tensor_bytes - before);
    std::printf("[aggregator memory] input %.2f MiB, peak above what was alive before: %.2f MiB (%.2fx)\n",
                input_bytes / 1048576.0, extra / 1048576.0, extra / input_bytes);
    CHECK(extra <= 3.0 * input_bytes);
    CHECK(max_abs_diff(expected, out) <= 1e-5);  // chunking changes nothing beyond rounding
}
