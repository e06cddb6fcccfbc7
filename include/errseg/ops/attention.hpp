// Scaled dot-product attention and the nn.MultiheadAttention self-attention layout.
#pragma once
#include "../core.hpp"

namespace errseg::ops {

// q [B, H, Lq, D], k/v [B, H, Lk, D] -> [B, H, Lq, D]; scale defaults to 1/sqrt(D).
// causal: query i sees keys 0..i (Lq == Lk).
inline Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal = false,
                        float scale = 0.f) { fail("not implemented yet"); }

// Self-attention as torch.nn.MultiheadAttention(batch_first=True) computes it:
// x [B, L, E], in_proj_weight [3E, E], in_proj_bias [3E], out_proj [E, E] + [E].
inline Tensor multi_head_self_attention(const Tensor& x, const Tensor& in_proj_weight,
                                        const Tensor& in_proj_bias, const Tensor& out_proj_weight,
                                        const Tensor& out_proj_bias, int heads, bool causal) { fail("not implemented yet"); }

}  // namespace errseg::ops
