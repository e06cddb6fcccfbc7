// Activations, scale/clamp, broadcasting binary ops, softmax, and the layout ops (cast,
// permute, concat, pad2d).
#include "cuda_test_util.hpp"

using namespace cuda_test;
namespace ec = errseg::cuda;

namespace {
template <class F>
Tensor map_ref(const Tensor& x, F f) {
    Tensor y = Tensor::empty(x.shape());
    for (int64_t i = 0; i < x.numel(); ++i) y.data<float>()[i] = float(f(double(x.data<float>()[i])));
    return y;
}
}  // namespace

TEST_CASE("unary activations, scale, clamp") {
    for (DType dt : float_types()) {
        const Tensor x = quantize(rand_tensor({3, 7, 11}, 1, -8.f, 8.f), dt);
        const DeviceTensor d = up(x, dt);
        const Tol tol = tol_for(dt, 1.0);
        const std::string s = " " + dtype_label(dt);
        check_close(down(ec::ops::gelu(d)), map_ref(x, [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }),
                    tol, "gelu" + s);
        check_close(down(ec::ops::quick_gelu(d)), map_ref(x, [](double v) { return v / (1 + std::exp(-1.702 * v)); }), tol,
                    "quick_gelu" + s);
        check_close(down(ec::ops::relu(d)), map_ref(x, [](double v) { return v > 0 ? v : 0; }), tol, "relu" + s);
        check_close(down(ec::ops::relu6(d)), map_ref(x, [](double v) { return std::min(std::max(v, 0.0), 6.0); }), tol,
                    "relu6" + s);
        check_close(down(ec::ops::sigmoid(d)), map_ref(x, [](double v) { return 1 / (1 + std::exp(-v)); }), tol,
                    "sigmoid" + s);
        check_close(down(ec::ops::scale(d, 0.25f)), map_ref(x, [](double v) { return v * 0.25; }), tol, "scale" + s);
        check_close(down(ec::ops::clamp(d, -1.5f, 2.f)), map_ref(x, [](double v) { return std::min(std::max(v, -1.5), 2.0); }),
                    tol, "clamp" + s);
    }
}

TEST_CASE("binary ops with numpy broadcasting") {
    struct Case {
        Shape a, b;
    };
    const std::vector<Case> cases{{{2, 3, 4}, {2, 3, 4}}, {{2, 3, 4}, {3, 1}}, {{4}, {2, 3, 4}}, {{2, 1, 5}, {1, 7, 1}},
                                  {{1}, {3, 3}}};
    uint32_t seed = 10;
    for (const Case& c : cases)
        for (DType dt : float_types()) {
            const Tensor a = quantize(rand_tensor(c.a, seed++), dt);
            const Tensor b = quantize(rand_tensor(c.b, seed++, 0.5f, 2.f), dt);  // no division by ~0
            const int64_t nd = int64_t(std::max(c.a.size(), c.b.size()));
            Shape out(size_t(nd), 1);
            for (int64_t i = 0; i < nd; ++i) {
                const int64_t da = i < nd - int64_t(c.a.size()) ? 1 : c.a[size_t(i - (nd - int64_t(c.a.size())))];
                const int64_t db = i < nd - int64_t(c.b.size()) ? 1 : c.b[size_t(i - (nd - int64_t(c.b.size())))];
                out[size_t(i)] = std::max(da, db);
            }
            // Reference through explicit index arithmetic.
            auto at = [&](const Tensor& t, const Shape& s, int64_t flat) {
                int64_t off = 0, acc = 1, rem = flat;
                std::vector<int64_t> idx(static_cast<size_t>(nd));
                for (int64_t i = nd - 1; i >= 0; --i) {
                    idx[size_t(i)] = rem % out[size_t(i)];
                    rem /= out[size_t(i)];
                }
                for (int64_t i = int64_t(s.size()) - 1; i >= 0; --i) {
                    const int64_t oi = idx[size_t(i + nd - int64_t(s.size()))];
                    off += (s[size_t(i)] == 1 ? 0 : oi) * acc;
                    acc *= s[size_t(i)];
                }
                return double(t.data<float>()[off]);
            };
            Tensor ra = Tensor::empty(out), rs = Tensor::empty(out), rm = Tensor::empty(out), rd = Tensor::empty(out);
            for (int64_t i = 0; i < ra.numel(); ++i) {
                const double va = at(a, c.a, i), vb = at(b, c.b, i);
                ra.data<float>()[i] = float(va + vb);
                rs.data<float>()[i] = float(va - vb);
                rm.data<float>()[i] = float(va * vb);
                rd.data<float>()[i] = float(va / vb);
            }
            const DeviceTensor da = up(a, dt), db = up(b, dt);
            const std::string s = errseg::shape_str(c.a) + " op " + errseg::shape_str(c.b) + " " + dtype_label(dt);
            check_close(down(ec::ops::add(da, db)), ra, tol_for(dt, 2.0), "add " + s);
            check_close(down(ec::ops::sub(da, db)), rs, tol_for(dt, 2.0), "sub " + s);
            check_close(down(ec::ops::mul(da, db)), rm, tol_for(dt, 2.0), "mul " + s);
            check_close(down(ec::ops::div(da, db)), rd, tol_for(dt, 2.0), "div " + s);
        }
    CHECK_THROWS_AS(ec::ops::add(up(rand_tensor({2, 3}, 1), DType::F32), up(rand_tensor({4}, 2), DType::F32)),
                    errseg::Error);
}

