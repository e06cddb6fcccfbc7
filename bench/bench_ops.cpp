// Op-level CPU benchmarks at the shapes the real models run (ConvNeXt-B @640, ViT-B/16 @224, the
// ConvNeXt-B CLIP text tower on 150 prompts x 77 tokens, the ERR-Seg B head with K = 32 classes
// processed in chunks of 8 as ErrSegHead does).
//
//   bench_ops [--threads=N] [--dump_cases=FILE.json] [Google Benchmark flags]
//
// Threads: --threads=N, else $ERRSEG_BENCH_THREADS, else 2. Every benchmark reports wall time
// (UseRealTime: the pool's threads work too) and, where meaningful, a FLOP rate counter
// ("FLOP/s", 2 flops per multiply-add) and a memory-traffic counter ("B/s", input + output bytes
// once). --dump_cases writes the case table (op kind + shape parameters) as JSON and exits:
// bench/run_cpu_bench.py reads it to time the same shapes in PyTorch.
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "bench_common.hpp"

#include <errseg/ops.hpp>

namespace {

using errseg::Shape;
using errseg::Tensor;
namespace ops = errseg::ops;
using errseg_bench::random_tensor;

struct Case {
    std::string name;  // "<op>/<where>", also the key the Python driver matches on
    std::string op;    // linear | conv2d | conv_transpose2d | attention | layer_norm | layer_norm_nhwc |
                       // layer_norm2d | group_norm | gelu | resize_bilinear | add
    std::vector<std::pair<std::string, int64_t>> p;
    int64_t get(const char* key, int64_t def = 0) const {
        for (const auto& kv : p)
            if (kv.first == key) return kv.second;
        return def;
    }
};

using P = std::vector<std::pair<std::string, int64_t>>;

// The table. Shapes (B = ERR-Seg B / ConvNeXt-B CLIP at S = 640):
//   ConvNeXt stages: 128ch@160², 256@80², 512@40² (27 blocks), 1024@20²; HSM: stage-3 blocks at 40²
//   text tower (width 640, 10 heads): 150 prompts x 77 tokens = 11550 rows
//   ViT-B/16 @224: 197 tokens x 768, 12 heads
//   ERR-Seg head: K = 32 classes, chunks of 8; C = 128 at 40², 4 heads x 32, sr 2 -> 400 keys
std::vector<Case> make_cases() {
    std::vector<Case> c;
    auto lin = [&](const std::string& where, int64_t M, int64_t K, int64_t N) {
        c.push_back({"linear/" + where, "linear", P{{"M", M}, {"K", K}, {"N", N}}});
    };
    lin("convnext.s0.fc1", 25600, 128, 512);
    lin("convnext.s0.fc2", 25600, 512, 128);
    lin("convnext.s1.fc1", 6400, 256, 1024);
    lin("convnext.s1.fc2", 6400, 1024, 256);
    lin("convnext.s2.fc1", 1600, 512, 2048);
    lin("convnext.s2.fc2", 1600, 2048, 512);
    lin("convnext.s3.fc1", 400, 1024, 4096);
    lin("convnext.s3.fc2", 400, 4096, 1024);
    lin("hsm.s3.fc1", 1600, 1024, 4096);
    lin("hsm.s3.fc2", 1600, 4096, 1024);
    lin("text.in_proj", 150 * 77, 640, 1920);
    lin("text.fc1", 150 * 77, 640, 2560);
    lin("text.fc2", 150 * 77, 2560, 640);
    lin("vit_b16.in_proj", 197, 768, 2304);
    lin("vit_b16.fc1", 197, 768, 3072);
    lin("vit_b16.fc2", 197, 3072, 768);
    lin("escf.spatial.fc1", 8 * 1600, 128, 384);
    lin("escf.spatial.fc3", 8 * 1600, 384, 128);
    lin("escf.class.q", 400 * 32, 128, 128);

    auto conv = [&](const std::string& where, int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, int64_t k,
                    int64_t s, int64_t pad, int64_t groups = 1) {
        c.push_back({(groups > 1 ? "conv2d_dw/" : "conv2d/") + where, "conv2d",
                     P{{"N", N}, {"C", C}, {"H", H}, {"W", W}, {"O", O}, {"k", k}, {"stride", s}, {"pad", pad},
                       {"groups", groups}}});
    };
    conv("convnext.stem.4x4s4", 1, 3, 640, 640, 128, 4, 4, 0);
    conv("convnext.ds1.2x2s2", 1, 128, 160, 160, 256, 2, 2, 0);
    conv("convnext.ds3.2x2s2", 1, 512, 40, 40, 1024, 2, 2, 0);
    conv("hsm.2x2s1", 1, 512, 42, 42, 1024, 2, 1, 0);
    conv("vit_b16.patchify.16x16s16", 1, 3, 224, 224, 768, 16, 16, 0);
    conv("head.agg_guidance32.3x3", 1, 1024, 20, 20, 256, 3, 1, 1);
    conv("head.agg_guidance16.3x3", 1, 512, 40, 40, 256, 3, 1, 1);
    conv("head.dec_guidance4.3x3", 1, 128, 160, 160, 8, 3, 1, 1);
    conv("head.cost_embed16.7x7", 8, 1, 40, 40, 256, 7, 1, 3);
    conv("head.low_corr_fusion.1x1", 8, 256, 40, 40, 128, 1, 1, 0);
    conv("head.sr_k.2x2s2", 8, 128, 40, 40, 256, 2, 2, 0);
    conv("head.up1.fuse.3x3", 8, 64, 40, 40, 64, 3, 1, 1);
    conv("head.up2.conv.3x3", 8, 32, 80, 80, 32, 3, 1, 1);
    conv("head.up3.conv.3x3", 8, 16, 160, 160, 16, 3, 1, 1);
    // depthwise 7x7, pad 3
    conv("convnext.s0.7x7", 1, 128, 160, 160, 128, 7, 1, 3, 128);
    conv("convnext.s1.7x7", 1, 256, 80, 80, 256, 7, 1, 3, 256);
    conv("convnext.s2.7x7", 1, 512, 40, 40, 512, 7, 1, 3, 512);
    conv("convnext.s3.7x7", 1, 1024, 20, 20, 1024, 7, 1, 3, 1024);
    conv("hsm.s3.7x7", 1, 1024, 40, 40, 1024, 7, 1, 3, 1024);
    conv("escf.spatial.7x7", 8, 128, 40, 40, 128, 7, 1, 3, 128);

    auto convt = [&](const std::string& where, int64_t N, int64_t C, int64_t H, int64_t W, int64_t O) {
        c.push_back({"conv_transpose2d/" + where, "conv_transpose2d",
                     P{{"N", N}, {"C", C}, {"H", H}, {"W", W}, {"O", O}, {"k", 2}, {"stride", 2}}});
    };
    convt("head.up2.2x2s2", 8, 64, 40, 40, 32);
    convt("head.up3.2x2s2", 8, 32, 80, 80, 16);

    auto attn = [&](const std::string& where, int64_t B, int64_t H, int64_t Lq, int64_t Lk, int64_t D, bool causal) {
        c.push_back({"attention/" + where, "attention",
                     P{{"B", B}, {"H", H}, {"Lq", Lq}, {"Lk", Lk}, {"D", D}, {"causal", causal ? 1 : 0}}});
    };
    attn("vit_b16", 1, 12, 197, 197, 64, false);
    attn("text.150x77.causal", 150, 10, 77, 77, 64, true);
    attn("escf.spatial", 8, 4, 1600, 400, 32, false);
    attn("escf.class", 400, 4, 32, 32, 32, false);

    auto ln = [&](const std::string& where, int64_t R, int64_t C) {
        c.push_back({"layer_norm/" + where, "layer_norm", P{{"R", R}, {"C", C}}});
    };
    auto ln_nhwc = [&](const std::string& where, int64_t C, int64_t H, int64_t W) {
        c.push_back({"layer_norm_nhwc/" + where, "layer_norm_nhwc", P{{"N", 1}, {"C", C}, {"H", H}, {"W", W}}});
    };
    auto ln2d = [&](const std::string& where, int64_t C, int64_t H, int64_t W) {
        c.push_back({"layer_norm2d/" + where, "layer_norm2d", P{{"N", 1}, {"C", C}, {"H", H}, {"W", W}}});
    };
    // ConvNeXt blocks normalise a permuted (NHWC) view of the dwconv output.
    ln_nhwc("convnext.s0", 128, 160, 160);
    ln_nhwc("convnext.s2", 512, 40, 40);
    ln("text", 150 * 77, 640);
    ln("escf", 8 * 1600, 128);
    ln2d("convnext.stem", 128, 160, 160);
    ln2d("convnext.ds3", 512, 40, 40);
    c.push_back({"group_norm/head.up1", "group_norm", P{{"N", 8}, {"C", 64}, {"H", 40}, {"W", 40}, {"G", 8}}});
    c.push_back({"group_norm/head.up3", "group_norm", P{{"N", 8}, {"C", 16}, {"H", 160}, {"W", 160}, {"G", 2}}});
    // Residual adds (same shape) and a per-channel broadcast ([1, C, 1, 1]).
    c.push_back({"add/convnext.s0.residual", "add", P{{"N", 1}, {"C", 128}, {"H", 160}, {"W", 160}, {"per_channel", 0}}});
    c.push_back({"add/head.per_channel", "add", P{{"N", 8}, {"C", 128}, {"H", 40}, {"W", 40}, {"per_channel", 1}}});
    c.push_back({"gelu/convnext.s0.fc1", "gelu", P{{"n", 25600 * 512}}});
    c.push_back({"gelu/convnext.s2.fc1", "gelu", P{{"n", 1600 * 2048}}});

    auto rs = [&](const std::string& where, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OH, int64_t OW,
                  bool ac) {
        c.push_back({"resize_bilinear/" + where, "resize_bilinear",
                     P{{"N", N}, {"C", C}, {"H", H}, {"W", W}, {"OH", OH}, {"OW", OW}, {"align_corners", ac}}});
    };
    rs("preprocess.300x400to640", 1, 3, 300, 400, 640, 640, false);
    rs("hsm.41to40", 1, 1024, 41, 41, 40, 40, false);
    rs("head.cost_embed32.20to40", 8, 256, 20, 20, 40, 40, false);
    rs("head.class_fusion.20to40.ac", 32, 128, 20, 20, 40, 40, true);
    rs("postprocess.150x160to300x400", 1, 150, 160, 160, 300, 400, false);
    return c;
}

// Work (flops) and traffic (bytes) of one call.
struct Cost {
    double flops = 0, bytes = 0;
};

// Conv output size.
int64_t conv_out(int64_t in, int64_t k, int64_t s, int64_t pad) { return (in + 2 * pad - k) / s + 1; }

// Builds the inputs once and returns the timed call plus its cost.
std::function<Tensor()> build(const Case& c, Cost& cost, bool make = true) {
    // make = false: only the cost (no allocation).
    auto rnd = [make](const Shape& s, uint32_t seed, float scale = 1.f) {
        return make ? random_tensor(s, seed, scale) : Tensor();
    };
    const std::string& op = c.op;
    if (op == "linear") {
        const int64_t M = c.get("M"), K = c.get("K"), N = c.get("N");
        Tensor x = rnd({M, K}, 1), w = rnd({N, K}, 2, 0.05f), b = rnd({N}, 3);
        cost.flops = 2.0 * M * N * K;
        cost.bytes = 4.0 * (M * K + N * K + M * N);
        if (!make) return {};
        return [=] { return ops::linear(x, w, b); };
    }
    if (op == "conv2d") {
        const int64_t N = c.get("N"), C = c.get("C"), H = c.get("H"), W = c.get("W"), O = c.get("O");
        const int64_t k = c.get("k"), s = c.get("stride"), pad = c.get("pad"), g = c.get("groups", 1);
        Tensor x = rnd({N, C, H, W}, 1), w = rnd({O, C / g, k, k}, 2, 0.05f),
               b = rnd({O}, 3);
        ops::Conv2dParams p;
        p.stride_h = p.stride_w = int(s);
        p.pad_h = p.pad_w = int(pad);
        p.groups = int(g);
        const int64_t Ho = conv_out(H, k, s, pad), Wo = conv_out(W, k, s, pad);
        cost.flops = 2.0 * N * O * Ho * Wo * (C / g) * k * k;
        cost.bytes = 4.0 * (N * C * H * W + O * (C / g) * k * k + N * O * Ho * Wo);
        if (!make) return {};
        return [=] { return ops::conv2d(x, w, b, p); };
    }
    if (op == "conv_transpose2d") {
        const int64_t N = c.get("N"), C = c.get("C"), H = c.get("H"), W = c.get("W"), O = c.get("O");
        const int64_t k = c.get("k"), s = c.get("stride");
        Tensor x = rnd({N, C, H, W}, 1), w = rnd({C, O, k, k}, 2, 0.05f), b = rnd({O}, 3);
        ops::ConvTranspose2dParams p;
        p.stride_h = p.stride_w = int(s);
        const int64_t Ho = (H - 1) * s + k, Wo = (W - 1) * s + k;
        cost.flops = 2.0 * N * C * H * W * O * k * k;
        cost.bytes = 4.0 * (N * C * H * W + C * O * k * k + N * O * Ho * Wo);
        if (!make) return {};
        return [=] { return ops::conv_transpose2d(x, w, b, p); };
    }
    if (op == "attention") {
        const int64_t B = c.get("B"), H = c.get("H"), Lq = c.get("Lq"), Lk = c.get("Lk"), D = c.get("D");
        const bool causal = c.get("causal") != 0;
        Tensor q = rnd({B, H, Lq, D}, 1), k = rnd({B, H, Lk, D}, 2),
               v = rnd({B, H, Lk, D}, 3);
        const double pairs = causal ? double(Lq) * double(Lq + 1) / 2 : double(Lq) * double(Lk);
        cost.flops = 4.0 * B * H * pairs * D;  // Q K^T and P V
        cost.bytes = 4.0 * B * H * (2 * Lq * D + 2 * Lk * D);
        if (!make) return {};
        return [=] { return ops::attention(q, k, v, causal); };
    }
    if (op == "layer_norm") {
        const int64_t R = c.get("R"), C = c.get("C");
        Tensor x = rnd({R, C}, 1), w = rnd({C}, 2), b = rnd({C}, 3);
        cost.flops = 8.0 * R * C;
        cost.bytes = 8.0 * R * C;
        if (!make) return {};
        return [=] { return ops::layer_norm(x, w, b, 1e-5f); };
    }
    if (op == "layer_norm_nhwc") {
        const int64_t N = c.get("N"), C = c.get("C"), H = c.get("H"), W = c.get("W");
        Tensor x = rnd({N, C, H, W}, 1), w = rnd({C}, 2), b = rnd({C}, 3);
        Tensor view = make ? x.permute({0, 2, 3, 1}) : Tensor();
        cost.flops = 8.0 * N * C * H * W;
        cost.bytes = 8.0 * N * C * H * W;
        if (!make) return {};
        return [=] { return ops::layer_norm(view, w, b, 1e-6f); };
    }
    if (op == "layer_norm2d") {
        const int64_t N = c.get("N"), C = c.get("C"), H = c.get("H"), W = c.get("W");
        Tensor x = rnd({N, C, H, W}, 1), w = rnd({C}, 2), b = rnd({C}, 3);
        cost.flops = 8.0 * N * C * H * W;
        cost.bytes = 8.0 * N * C * H * W;
        if (!make) return {};
        return [=] { return ops::layer_norm2d(x, w, b, 1e-6f); };
    }
    if (op == "group_norm") {
        const int64_t N = c.get("N"), C = c.get("C"), H = c.get("H"), W = c.get("W"), G = c.get("G");
        Tensor x = rnd({N, C, H, W}, 1), w = rnd({C}, 2), b = rnd({C}, 3);
        cost.flops = 8.0 * N * C * H * W;
        cost.bytes = 8.0 * N * C * H * W;
        if (!make) return {};
        return [=] { return ops::group_norm(x, int(G), w, b, 1e-5f); };
    }
    if (op == "gelu") {
        const int64_t n = c.get("n");
        Tensor x = rnd({n}, 1, 3.f);
        cost.bytes = 8.0 * n;
        if (!make) return {};
        return [=] { return ops::gelu(x); };
    }
    if (op == "resize_bilinear") {
        const int64_t N = c.get("N"), C = c.get("C"), H = c.get("H"), W = c.get("W"), OH = c.get("OH"),
                      OW = c.get("OW");
        const bool ac = c.get("align_corners") != 0;
        Tensor x = rnd({N, C, H, W}, 1);
        cost.bytes = 4.0 * N * C * (H * W + OH * OW);
        if (!make) return {};
        return [=] { return ops::resize_bilinear(x, OH, OW, ac); };
    }
    if (op == "add") {
        const int64_t N = c.get("N"), C = c.get("C"), H = c.get("H"), W = c.get("W");
        const bool per_channel = c.get("per_channel") != 0;
        Tensor a = rnd({N, C, H, W}, 1), b = per_channel ? rnd({1, C, 1, 1}, 2) : rnd({N, C, H, W}, 2);
        cost.bytes = 4.0 * N * C * H * W * (per_channel ? 2 : 3);
        if (!make) return {};
        return [=] { return ops::add(a, b); };
    }
    errseg::fail("bench_ops: unknown op kind '", op, "'");
    return {};
}

void dump_cases(const std::vector<Case>& cases, const std::string& path) {
    FILE* f = std::fopen(path.c_str(), "w");
    if (!f) {
        std::fprintf(stderr, "bench_ops: cannot write %s\n", path.c_str());
        std::exit(1);
    }
    std::fprintf(f, "[\n");
    for (size_t i = 0; i < cases.size(); ++i) {
        const Case& c = cases[i];
        Cost cost;
        build(c, cost, /*make=*/false);
        std::fprintf(f, "  {\"name\": \"%s\", \"op\": \"%s\", \"flops\": %.0f, \"bytes\": %.0f, \"params\": {",
                     c.name.c_str(), c.op.c_str(), cost.flops, cost.bytes);
        for (size_t j = 0; j < c.p.size(); ++j)
            std::fprintf(f, "%s\"%s\": %lld", j ? ", " : "", c.p[j].first.c_str(), (long long)c.p[j].second);
        std::fprintf(f, "}}%s\n", i + 1 < cases.size() ? "," : "");
    }
    std::fprintf(f, "]\n");
    std::fclose(f);
}

// Measured FMA throughput: every thread runs independent chains of fused multiply-adds on
// registers (12 accumulators hide the 4-5 cycle FMA latency), so this is the machine's fp32 peak
// at the clock it actually runs (turbo included), for the "% of peak" columns.
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
void BM_fma_peak(benchmark::State& state) {
    const int threads = errseg::get_num_threads();
    constexpr int64_t kIters = 1 << 22;
    constexpr int kAcc = 12;
    std::vector<float> sink(size_t(threads) * 8);
    for (auto _ : state) {
        errseg::parallel_for(threads, 1, [&](int64_t t0, int64_t t1) {
            for (int64_t t = t0; t < t1; ++t) {
                __m256 acc[kAcc];
                for (int i = 0; i < kAcc; ++i) acc[i] = _mm256_set1_ps(float(i) * 1e-3f);
                const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
                for (int64_t it = 0; it < kIters; ++it)
                    for (int i = 0; i < kAcc; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
                __m256 s = acc[0];
                for (int i = 1; i < kAcc; ++i) s = _mm256_add_ps(s, acc[i]);
                _mm256_storeu_ps(&sink[size_t(t) * 8], s);
            }
        });
        benchmark::DoNotOptimize(sink.data());
    }
    state.counters["FLOP/s"] = benchmark::Counter(double(threads) * kIters * kAcc * 8 * 2,
                                                  benchmark::Counter::kIsIterationInvariantRate);
    state.counters["threads"] = threads;
}
#endif

}  // namespace

int main(int argc, char** argv) {
    errseg_bench::setup_threads(argc, argv);
    errseg_bench::add_build_context();
    const std::vector<Case> cases = make_cases();
    const std::string dump = errseg_bench::take_flag(argc, argv, "dump_cases");
    if (!dump.empty()) {
        dump_cases(cases, dump);
        return 0;
    }
    for (const Case& c : cases) {
        benchmark::RegisterBenchmark(c.name.c_str(), [c](benchmark::State& state) {
            Cost cost;
            std::function<Tensor()> fn = build(c, cost);
            for (auto _ : state) {
                Tensor out = fn();
                benchmark::DoNotOptimize(out.raw());
                benchmark::ClobberMemory();
            }
            if (cost.flops > 0)
                state.counters["FLOP/s"] = benchmark::Counter(cost.flops, benchmark::Counter::kIsIterationInvariantRate);
            state.counters["B/s"] = benchmark::Counter(cost.bytes, benchmark::Counter::kIsIterationInvariantRate,
                                                       benchmark::Counter::kIs1024);
        })
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
    }
#if defined(__AVX2__) && defined(__FMA__)
    benchmark::RegisterBenchmark("peak/fma_avx2", BM_fma_peak)->UseRealTime()->Unit(benchmark::kMillisecond);
#endif
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
