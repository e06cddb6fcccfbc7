// Scaled dot-product attention and the nn.MultiheadAttention self-attention layout.
#pragma once
#include <cmath>

#include "../core.hpp"
#include "detail/common.hpp"
#include "detail/gemm_kernel.hpp"
#include "gemm.hpp"
#include "softmax.hpp"

namespace errseg::ops {

namespace detail {

// A [B, H, L, D] operand addressed through strides (its last dim has stride 1).
struct HeadsView {
    const float* p = nullptr;
    int64_t sb = 0, sh = 0, sl = 0;
    const float* at(int64_t b, int64_t h) const { return p + b * sb + h * sh; }
};

inline HeadsView heads_view(const Tensor& t) {
    return {cdata(t), t.strides()[0], t.strides()[1], t.strides()[2]};
}

// Row blocks of queries per task: bounds the score buffer to qb x Lk floats (200 KiB for
// ERR-Seg's 400 keys, in L2). Each task packs its head's keys, so larger blocks spend less of
// the time packing; the smaller block is kept where the large one would leave threads idle.
// Results do not depend on the block size (rows are independent).
constexpr int64_t kAttnQueryBlock = 128, kAttnQueryBlockSmall = 64;
inline int64_t attention_query_block(int64_t heads_total, int64_t Lq) {
    const int64_t tasks = heads_total * ((Lq + kAttnQueryBlock - 1) / kAttnQueryBlock);
    return tasks >= 4 * int64_t(get_num_threads()) ? kAttnQueryBlock : kAttnQueryBlockSmall;
}

// out(b, h) [Lq, Dv] = softmax(scale * Q K^T, causal) V for every (b, h); `out` is addressed
// like a HeadsView so callers can write straight into [B, L, H, Dv].
inline void attention_core(int64_t B, int64_t H, int64_t Lq, int64_t Lk, int64_t D, int64_t Dv,
                           HeadsView q, HeadsView k, HeadsView v, float* out, int64_t ob, int64_t oh,
                           int64_t ol, float scale, bool causal) {
    const int64_t qb = attention_query_block(B * H, Lq), qblocks = (Lq + qb - 1) / qb;
    parallel_for(B * H * qblocks, 1, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t b = t / (H * qblocks), h = (t / qblocks) % H, blk = t % qblocks;
            const int64_t q0 = blk * qb, nq = std::min(qb, Lq - q0);
            // Causal: query i sees keys 0..i, so this block needs keys [0, q0 + nq).
            const int64_t kend = causal ? std::min(Lk, q0 + nq) : Lk;
            float* qs = scratch(size_t(nq * D), 0);
            float* s = scratch(size_t(nq * std::max<int64_t>(kend, 1)), 1);
            // Scale the queries first (as nn.MultiheadAttention does), then S = Qs K^T.
            on_cpu_isa([&](auto isa) {
                for (int64_t i = 0; i < nq; ++i) scale_block(isa, q.at(b, h) + (q0 + i) * q.sl, qs + i * D, D, scale);
            });
            gemm(nq, kend, D, {qs, D, false}, {k.at(b, h), k.sl, true}, s, kend, false);
            for (int64_t i = 0; i < nq; ++i) {
                float* row = s + i * kend;
                const int64_t valid = causal ? std::min(kend, q0 + i + 1) : kend;
                softmax_row(row, valid);
                std::fill(row + valid, row + kend, 0.f);
            }
            float* o = out + b * ob + h * oh + q0 * ol;
            gemm(nq, Dv, kend, {s, kend, false}, {v.at(b, h), v.sl, false}, o, ol, false);
        }
    });
}

// Makes the last dim unit-stride (copying only if needed) so rows can be mapped directly.
inline Tensor unit_inner(const Tensor& t, const char* op, const char* what) {
    Tensor r = t.dtype() == DType::F32 ? t : f32_contig(t, op, what);
    if (r.dim() > 0 && r.strides().back() != 1 && r.shape().back() != 1) r = r.contiguous();
    return r;
}

}  // namespace detail

// q [B, H, Lq, D], k/v [B, H, Lk, D] -> [B, H, Lq, D]; scale defaults to 1/sqrt(D).
// causal: query i sees keys 0..i (Lq == Lk).
inline Tensor attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, bool causal = false,
                        float scale = 0.f) {
    ERRSEG_CHECK(q_in.defined() && k_in.defined() && v_in.defined(), "attention: undefined input");
    ERRSEG_CHECK(q_in.dim() == 4 && k_in.dim() == 4 && v_in.dim() == 4,
                 "attention: q, k, v must be [B, H, L, D], got ", shape_str(q_in.shape()), ", ",
                 shape_str(k_in.shape()), ", ", shape_str(v_in.shape()));
    const int64_t B = q_in.size(0), H = q_in.size(1), Lq = q_in.size(2), D = q_in.size(3);
    const int64_t Lk = k_in.size(2), Dv = v_in.size(3);
    ERRSEG_CHECK(k_in.size(0) == B && k_in.size(1) == H && k_in.size(3) == D && v_in.size(0) == B &&
                     v_in.size(1) == H && v_in.size(2) == Lk,
                 "attention: shapes do not match: q ", shape_str(q_in.shape()), ", k ", shape_str(k_in.shape()),
                 ", v ", shape_str(v_in.shape()));
    ERRSEG_CHECK(!causal || Lq == Lk, "attention: causal mask needs Lq == Lk, got q ", shape_str(q_in.shape()),
                 " and k ", shape_str(k_in.shape()));
    ERRSEG_CHECK(Lk > 0 || Lq == 0, "attention: no keys (k ", shape_str(k_in.shape()), ")");
    if (scale == 0.f) scale = float(1.0 / std::sqrt(double(D)));
    Tensor q = detail::unit_inner(q_in, "attention", "q");
    Tensor k = detail::unit_inner(k_in, "attention", "k");
    Tensor v = detail::unit_inner(v_in, "attention", "v");
    Tensor out = Tensor::empty({B, H, Lq, Dv});
    if (out.numel() == 0) return out;
    detail::attention_core(B, H, Lq, Lk, D, Dv, detail::heads_view(q), detail::heads_view(k),
                           detail::heads_view(v), out.data<float>(), H * Lq * Dv, Lq * Dv, Dv, scale, causal);
    return out;
}

