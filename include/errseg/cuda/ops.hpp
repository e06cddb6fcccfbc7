// errseg::cuda::ops — the GPU backend's ops on DeviceTensors, with the names and semantics of
// errseg::ops (PyTorch's), so model code can be written once for either backend.
//
// Differences from the CPU ops, all deliberate:
//  * DeviceTensors are dense; outputs are fresh dense tensors of the input's dtype
//    (F32, F16 or BF16 storage; every kernel computes and accumulates in fp32).
//  * Every float tensor given to one op (input, weight, bias...) must have the same dtype;
//    upload the weights in the model's compute dtype (upload_weights(..., DType::F16)).
//  * Ops are asynchronous on the stream of their first input; to_host() synchronises.
//  * linear / conv2d / group_norm take the fused epilogue of the CPU ops (act, then + residual).
//
// Host-only header: plain C++ callers link errseg::cuda and need no nvcc. The kernels are
// private to the library (cuda/src/kernels/).
#pragma once
#include <cstdint>
#include <vector>

#include "activation.hpp"
#include "device_tensor.hpp"
#include "gemm_args.hpp"
#include "../ops/conv_params.hpp"

namespace errseg::cuda::ops {

// ---- matrix products (gemm.cu) ----
// Raw GEMM on device pointers (see gemm_args.hpp); dtype = storage type of every matrix.
void gemm(const GemmArgs& args, DType dtype, cudaStream_t stream);
// a [..., M, K] x b [..., K, N] -> [..., M, N]; b may be 2-D (shared by every batch) or have
// a's leading dims. trans_b: b is given as [..., N, K].
DeviceTensor matmul(const DeviceTensor& a, const DeviceTensor& b, bool trans_b = false);
// nn.Linear: x [..., in], weight [out, in], optional bias [out] -> [..., out], with an optional
// fused activation and residual ([..., out], added after the activation: x + proj(y)).
DeviceTensor linear(const DeviceTensor& x, const DeviceTensor& weight, const DeviceTensor& bias = DeviceTensor(),
                    Activation act = Activation::None, const DeviceTensor& residual = DeviceTensor());

// ---- convolutions (conv.cu), NCHW, PyTorch weight layouts ----
using errseg::ops::Conv2dParams;  // the CPU ops' struct (ops/conv_params.hpp)
// x [N, C, H, W], weight [O, C/groups, kh, kw], bias [O] or undefined -> [N, O, Ho, Wo].
// Depthwise (groups == C, O == C) runs a direct kernel; 1x1/stride 1 runs the GEMM; the
// rest runs as an implicit GEMM (no im2col buffer). Fused into the write: act(conv + bias) +
// residual ([N, O, Ho, Wo] or undefined).
DeviceTensor conv2d(const DeviceTensor& x, const DeviceTensor& weight, const DeviceTensor& bias,
                    const Conv2dParams& p, Activation act = Activation::None,
                    const DeviceTensor& residual = DeviceTensor());

using errseg::ops::ConvTranspose2dParams;
// nn.ConvTranspose2d: weight [C, O/groups, kh, kw] -> [N, O, Ho, Wo] (dilation 1).
DeviceTensor conv_transpose2d(const DeviceTensor& x, const DeviceTensor& weight, const DeviceTensor& bias,
                              const ConvTranspose2dParams& p);

// ---- normalisations (norm.cu) ----
DeviceTensor layer_norm(const DeviceTensor& x, const DeviceTensor& weight, const DeviceTensor& bias, float eps);
DeviceTensor layer_norm2d(const DeviceTensor& x, const DeviceTensor& weight, const DeviceTensor& bias, float eps);
// Fused into the write: act(group_norm(x)) + residual (x's shape or undefined).
DeviceTensor group_norm(const DeviceTensor& x, int groups, const DeviceTensor& weight, const DeviceTensor& bias,
                        float eps, Activation act = Activation::None, const DeviceTensor& residual = DeviceTensor());
DeviceTensor l2_normalize(const DeviceTensor& x, float eps = 1e-12f);  // last dim, F.normalize

// ---- elementwise (elementwise.cu) ----
DeviceTensor activation(const DeviceTensor& x, Activation act);
DeviceTensor gelu(const DeviceTensor& x);
DeviceTensor quick_gelu(const DeviceTensor& x);
DeviceTensor relu(const DeviceTensor& x);
DeviceTensor relu6(const DeviceTensor& x);
DeviceTensor sigmoid(const DeviceTensor& x);
DeviceTensor clamp(const DeviceTensor& x, float lo, float hi);
DeviceTensor scale(const DeviceTensor& x, float s);
// numpy broadcasting, as errseg::ops::add etc.
DeviceTensor add(const DeviceTensor& a, const DeviceTensor& b);
DeviceTensor sub(const DeviceTensor& a, const DeviceTensor& b);
DeviceTensor mul(const DeviceTensor& a, const DeviceTensor& b);
DeviceTensor div(const DeviceTensor& a, const DeviceTensor& b);

// act3(fc3(act1(fc1(x)) * fc2(x))) + residual (errseg::ops::gated_mlp): here the separate ops.
inline DeviceTensor gated_mlp(const DeviceTensor& x, const DeviceTensor& w1, const DeviceTensor& b1, Activation act1,
                              const DeviceTensor& w2, const DeviceTensor& b2, const DeviceTensor& w3,
                              const DeviceTensor& b3, Activation act3 = Activation::None,
                              const DeviceTensor& residual = DeviceTensor()) {
    return linear(mul(linear(x, w1, b1, act1), linear(x, w2, b2)), w3, b3, act3, residual);
}

// ---- reductions (reduce.cu) ----
// torch.mean(x, dim) (dim removed), fp32 accumulation; the mean of an empty dim is NaN.
DeviceTensor mean(const DeviceTensor& x, int64_t dim);

// ---- softmax (softmax.cu) ----
DeviceTensor softmax(const DeviceTensor& x, int64_t dim = -1);

// ---- attention (attention.cu) ----
// q [B, H, Lq, D], k/v [B, H, Lk, D] -> [B, H, Lq, D]; D <= 128; scale 0 -> 1/sqrt(D).
// causal: query i sees keys 0..i (top-left aligned, as PyTorch's is_causal).
DeviceTensor attention(const DeviceTensor& q, const DeviceTensor& k, const DeviceTensor& v, bool causal = false,
                       float scale = 0.f);
// Token layout: q [B, Lq, H*D], k/v [B, Lk, H*D] (head h = channels h*D..h*D+D-1) ->
// [B, Lq, H*D]; no permutes needed around the projections.
DeviceTensor attention_tokens(const DeviceTensor& q, const DeviceTensor& k, const DeviceTensor& v, int heads,
                              bool causal = false, float scale = 0.f);
// torch.nn.MultiheadAttention(batch_first=True) self-attention: x [B, L, E] -> [B, L, E].
DeviceTensor multi_head_self_attention(const DeviceTensor& x, const DeviceTensor& in_proj_weight,
                                       const DeviceTensor& in_proj_bias, const DeviceTensor& out_proj_weight,
                                       const DeviceTensor& out_proj_bias, int heads, bool causal);

// ---- resampling and pooling (resize_pool.cu) ----
// F.interpolate(mode='bilinear', size=(out_h, out_w)), both align_corners modes.
DeviceTensor resize_bilinear(const DeviceTensor& x, int64_t out_h, int64_t out_w, bool align_corners);
// nn.AvgPool2d(kernel, stride), no padding, floor.
DeviceTensor avg_pool2d(const DeviceTensor& x, int kernel, int stride);

// ---- selection (select.cu) ----
// torch.argmax(x, dim) (first maximum; NaN counts as maximum) -> I64 without that dim.
DeviceTensor argmax(const DeviceTensor& x, int64_t dim);
// x.index_select(dim, idx) with idx an I64 (or I32) device tensor, e.g. the CRM selection.
DeviceTensor index_select(const DeviceTensor& x, int64_t dim, const DeviceTensor& idx);

// ERR-Seg's CRM class selection (§2.7.1 of the spec) on the stride-16 cost map
// [P, T, H, W] (mean over P) or [T, H, W]:
//   r = min(3, T) best classes per pixel (ties -> lower class index), per-rank histograms
//   count[r][t], weights w = count0 + fl32(count1 * 0.1f) + fl32(count2 * 0.01f),
//   then the k largest w (ties -> lower class index), returned sorted ascending.
struct CrmSelection {
    DeviceTensor indices;  // I64 [k], ascending
    DeviceTensor counts;   // I32 [r, T]
    DeviceTensor weights;  // F32 [T]
};
CrmSelection crm_select(const DeviceTensor& cost, int64_t k);

// ERR-Seg's output reconstruction: out [N, T, ...] filled with `fill`, then
// out[:, idx[j]] = src[:, j] for src [N, K, ...] and idx I64 [K].
DeviceTensor scatter_classes(const DeviceTensor& src, const DeviceTensor& idx, int64_t num_classes,
                             float fill = -100.f);

// ---- layout (layout.cu) ----
DeviceTensor cast(const DeviceTensor& x, DType to);                        // F32/F16/BF16
DeviceTensor permute(const DeviceTensor& x, const std::vector<int64_t>& order);  // dense copy
DeviceTensor concat(const std::vector<DeviceTensor>& xs, int64_t dim);     // torch.cat
DeviceTensor pad2d(const DeviceTensor& x, int left, int right, int top, int bottom, float value = 0.f);

}  // namespace errseg::cuda::ops
