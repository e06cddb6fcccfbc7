// LayerNorm (last dim), LayerNorm2d (channels), GroupNorm (+ fused ReLU), L2 normalise.
#include "cuda_test_util.hpp"

using namespace cuda_test;
namespace ec = errseg::cuda;

namespace {
// Normalises `count` values at base + i*stride, with per-index affine w[aff(i)], b[aff(i)].
template <class Aff>
void norm_ref(const float* x, float* y, int64_t count, int64_t stride, double eps, const float* w, const float* b,
              Aff aff) {
    double s = 0;
    for (int64_t i = 0; i < count; ++i) s += x[i * stride];
    const double mean = s / double(count);
    double q = 0;
    for (int64_t i = 0; i < count; ++i) q += (x[i * stride] - mean) * (x[i * stride] - mean);
    const double rstd = 1.0 / std::sqrt(q / double(count) + eps);
    for (int64_t i = 0; i < count; ++i) {
        double v = (x[i * stride] - mean) * rstd;
        if (w) v *= w[aff(i)];
        if (b) v += b[aff(i)];
        y[i * stride] = float(v);
    }
}
}  // namespace

TEST_CASE("layer_norm over the last dim") {
    for (DType dt : float_types())
        for (int64_t D : {1, 7, 33, 640, 1537}) {
            const Tensor x = quantize(rand_tensor({3, 5, D}, uint32_t(D), -3.f, 5.f), dt);  // non-zero mean
            const Tensor w = quantize(rand_tensor({D}, 2), dt), b = quantize(rand_tensor({D}, 3), dt);
            Tensor want = Tensor::empty(x.shape());
            for (int64_t r = 0; r < 15; ++r)
                norm_ref(x.data<float>() + r * D, want.data<float>() + r * D, D, 1, 1e-5, w.data<float>(),
                         b.data<float>(), [](int64_t i) { return i; });
            check_close(down(ec::ops::layer_norm(up(x, dt), up(w, dt), up(b, dt), 1e-5f)), want, tol_for(dt, 4.0),
                        "layer_norm D=" + std::to_string(D) + " " + dtype_label(dt));
        }
    // Undefined weight and bias mean 1 and 0.
    const Tensor x = rand_tensor({4, 9}, 5);
    Tensor want = Tensor::empty(x.shape());
    for (int64_t r = 0; r < 4; ++r)
        norm_ref(x.data<float>() + r * 9, want.data<float>() + r * 9, 9, 1, 1e-6, nullptr, nullptr,
                 [](int64_t i) { return i; });
    check_close(down(ec::ops::layer_norm(up(x, DType::F32), DeviceTensor(), DeviceTensor(), 1e-6f)), want,
                tol_for(DType::F32, 4.0), "layer_norm without affine");
}

TEST_CASE("layer_norm2d over channels") {
    for (DType dt : float_types()) {
        const int64_t N = 2, C = 37, H = 5, W = 11;
        const Tensor x = quantize(rand_tensor({N, C, H, W}, 6, -2.f, 3.f), dt);
        const Tensor w = quantize(rand_tensor({C}, 7), dt), b = quantize(rand_tensor({C}, 8), dt);
        Tensor want = Tensor::empty(x.shape());
        for (int64_t n = 0; n < N; ++n)
            for (int64_t p = 0; p < H * W; ++p)
                norm_ref(x.data<float>() + n * C * H * W + p, want.data<float>() + n * C * H * W + p, C, H * W, 1e-6,
                         w.data<float>(), b.data<float>(), [](int64_t i) { return i; });
        check_close(down(ec::ops::layer_norm2d(up(x, dt), up(w, dt), up(b, dt), 1e-6f)), want, tol_for(dt, 4.0),
                    "layer_norm2d " + dtype_label(dt));
    }
}

TEST_CASE("group_norm with and without fused ReLU") {
    for (DType dt : float_types())
        for (bool relu : {false, true}) {
            const int64_t N = 3, C = 12, H = 7, W = 9;
            const int G = 4;
            const Tensor x = quantize(rand_tensor({N, C, H, W}, 9, -1.f, 2.f), dt);
            const Tensor w = quantize(rand_tensor({C}, 10), dt), b = quantize(rand_tensor({C}, 11), dt);
            Tensor want = Tensor::empty(x.shape());
            const int64_t cg = C / G, HW = H * W;
            for (int64_t n = 0; n < N; ++n)
                for (int64_t g = 0; g < G; ++g) {
                    const int64_t off = (n * C + g * cg) * HW;
                    norm_ref(x.data<float>() + off, want.data<float>() + off, cg * HW, 1, 1e-5, w.data<float>(),
                             b.data<float>(), [&](int64_t i) { return g * cg + i / HW; });
                }
            if (relu)
                for (int64_t i = 0; i < want.numel(); ++i) want.data<float>()[i] = std::max(want.data<float>()[i], 0.f);
            const auto act = relu ? ec::Activation::Relu : ec::Activation::None;
            check_close(down(ec::ops::group_norm(up(x, dt), G, up(w, dt), up(b, dt), 1e-5f, act)), want,
                        tol_for(dt, 4.0), std::string("group_norm ") + (relu ? "relu " : "") + dtype_label(dt));
        }
    CHECK_THROWS_AS(ec::ops::group_norm(up(rand_tensor({1, 6, 2, 2}, 1), DType::F32), 4, DeviceTensor(),
                                        DeviceTensor(), 1e-5f),
                    errseg::Error);
}

TEST_CASE("l2_normalize") {
    for (DType dt : float_types()) {
        Tensor x = quantize(rand_tensor({6, 65}, 12), dt);
        for (int64_t i = 0; i < 65; ++i) x.data<float>()[2 * 65 + i] = 0.f;  // zero row -> zeros (eps)
        Tensor want = Tensor::empty(x.shape());
        for (int64_t r = 0; r < 6; ++r) {
            double s = 0;
            for (int64_t i = 0; i < 65; ++i) s += double(x.data<float>()[r * 65 + i]) * x.data<float>()[r * 65 + i];
            const double d = std::max(std::sqrt(s), 1e-12);
            for (int64_t i = 0; i < 65; ++i) want.data<float>()[r * 65 + i] = float(x.data<float>()[r * 65 + i] / d);
        }
        check_close(down(ec::ops::l2_normalize(up(x, dt))), want, tol_for(dt), "l2_normalize " + dtype_label(dt));
    }
}
