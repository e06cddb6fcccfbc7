// Fused attention vs a double-precision softmax(QK^T)V: Lq != Lk, causal, head dims that are
// not 32/64/128 (padded in the kernel), token layout and nn.MultiheadAttention composition.
#include "cuda_test_util.hpp"

using namespace cuda_test;
namespace ec = errseg::cuda;

namespace {

// q [BH, Lq, D], k/v [BH, Lk, D] (any leading dims flattened) -> [BH, Lq, D]
Tensor attention_ref(const Tensor& q, const Tensor& k, const Tensor& v, int64_t BH, int64_t Lq, int64_t Lk, int64_t D,
                     bool causal, double scale) {
    Tensor out = Tensor::empty({BH, Lq, D});
    const float *pq = q.data<float>(), *pk = k.data<float>(), *pv = v.data<float>();
    std::vector<double> s(static_cast<size_t>(Lk));
    for (int64_t bh = 0; bh < BH; ++bh)
        for (int64_t i = 0; i < Lq; ++i) {
            double mx = -INFINITY;
            for (int64_t j = 0; j < Lk; ++j) {
                double d = 0;
                for (int64_t c = 0; c < D; ++c) d += double(pq[(bh * Lq + i) * D + c]) * pk[(bh * Lk + j) * D + c];
                s[size_t(j)] = (causal && j > i) ? -INFINITY : d * scale;
                mx = std::max(mx, s[size_t(j)]);
            }
            double sum = 0;
            for (int64_t j = 0; j < Lk; ++j) sum += (s[size_t(j)] = std::exp(s[size_t(j)] - mx));
            for (int64_t c = 0; c < D; ++c) {
                double o = 0;
                for (int64_t j = 0; j < Lk; ++j) o += s[size_t(j)] * pv[(bh * Lk + j) * D + c];
                out.data<float>()[(bh * Lq + i) * D + c] = float(o / sum);
            }
        }
    return out;
}

}  // namespace

TEST_CASE("attention [B, H, L, D]: odd sizes, Lq != Lk, causal, padded head dims") {
    struct Case {
        int64_t B, H, Lq, Lk, D;
        bool causal;
    };
    const std::vector<Case> cases{{1, 1, 1, 1, 1, false},   {2, 3, 37, 53, 32, false},  {1, 2, 100, 29, 64, false},
                                  {1, 2, 70, 70, 64, true}, {1, 1, 65, 130, 128, true}, {2, 1, 33, 17, 40, false},
                                  {1, 2, 130, 77, 80, false}, {1, 1, 129, 129, 16, true}};
    uint32_t seed = 1;
    for (const Case& c : cases)
        for (DType dt : float_types()) {
            const Tensor q = quantize(rand_tensor({c.B, c.H, c.Lq, c.D}, seed++, -2.f, 2.f), dt);
            const Tensor k = quantize(rand_tensor({c.B, c.H, c.Lk, c.D}, seed++, -2.f, 2.f), dt);
            const Tensor v = quantize(rand_tensor({c.B, c.H, c.Lk, c.D}, seed++), dt);
            const Tensor want = attention_ref(q, k, v, c.B * c.H, c.Lq, c.Lk, c.D, c.causal, 1.0 / std::sqrt(double(c.D)))
                                    .reshape({c.B, c.H, c.Lq, c.D});
            const Tensor got = down(ec::ops::attention(up(q, dt), up(k, dt), up(v, dt), c.causal));
            check_close(got, want, tol_for(dt, 1.0),
                        "attention B=" + std::to_string(c.B) + " H=" + std::to_string(c.H) + " Lq=" + std::to_string(c.Lq) +
                            " Lk=" + std::to_string(c.Lk) + " D=" + std::to_string(c.D) + (c.causal ? " causal " : " ") +
                            dtype_label(dt));
        }
    // An explicit scale.
    const Tensor q = rand_tensor({1, 1, 9, 8}, 90), k = rand_tensor({1, 1, 11, 8}, 91), v = rand_tensor({1, 1, 11, 8}, 92);
    check_close(down(ec::ops::attention(up(q, DType::F32), up(k, DType::F32), up(v, DType::F32), false, 0.7f)),
                attention_ref(q, k, v, 1, 9, 11, 8, false, 0.7).reshape({1, 1, 9, 8}), tol_for(DType::F32), "scale 0.7");
}