TEST_CASE("softmax over the last and a middle dimension") {
    for (DType dt : float_types())
        for (int64_t dim : {-1, 1}) {
            const Shape s{3, 33, 7};
            const Tensor x = quantize(rand_tensor(s, uint32_t(20 + dim), -6.f, 6.f), dt);
            const int64_t d = dim < 0 ? 2 : dim;
            int64_t outer = 1, inner = 1;
            for (int64_t i = 0; i < d; ++i) outer *= s[size_t(i)];
            for (int64_t i = d + 1; i < 3; ++i) inner *= s[size_t(i)];
            const int64_t D = s[size_t(d)];
            Tensor want = Tensor::empty(s);
            for (int64_t o = 0; o < outer; ++o)
                for (int64_t in = 0; in < inner; ++in) {
                    double mx = -INFINITY, sum = 0;
                    for (int64_t k = 0; k < D; ++k) mx = std::max(mx, double(x.data<float>()[(o * D + k) * inner + in]));
                    for (int64_t k = 0; k < D; ++k) sum += std::exp(x.data<float>()[(o * D + k) * inner + in] - mx);
                    for (int64_t k = 0; k < D; ++k)
                        want.data<float>()[(o * D + k) * inner + in] =
                            float(std::exp(x.data<float>()[(o * D + k) * inner + in] - mx) / sum);
                }
            check_close(down(ec::ops::softmax(up(x, dt), dim)), want, tol_for(dt, 0.1),
                        "softmax dim " + std::to_string(dim) + " " + dtype_label(dt));
        }
    // A long row (several warp strides) with large values: stable.
    Tensor big = rand_tensor({2, 1000}, 30, 80.f, 90.f);
    const Tensor y = down(ec::ops::softmax(up(big, DType::F32)));
    double total = 0;
    for (int64_t i = 0; i < 1000; ++i) total += y.data<float>()[i];
    CHECK(total == doctest::Approx(1.0).epsilon(1e-5));
}

TEST_CASE("cast, permute, concat, pad2d") {
    const Tensor x = rand_tensor({2, 3, 4, 5}, 40, -3.f, 3.f);
    // cast chains through every pair
    for (DType a : float_types())
        for (DType b : float_types()) {
            const Tensor got = down(ec::ops::cast(ec::ops::cast(up(x, DType::F32), a), b));
            check_close(got, quantize(quantize(x, a), b), {0, 0},
                        "cast F32 -> " + dtype_label(a) + " -> " + dtype_label(b));
        }
    // permute
    const std::vector<int64_t> order{3, 1, 0, 2};
    check_close(down(ec::ops::permute(up(x, DType::F32), order)), x.permute(order).contiguous(), {0, 0}, "permute");
    const Tensor ints = Tensor::from_vector<int64_t>({2, 3}, {1, 2, 3, 4, 5, 6});
    const Tensor pi = errseg::cuda::to_host(ec::ops::permute(errseg::cuda::to_device(ints), {1, 0}));
    CHECK(pi.data<int64_t>()[1] == 4);
    // concat along dim 1 and dim 0
    const Tensor y = rand_tensor({2, 1, 4, 5}, 41), z = rand_tensor({2, 4, 4, 5}, 42);
    const Tensor cat = down(ec::ops::concat({up(x, DType::F32), up(y, DType::F32), up(z, DType::F32)}, 1));
    REQUIRE(cat.shape() == Shape({2, 8, 4, 5}));
    check_close(cat.slice(1, 0, 3).contiguous(), x, {0, 0}, "concat part 0");
    check_close(cat.slice(1, 3, 4).contiguous(), y, {0, 0}, "concat part 1");
    check_close(cat.slice(1, 4, 8).contiguous(), z, {0, 0}, "concat part 2");
    const Tensor cat0 = down(ec::ops::concat({up(x, DType::F16), up(x, DType::F16)}, 0));
    check_close(cat0.slice(0, 2, 4).contiguous(), quantize(x, DType::F16), {0, 0}, "concat dim 0");
    // pad2d: pad left/top, crop right/bottom
    const Tensor pd = down(ec::ops::pad2d(up(x, DType::F32), 2, -1, 1, 0, -7.f));
    REQUIRE(pd.shape() == Shape({2, 3, 5, 6}));
    for (int64_t pl = 0; pl < 6; ++pl)
        for (int64_t r = 0; r < 5; ++r)
            for (int64_t c = 0; c < 6; ++c) {
                const int64_t iy = r - 1, ix = c - 2;
                const float want = (iy >= 0 && iy < 4 && ix >= 0 && ix < 5) ? x.data<float>()[(pl * 4 + iy) * 5 + ix] : -7.f;
                CHECK(pd.data<float>()[(pl * 5 + r) * 6 + c] == want);
            }
}
