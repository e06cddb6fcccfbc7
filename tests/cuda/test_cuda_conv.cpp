// conv2d (depthwise tiled 7x7 and generic, pointwise GEMM, implicit GEMM with stride, padding,
// dilation, groups) and conv_transpose2d against a direct double-precision loop.
#include "cuda_test_util.hpp"

using namespace cuda_test;
namespace ec = errseg::cuda;

namespace {

Tensor conv_ref(const Tensor& x, const Tensor& w, const Tensor& b, const ec::ops::Conv2dParams& p) {
    const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    const int64_t O = w.size(0), kh = w.size(2), kw = w.size(3), G = p.groups, Cg = C / G, Og = O / G;
    const int64_t Ho = (H + 2 * p.pad_h - p.dilation_h * (kh - 1) - 1) / p.stride_h + 1;
    const int64_t Wo = (W + 2 * p.pad_w - p.dilation_w * (kw - 1) - 1) / p.stride_w + 1;
    Tensor out = Tensor::empty({N, O, Ho, Wo});
    for (int64_t n = 0; n < N; ++n)
        for (int64_t o = 0; o < O; ++o)
            for (int64_t oy = 0; oy < Ho; ++oy)
                for (int64_t ox = 0; ox < Wo; ++ox) {
                    double s = b.defined() ? b.data<float>()[o] : 0.0;
                    const int64_t g = o / Og;
                    for (int64_t c = 0; c < Cg; ++c)
                        for (int64_t i = 0; i < kh; ++i)
                            for (int64_t j = 0; j < kw; ++j) {
                                const int64_t iy = oy * p.stride_h - p.pad_h + i * p.dilation_h;
                                const int64_t ix = ox * p.stride_w - p.pad_w + j * p.dilation_w;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                s += double(x.data<float>()[((n * C + g * Cg + c) * H + iy) * W + ix]) *
                                     w.data<float>()[((o * Cg + c) * kh + i) * kw + j];
                            }
                    out.data<float>()[((n * O + o) * Ho + oy) * Wo + ox] = float(s);
                }
    return out;
}

Tensor conv_transpose_ref(const Tensor& x, const Tensor& w, const Tensor& b, const ec::ops::ConvTranspose2dParams& p) {
    const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    const int64_t G = p.groups, Og = w.size(1), O = Og * G, kh = w.size(2), kw = w.size(3), Cg = C / G;
    const int64_t Ho = (H - 1) * p.stride_h - 2 * p.pad_h + kh + p.output_pad_h;
    const int64_t Wo = (W - 1) * p.stride_w - 2 * p.pad_w + kw + p.output_pad_w;
    std::vector<double> acc(size_t(N * O * Ho * Wo), 0.0);
    // Scatter form (the definition), independent of the kernel's gather form.
    for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < C; ++c)
            for (int64_t iy = 0; iy < H; ++iy)
                for (int64_t ix = 0; ix < W; ++ix)
                    for (int64_t og = 0; og < Og; ++og)
                        for (int64_t i = 0; i < kh; ++i)
                            for (int64_t j = 0; j < kw; ++j) {
                                const int64_t oy = iy * p.stride_h - p.pad_h + i, ox = ix * p.stride_w - p.pad_w + j;
                                if (oy < 0 || oy >= Ho || ox < 0 || ox >= Wo) continue;
                                const int64_t o = (c / Cg) * Og + og;
                                acc[size_t(((n * O + o) * Ho + oy) * Wo + ox)] +=
                                    double(x.data<float>()[((n * C + c) * H + iy) * W + ix]) *
                                    w.data<float>()[((c * Og + og) * kh + i) * kw + j];
                            }
    Tensor out = Tensor::empty({N, O, Ho, Wo});
    for (int64_t n = 0; n < N; ++n)
        for (int64_t o = 0; o < O; ++o)
            for (int64_t q = 0; q < Ho * Wo; ++q) {
                const size_t i = size_t((n * O + o) * Ho * Wo + q);
                out.data<float>()[i] = float(acc[i] + (b.defined() ? b.data<float>()[o] : 0.0));
            }
    return out;
}

struct ConvCase {
    const char* name;
    Shape x, w;
    ec::ops::Conv2dParams p;
    bool bias;
};

}  // namespace