// Token layout: q [B, Lq, H*D], k [B, Lk, H*D], v [B, Lk, H*Dv]; head h uses channels
// [h*D, (h+1)*D) -> [B, Lq, H*Dv]. Heads are read as strided views and the output is written
// straight into token order (no [B, H, L, D] copy either way).
inline Tensor attention_tokens(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, int64_t heads,
                               float scale) {
    ERRSEG_CHECK(q_in.defined() && k_in.defined() && v_in.defined(), "attention_tokens: undefined input");
    ERRSEG_CHECK(q_in.dim() == 3 && k_in.dim() == 3 && v_in.dim() == 3, "attention_tokens: q, k, v must be [B, L, C], got ",
                 shape_str(q_in.shape()), ", ", shape_str(k_in.shape()), ", ", shape_str(v_in.shape()));
    const int64_t B = q_in.size(0), Lq = q_in.size(1), C = q_in.size(2), Lk = k_in.size(1), Cv = v_in.size(2);
    ERRSEG_CHECK(heads > 0 && C % heads == 0 && Cv % heads == 0 && k_in.size(0) == B && v_in.size(0) == B &&
                     k_in.size(2) == C && v_in.size(1) == Lk,
                 "attention_tokens: shapes do not match ", heads, " heads: q ", shape_str(q_in.shape()), ", k ",
                 shape_str(k_in.shape()), ", v ", shape_str(v_in.shape()));
    ERRSEG_CHECK(Lk > 0 || Lq == 0, "attention_tokens: no keys (k ", shape_str(k_in.shape()), ")");
    const Tensor q = detail::f32_contig(q_in, "attention_tokens", "q");
    const Tensor k = detail::f32_contig(k_in, "attention_tokens", "k");
    const Tensor v = detail::f32_contig(v_in, "attention_tokens", "v");
    const int64_t D = C / heads, Dv = Cv / heads;
    Tensor out = Tensor::empty({B, Lq, Cv});
    if (out.numel() == 0) return out;
    const float* qp = detail::cdata(q);
    const float* kp = detail::cdata(k);
    const float* vp = detail::cdata(v);
    detail::attention_core(B, heads, Lq, Lk, D, Dv, {qp, Lq * C, D, C}, {kp, Lk * C, D, C}, {vp, Lk * Cv, Dv, Cv},
                           out.data<float>(), Lq * Cv, Dv, Cv, scale, /*causal=*/false);
    return out;
}

// Self-attention as torch.nn.MultiheadAttention(batch_first=True) computes it:
// x [B, L, E], in_proj_weight [3E, E], in_proj_bias [3E], out_proj [E, E] + [E].
inline Tensor multi_head_self_attention(const Tensor& x, const Tensor& in_proj_weight,
                                        const Tensor& in_proj_bias, const Tensor& out_proj_weight,
                                        const Tensor& out_proj_bias, int heads, bool causal) {
    detail::check_dim(x, 3, "multi_head_self_attention", "input", "[B, L, E]");
    const int64_t B = x.size(0), L = x.size(1), E = x.size(2);
    ERRSEG_CHECK(heads > 0 && E % heads == 0, "multi_head_self_attention: embed dim ", E, " of ",
                 shape_str(x.shape()), " is not divisible by ", heads, " heads");
    ERRSEG_CHECK(in_proj_weight.defined() && in_proj_weight.dim() == 2 && in_proj_weight.size(0) == 3 * E &&
                     in_proj_weight.size(1) == E,
                 "multi_head_self_attention: in_proj_weight must be [", 3 * E, ", ", E, "], got ",
                 in_proj_weight.defined() ? shape_str(in_proj_weight.shape()) : std::string("undefined"));
    ERRSEG_CHECK(out_proj_weight.defined() && out_proj_weight.dim() == 2 && out_proj_weight.size(0) == E &&
                     out_proj_weight.size(1) == E,
                 "multi_head_self_attention: out_proj_weight must be [", E, ", ", E, "], got ",
                 out_proj_weight.defined() ? shape_str(out_proj_weight.shape()) : std::string("undefined"));
    const int64_t Dh = E / heads;
    // qkv [B, L, 3E]: q, k, v are column blocks; head h uses channels h*Dh..(h+1)*Dh of each.
    Tensor qkv = linear(x, in_proj_weight, in_proj_bias);
    const float* base = detail::cdata(qkv);
    const detail::HeadsView q{base, L * 3 * E, Dh, 3 * E}, k{base + E, L * 3 * E, Dh, 3 * E},
        v{base + 2 * E, L * 3 * E, Dh, 3 * E};
    // Attention output goes straight into [B, L, heads, Dh] = [B, L, E].
    Tensor ctx = Tensor::empty({B, L, E});
    if (ctx.numel() > 0)
        detail::attention_core(B, heads, L, L, Dh, Dh, q, k, v, ctx.data<float>(), L * E, Dh, E,
                               float(1.0 / std::sqrt(double(Dh))), causal);
    return linear(ctx, out_proj_weight, out_proj_bias);
}

}  // namespace errseg::ops
