// Convolutions at ERR-Seg-B shapes: the depthwise 7x7 of ConvNeXt-B (every stage) and of the
// spatial-fusion MLP (K = 32 classes), the decoder's 3x3 implicit GEMMs, the stem, and the
// 2x2 / stride-2 transposed convolutions. Depthwise is memory-bound: reports GB/s (input +
// output bytes); the others report TFLOP/s.
#include "bench_util.hpp"

using namespace cuda_bench;
namespace ec = errseg::cuda;

namespace {

struct ConvShape {
    const char* name;
    Shape x;
    int64_t O, k, stride, pad, groups;
    bool transposed;
};
const ConvShape kShapes[] = {
    {"dw7_convnext_s0", {1, 128, 160, 160}, 128, 7, 1, 3, 128, false},
    {"dw7_convnext_s1", {1, 256, 80, 80}, 256, 7, 1, 3, 256, false},
    {"dw7_convnext_s2", {1, 512, 40, 40}, 512, 7, 1, 3, 512, false},
    {"dw7_convnext_s3_hsm", {1, 1024, 40, 40}, 1024, 7, 1, 3, 1024, false},
    {"dw7_spatial_mlp_K32", {32, 128, 40, 40}, 128, 7, 1, 3, 128, false},
    {"stem_4x4s4", {1, 3, 640, 640}, 128, 4, 4, 0, 1, false},
    {"decoder1_3x3_96to64_K32", {32, 96, 40, 40}, 64, 3, 1, 1, 1, false},
    {"decoder3_3x3_24to16_K32", {32, 24, 160, 160}, 16, 3, 1, 1, 1, false},
    {"guidance_3x3_1024to256", {1, 1024, 20, 20}, 256, 3, 1, 1, 1, false},
    {"upconv_2x2s2_64to32_K32", {32, 64, 40, 40}, 32, 2, 2, 0, 1, true},
};

void BM_conv(benchmark::State& state, ConvShape s, DType dt) {
    const int64_t C = s.x[1];
    DeviceTensor x = random_device(s.x, dt);
    DeviceTensor w = s.transposed ? random_device({C, s.O, s.k, s.k}, dt, -0.1f, 0.1f)
                                  : random_device({s.O, C / s.groups, s.k, s.k}, dt, -0.1f, 0.1f);
    DeviceTensor b = random_device({s.O}, dt);
    DeviceTensor y;
    auto run = [&] {
        if (s.transposed) {
            ec::ops::ConvTranspose2dParams p;
            p.stride_h = p.stride_w = int(s.stride);
            y = ec::ops::conv_transpose2d(x, w, b, p);
        } else {
            ec::ops::Conv2dParams p;
            p.stride_h = p.stride_w = int(s.stride);
            p.pad_h = p.pad_w = int(s.pad);
            p.groups = int(s.groups);
            y = ec::ops::conv2d(x, w, b, p);
        }
    };
    run();
    time_loop(state, x.stream(), run);
    const double out_elems = double(y.numel());
    if (s.groups == C && !s.transposed) {
        const double bytes = double(x.nbytes() + y.nbytes());
        state.counters["GBps"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    } else {
        const double macs = out_elems * double((s.transposed ? C : C / s.groups)) *
                            (s.transposed ? 1.0 : double(s.k * s.k));  // k2s2 transposed: one tap per output
        state.counters["TFLOPS"] = benchmark::Counter(2.0 * macs * 1e-12, benchmark::Counter::kIsIterationInvariantRate);
    }
}

int register_all() {
    for (const ConvShape& s : kShapes)
        for (DType dt : {DType::F32, DType::F16}) {
            const std::string tag = std::string(s.name) + "/" + dtype_label(dt);
            benchmark::RegisterBenchmark(("conv/" + tag).c_str(), BM_conv, s, dt)->UseManualTime()->Unit(
                benchmark::kMicrosecond);
        }
    return 0;
}
const int registered = register_all();

}  // namespace