TEST_CASE("attention_tokens equals attention on permuted tensors") {
    const int64_t B = 2, Lq = 45, Lk = 21, H = 4, D = 32;
    for (DType dt : float_types()) {
        const Tensor q = quantize(rand_tensor({B, Lq, H * D}, 3), dt);
        const Tensor k = quantize(rand_tensor({B, Lk, H * D}, 4), dt);
        const Tensor v = quantize(rand_tensor({B, Lk, H * D}, 5), dt);
        auto heads_first = [&](const Tensor& t, int64_t L) {
            return t.reshape({B, L, H, D}).permute({0, 2, 1, 3}).contiguous();
        };
        const Tensor ref = attention_ref(heads_first(q, Lq), heads_first(k, Lk), heads_first(v, Lk), B * H, Lq, Lk, D,
                                         false, 1.0 / std::sqrt(double(D)))
                               .reshape({B, H, Lq, D})
                               .permute({0, 2, 1, 3})
                               .contiguous()
                               .reshape({B, Lq, H * D});
        check_close(down(ec::ops::attention_tokens(up(q, dt), up(k, dt), up(v, dt), int(H))), ref, tol_for(dt),
                    "attention_tokens " + dtype_label(dt));
    }
}

TEST_CASE("multi_head_self_attention (causal, text-tower layout)") {
    const int64_t B = 2, L = 13, E = 64, H = 4, D = E / H;
    for (DType dt : float_types()) {
        const Tensor x = quantize(rand_tensor({B, L, E}, 6), dt);
        const Tensor w_in = quantize(rand_tensor({3 * E, E}, 7, -0.2f, 0.2f), dt);
        const Tensor b_in = quantize(rand_tensor({3 * E}, 8, -0.1f, 0.1f), dt);
        const Tensor w_out = quantize(rand_tensor({E, E}, 9, -0.2f, 0.2f), dt);
        const Tensor b_out = quantize(rand_tensor({E}, 10, -0.1f, 0.1f), dt);
        // Reference: packed projection, heads split from channels, attention, output projection.
        Tensor qkv = Tensor::empty({B, L, 3 * E});
        for (int64_t r = 0; r < B * L; ++r)
            for (int64_t o = 0; o < 3 * E; ++o) {
                double s = b_in.data<float>()[o];
                for (int64_t i = 0; i < E; ++i) s += double(x.data<float>()[r * E + i]) * w_in.data<float>()[o * E + i];
                qkv.data<float>()[r * 3 * E + o] = float(s);
            }
        auto part = [&](int which) {
            return qkv.slice(2, which * E, (which + 1) * E).reshape({B, L, H, D}).permute({0, 2, 1, 3}).contiguous();
        };
        const Tensor ctx = attention_ref(part(0), part(1), part(2), B * H, L, L, D, true, 1.0 / std::sqrt(double(D)))
                               .reshape({B, H, L, D})
                               .permute({0, 2, 1, 3})
                               .contiguous();
        Tensor want = Tensor::empty({B, L, E});
        for (int64_t r = 0; r < B * L; ++r)
            for (int64_t o = 0; o < E; ++o) {
                double s = b_out.data<float>()[o];
                for (int64_t i = 0; i < E; ++i) s += double(ctx.data<float>()[r * E + i]) * w_out.data<float>()[o * E + i];
                want.data<float>()[r * E + o] = float(s);
            }
        const Tensor got = down(ec::ops::multi_head_self_attention(up(x, dt), up(w_in, dt), up(b_in, dt), up(w_out, dt),
                                                                   up(b_out, dt), int(H), true));
        // Intermediates (qkv, context) are rounded to the storage type on the GPU: looser for halves.
        check_close(got, want, tol_for(dt, 2.0), "multi_head_self_attention " + dtype_label(dt));
    }
}
