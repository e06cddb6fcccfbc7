// argmax (ties, NaN), index_select with device indices, ERR-Seg's CRM class selection and the
// -100-filled class scatter.
#include <algorithm>
#include <numeric>

#include "cuda_test_util.hpp"

using namespace cuda_test;
namespace ec = errseg::cuda;

namespace {

std::vector<int64_t> to_vec64(const DeviceTensor& d) {
    const Tensor h = ec::to_host(d);
    REQUIRE(h.dtype() == DType::I64);
    return std::vector<int64_t>(h.data<int64_t>(), h.data<int64_t>() + h.numel());
}

// CRM as spec §2.7.1 describes it, with the deterministic tie rules (lower index first).
struct CrmRef {
    std::vector<int64_t> indices;
    std::vector<int32_t> counts;  // [r, T]
    std::vector<float> weights;
};
CrmRef crm_ref(const Tensor& cost, int64_t P, int64_t T, int64_t HW, int64_t K) {
    const int64_t r = std::min<int64_t>(3, T);
    CrmRef ref;
    ref.counts.assign(size_t(r * T), 0);
    for (int64_t p = 0; p < HW; ++p) {
        std::vector<std::pair<float, int64_t>> v;
        for (int64_t t = 0; t < T; ++t) {
            float s = 0;
            for (int64_t q = 0; q < P; ++q) s += cost.data<float>()[(q * T + t) * HW + p];
            if (P > 1) s /= float(P);
            v.push_back({s, t});
        }
        std::stable_sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.first > b.first; });
        for (int64_t i = 0; i < r; ++i) ref.counts[size_t(i * T + v[size_t(i)].second)]++;
    }
    const float factor[3] = {1.f, 0.1f, 0.01f};
    ref.weights.assign(size_t(T), 0.f);
    for (int64_t t = 0; t < T; ++t) {
        volatile float w = 0.f;  // each step rounded to float32
        for (int64_t i = 0; i < r; ++i) {
            volatile float prod = float(ref.counts[size_t(i * T + t)]) * factor[i];
            w = w + prod;
        }
        ref.weights[size_t(t)] = w;
    }
    std::vector<int64_t> order(static_cast<size_t>(T));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return ref.weights[size_t(a)] > ref.weights[size_t(b)]; });
    ref.indices.assign(order.begin(), order.begin() + K);
    std::sort(ref.indices.begin(), ref.indices.end());
    return ref;
}

void check_crm(const Tensor& cost, int64_t K, DType dt, const std::string& what) {
    INFO(what);
    const Tensor q = quantize(cost, dt);
    const int64_t P = cost.dim() == 4 ? cost.size(0) : 1, T = cost.size(-3), HW = cost.size(-1) * cost.size(-2);
    const CrmRef ref = crm_ref(q, P, T, HW, K);
    const auto sel = ec::ops::crm_select(up(q, dt), K);
    CHECK(to_vec64(sel.indices) == ref.indices);
    const Tensor counts = ec::to_host(sel.counts);
    CHECK(std::vector<int32_t>(counts.data<int32_t>(), counts.data<int32_t>() + counts.numel()) == ref.counts);
    const Tensor w = ec::to_host(sel.weights);
    CHECK(std::vector<float>(w.data<float>(), w.data<float>() + w.numel()) == ref.weights);
}

}  // namespace

TEST_CASE("argmax: first maximum wins, NaN is maximal") {
    for (DType dt : float_types()) {
        // Values on a coarse grid so ties are frequent.
        Tensor x = rand_tensor({2, 7, 5, 6}, 1, 0.f, 4.f);
        for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = std::floor(x.data<float>()[i]);
        x.data<float>()[3 * 30 + 7] = NAN;  // n=0, class 3, pixel 7
        x.data<float>()[5 * 30 + 7] = NAN;  // a later NaN loses to the first
        for (int64_t dim : {1, -1, 0}) {
            const int64_t d = dim < 0 ? 3 : dim;
            const std::vector<int64_t> got = to_vec64(ec::ops::argmax(up(x, dt), dim));
            const Shape s = x.shape();
            int64_t outer = 1, inner = 1;
            for (int64_t i = 0; i < d; ++i) outer *= s[size_t(i)];
            for (int64_t i = d + 1; i < 4; ++i) inner *= s[size_t(i)];
            const int64_t D = s[size_t(d)];
            std::vector<int64_t> want;
            for (int64_t o = 0; o < outer; ++o)
                for (int64_t in = 0; in < inner; ++in) {
                    int64_t arg = 0;
                    float best = x.data<float>()[o * D * inner + in];
                    for (int64_t k = 1; k < D && !std::isnan(best); ++k) {
                        const float v = x.data<float>()[(o * D + k) * inner + in];
                        if (v > best || std::isnan(v)) best = v, arg = k;
                    }
                    want.push_back(arg);
                }
            CHECK_MESSAGE(got == want, "argmax dim " << dim << " " << dtype_label(dt));
        }
    }
}