TEST_CASE("conv2d: depthwise, pointwise and implicit-GEMM paths") {
    auto P = [](int s, int pad, int dil, int groups) {
        ec::ops::Conv2dParams p;
        p.stride_h = p.stride_w = s;
        p.pad_h = p.pad_w = pad;
        p.dilation_h = p.dilation_w = dil;
        p.groups = groups;
        return p;
    };
    ec::ops::Conv2dParams asym = P(1, 0, 1, 1);
    asym.stride_h = 2, asym.pad_w = 2, asym.dilation_w = 2;
    const std::vector<ConvCase> cases{
        {"depthwise 7x7 pad 3 (tiled)", {2, 5, 37, 45}, {5, 1, 7, 7}, P(1, 3, 1, 5), true},
        {"depthwise 7x7 no pad (tiled)", {1, 3, 33, 9}, {3, 1, 7, 7}, P(1, 0, 1, 3), false},
        {"depthwise 3x3 s2 dil2 x2 multiplier", {2, 4, 17, 13}, {8, 1, 3, 3}, P(2, 1, 2, 4), true},
        {"3x3 pad 1", {2, 7, 19, 19}, {13, 7, 3, 3}, P(1, 1, 1, 1), true},
        {"4x4 stride 4 stem", {1, 3, 40, 44}, {130, 3, 4, 4}, P(4, 0, 1, 1), true},
        {"2x2 stride 1 (HSM)", {1, 9, 11, 11}, {18, 9, 2, 2}, P(1, 0, 1, 1), true},
        {"grouped 3x3 dil 2", {2, 6, 15, 14}, {4, 3, 3, 3}, P(1, 2, 2, 2), false},
        {"asymmetric stride/pad/dilation", {1, 5, 21, 18}, {7, 5, 3, 2}, asym, true},
        {"pointwise 1x1 (GEMM)", {2, 33, 9, 11}, {17, 33, 1, 1}, P(1, 0, 1, 1), true},
        {"pointwise 1x1, vector-friendly", {1, 64, 8, 16}, {40, 64, 1, 1}, P(1, 0, 1, 1), true},
    };
    uint32_t seed = 1;
    for (const ConvCase& c : cases)
        for (DType dt : float_types()) {
            const double fan_in = double(c.w[1] * c.w[2] * c.w[3]);
            const float r = float(1.7 / std::sqrt(fan_in));
            const Tensor x = quantize(rand_tensor(c.x, seed++), dt);
            const Tensor w = quantize(rand_tensor(c.w, seed++, -r, r), dt);
            const Tensor b = c.bias ? quantize(rand_tensor({c.w[0]}, seed++), dt) : Tensor();
            const Tensor want = conv_ref(x, w, b, c.p);
            const Tensor got = down(ec::ops::conv2d(up(x, dt), up(w, dt), c.bias ? up(b, dt) : DeviceTensor(), c.p));
            check_close(got, want, tol_for(dt, 2.0), std::string(c.name) + " " + dtype_label(dt));
        }
}

TEST_CASE("conv2d fused activation") {
    ec::ops::Conv2dParams p;
    p.pad_h = p.pad_w = 1;
    const Tensor x = rand_tensor({1, 4, 10, 12}, 50), w = rand_tensor({6, 4, 3, 3}, 51, -0.3f, 0.3f),
                 b = rand_tensor({6}, 52);
    Tensor want = conv_ref(x, w, b, p);
    for (int64_t i = 0; i < want.numel(); ++i) want.data<float>()[i] = std::min(std::max(want.data<float>()[i], 0.f), 6.f);
    check_close(down(ec::ops::conv2d(up(x, DType::F32), up(w, DType::F32), up(b, DType::F32), p, ec::Activation::Relu6)),
                want, tol_for(DType::F32, 2.0), "conv2d + relu6");
    CHECK_THROWS_AS(ec::ops::conv2d(up(x, DType::F32), up(rand_tensor({6, 3, 3, 3}, 1), DType::F32), DeviceTensor(), p),
                    errseg::Error);
}

TEST_CASE("conv_transpose2d: 2x2 stride 2 and a general case") {
    for (DType dt : float_types()) {
        ec::ops::ConvTranspose2dParams p;
        p.stride_h = p.stride_w = 2;
        const Tensor x = quantize(rand_tensor({2, 6, 7, 9}, 60), dt);
        const Tensor w = quantize(rand_tensor({6, 5, 2, 2}, 61, -0.4f, 0.4f), dt);
        const Tensor b = quantize(rand_tensor({5}, 62), dt);
        check_close(down(ec::ops::conv_transpose2d(up(x, dt), up(w, dt), up(b, dt), p)), conv_transpose_ref(x, w, b, p),
                    tol_for(dt, 2.0), "conv_transpose2d k2 s2 " + dtype_label(dt));

        ec::ops::ConvTranspose2dParams q;
        q.stride_h = q.stride_w = 2;
        q.pad_h = q.pad_w = 1;
        q.output_pad_h = 1;
        q.groups = 2;
        const Tensor x2 = quantize(rand_tensor({1, 4, 5, 6}, 63), dt);
        const Tensor w2 = quantize(rand_tensor({4, 3, 3, 3}, 64, -0.4f, 0.4f), dt);
        check_close(down(ec::ops::conv_transpose2d(up(x2, dt), up(w2, dt), DeviceTensor(), q)),
                    conv_transpose_ref(x2, w2, Tensor(), q), tol_for(dt, 2.0),
                    "conv_transpose2d k3 s2 p1 op1 g2 " + dtype_label(dt));
    }
}
