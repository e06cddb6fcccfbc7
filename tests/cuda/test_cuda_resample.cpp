// Bilinear resize (both align_corners modes, PyTorch index math) and average pooling.
#include "cuda_test_util.hpp"

using namespace cuda_test;
namespace ec = errseg::cuda;

namespace {

// F.interpolate(mode='bilinear') written from the PyTorch definition (fp32 index math as in
// PyTorch's CPU kernel; the interpolation itself in double).
Tensor resize_ref(const Tensor& x, int64_t Ho, int64_t Wo, bool ac) {
    const int64_t NC = x.size(0) * x.size(1), H = x.size(2), W = x.size(3);
    Tensor out = Tensor::empty({x.size(0), x.size(1), Ho, Wo});
    auto scale = [&](int64_t in, int64_t o) -> float {
        if (ac) return o > 1 ? float(in - 1) / float(o - 1) : 0.f;
        return float(in) / float(o);
    };
    auto src = [&](int64_t o, int64_t in, float s, int64_t& i0, int64_t& i1, double& l1) {
        const float f = ac ? s * float(o) : std::max(s * (float(o) + 0.5f) - 0.5f, 0.f);
        i0 = std::min<int64_t>(int64_t(f), in - 1);
        i1 = i0 + (i0 < in - 1 ? 1 : 0);
        l1 = double(f) - double(i0);
    };
    const float sh = scale(H, Ho), sw = scale(W, Wo);
    for (int64_t p = 0; p < NC; ++p)
        for (int64_t oy = 0; oy < Ho; ++oy)
            for (int64_t ox = 0; ox < Wo; ++ox) {
                int64_t y0, y1, x0, x1;
                double ly, lx;
                src(oy, H, sh, y0, y1, ly);
                src(ox, W, sw, x0, x1, lx);
                const float* q = x.data<float>() + p * H * W;
                const double top = (1 - lx) * q[y0 * W + x0] + lx * q[y0 * W + x1];
                const double bot = (1 - lx) * q[y1 * W + x0] + lx * q[y1 * W + x1];
                out.data<float>()[(p * Ho + oy) * Wo + ox] = float((1 - ly) * top + ly * bot);
            }
    return out;
}

}  // namespace

TEST_CASE("resize_bilinear: ERR-Seg call sites and odd sizes, both align_corners modes") {
    struct Case {
        Shape x;
        int64_t Ho, Wo;
    };
    const std::vector<Case> cases{{{1, 3, 41, 41}, 40, 40},  {{1, 2, 20, 20}, 40, 40},  {{1, 2, 160, 160}, 123, 97},
                                  {{2, 3, 7, 5}, 1, 1},      {{1, 1, 1, 1}, 4, 3},      {{1, 3, 13, 29}, 64, 17}};
    uint32_t seed = 1;
    for (const Case& c : cases)
        for (bool ac : {false, true})
            for (DType dt : float_types()) {
                const Tensor x = quantize(rand_tensor(c.x, seed++), dt);
                check_close(down(ec::ops::resize_bilinear(up(x, dt), c.Ho, c.Wo, ac)), resize_ref(x, c.Ho, c.Wo, ac),
                            tol_for(dt, 1.0),
                            "resize " + errseg::shape_str(c.x) + " -> " + std::to_string(c.Ho) + "x" + std::to_string(c.Wo) +
                                (ac ? " ac=T " : " ac=F ") + dtype_label(dt));
            }
}

TEST_CASE("avg_pool2d floors odd sizes") {
    for (DType dt : float_types())
        for (auto [k, s] : {std::pair<int, int>{2, 2}, {3, 2}, {1, 1}}) {
            const Tensor x = quantize(rand_tensor({2, 3, 9, 8}, uint32_t(k * 10 + s)), dt);
            const int64_t Ho = (9 - k) / s + 1, Wo = (8 - k) / s + 1;
            Tensor want = Tensor::empty({2, 3, Ho, Wo});
            for (int64_t p = 0; p < 6; ++p)
                for (int64_t oy = 0; oy < Ho; ++oy)
                    for (int64_t ox = 0; ox < Wo; ++ox) {
                        double sum = 0;
                        for (int i = 0; i < k; ++i)
                            for (int j = 0; j < k; ++j) sum += x.data<float>()[(p * 9 + oy * s + i) * 8 + ox * s + j];
                        want.data<float>()[(p * Ho + oy) * Wo + ox] = float(sum / (k * k));
                    }
            check_close(down(ec::ops::avg_pool2d(up(x, dt), k, s)), want, tol_for(dt, 1.0),
                        "avg_pool2d k" + std::to_string(k) + " s" + std::to_string(s) + " " + dtype_label(dt));
        }
}