TEST_CASE("index_select with device indices (I64 and I32)") {
    const Tensor x = rand_tensor({2, 6, 3, 4}, 2);
    const std::vector<int64_t> idx{4, 0, 4, 5};
    for (DType dt : float_types()) {
        const Tensor q = quantize(x, dt);
        for (DType it : {DType::I64, DType::I32}) {
            DeviceTensor didx = it == DType::I64 ? ec::to_device(Tensor::from_vector<int64_t>({4}, idx))
                                                 : ec::to_device(Tensor::from_vector<int32_t>({4}, {4, 0, 4, 5}));
            const Tensor got = down(ec::ops::index_select(up(q, dt), 1, didx));
            REQUIRE(got.shape() == Shape({2, 4, 3, 4}));
            for (size_t j = 0; j < idx.size(); ++j)
                check_close(got.select(1, int64_t(j)).contiguous(), q.select(1, idx[j]).contiguous(), {0, 0},
                            "index_select slice " + std::to_string(j) + " " + dtype_label(dt));
        }
    }
}

TEST_CASE("crm_select: random costs, small vocabularies, ties") {
    for (DType dt : float_types()) {
        check_crm(rand_tensor({1, 20, 9, 11}, 3), 8, dt, "P=1 T=20 K=8 " + dtype_label(dt));
        check_crm(rand_tensor({20, 9, 11}, 4), 20, dt, "[T,H,W] K=T " + dtype_label(dt));
        check_crm(rand_tensor({2, 37, 5, 7}, 5), 11, dt, "P=2 (mean) " + dtype_label(dt));
        check_crm(rand_tensor({1, 3, 4, 4}, 6), 2, dt, "T=3 " + dtype_label(dt));
        check_crm(rand_tensor({1, 2, 4, 5}, 7), 1, dt, "T=2 (r=2) " + dtype_label(dt));
    }
    // Uniform cost: every pixel ranks classes 0, 1, 2; the rest tie at w = 0 -> lowest indices.
    const Tensor flat = Tensor::full({1, 12, 6, 6}, 0.5f);
    check_crm(flat, 5, DType::F32, "uniform cost");
    const auto sel = ec::ops::crm_select(up(flat, DType::F32), 5);
    CHECK(to_vec64(sel.indices) == std::vector<int64_t>{0, 1, 2, 3, 4});
    // A large vocabulary (global-memory histogram path: 3 * T * 4 bytes > 32 KB).
    check_crm(rand_tensor({1, 3000, 4, 5}, 8), 48, DType::F32, "T=3000");
    CHECK_THROWS_AS(ec::ops::crm_select(up(flat, DType::F32), 13), errseg::Error);
}

TEST_CASE("scatter_classes fills -100 and writes the selected rows") {
    for (DType dt : float_types()) {
        const int64_t N = 2, K = 3, T = 7, H = 5, W = 6;
        const Tensor src = quantize(rand_tensor({N, K, H, W}, 9), dt);
        const std::vector<int64_t> idx{1, 4, 6};
        const Tensor got =
            down(ec::ops::scatter_classes(up(src, dt), ec::to_device(Tensor::from_vector<int64_t>({K}, idx)), T));
        REQUIRE(got.shape() == Shape({N, T, H, W}));
        for (int64_t n = 0; n < N; ++n)
            for (int64_t t = 0; t < T; ++t) {
                const auto it = std::find(idx.begin(), idx.end(), t);
                const Tensor want = it == idx.end() ? Tensor::full({H, W}, -100.f)
                                                    : src.select(0, n).select(0, int64_t(it - idx.begin())).contiguous();
                check_close(got.select(0, n).select(0, t).contiguous(), want, {0, 0},
                            "scatter class " + std::to_string(t) + " " + dtype_label(dt));
            }
    }
}
