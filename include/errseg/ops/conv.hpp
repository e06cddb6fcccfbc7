// 2-D convolutions in NCHW with PyTorch weight layouts and semantics.
#pragma once
#include "../core.hpp"
#include "conv_params.hpp"
#include "detail/common.hpp"
#include "detail/conv_kernels.hpp"
#include "detail/epilogue.hpp"

namespace errseg::ops {

// x [N, C, H, W], weight [O, C/groups, kh, kw], bias [O] or undefined -> [N, O, Ho, Wo].
// Depthwise (groups == C == O) takes a direct path; 1x1 stride-1 convs are plain GEMMs; the
// general case is im2col (in tiles of output pixels) + GEMM.
// Fused: act(conv + bias) + residual (residual [N, O, Ho, Wo], [O, Ho, Wo] or undefined), applied to each
// output block as the kernel finishes it (ERR-Seg's conv -> relu6 and conv + guidance).
inline Tensor conv2d(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias, const Conv2dParams& p,
                     Activation act = Activation::None, const Tensor& residual = Tensor()) {
    detail::check_dim(x_in, 4, "conv2d", "input", "[N, C, H, W]");
    const Conv2dShape cs = conv2d_shape(x_in.shape(), weight_in.shape(), p);
    const int64_t N = cs.N, C = cs.C, O = cs.O;
    detail::ConvGeom g;
    g.N = N, g.C = C, g.H = cs.H, g.W = cs.W, g.O = O, g.kh = cs.kh, g.kw = cs.kw;
    g.sh = p.stride_h, g.sw = p.stride_w, g.ph = p.pad_h, g.pw = p.pad_w, g.dh = p.dilation_h, g.dw = p.dilation_w;
    g.groups = p.groups;
    g.Ho = cs.Ho;
    g.Wo = cs.Wo;
    Tensor x = detail::f32_contig(x_in, "conv2d", "input");
    Tensor w = detail::f32_contig(weight_in, "conv2d", "weight");
    Tensor bk;
    const float* b = detail::optional_vec(bias, O, "conv2d", "bias", bk);
    Tensor out = Tensor::empty({N, O, g.Ho, g.Wo});
    Tensor rkeep;
    const detail::Epilogue epi = detail::make_epilogue(act, residual, out, "conv2d", rkeep);
    if (out.numel() == 0) return out;
    const detail::Epilogue* fused = epi.empty() ? nullptr : &epi;
    if (p.groups == C && O == C)
        detail::conv2d_depthwise(g, detail::cdata(x), detail::cdata(w), b, out.data<float>(), fused);
    else {
        // Under --precision bf16 the weight [O, C k k] is packed once (grouped convs stay fp32).
        const int64_t K = C * g.kh * g.kw;
        const detail::Bf16Weight wb =
            p.groups == 1 ? detail::bf16_weight(w, {detail::cdata(w), K, false}, /*as_a=*/true, O, K) : nullptr;
        detail::conv2d_gemm(g, detail::cdata(x), detail::cdata(w), b, out.data<float>(), wb.get(), fused);
    }
    return out;
}

// Depthwise conv2d (groups == channels), stride 1, on channels-last data: x [N, H, W, C],
// weight [C, 1, kh, kw] (PyTorch's layout), bias [C] or undefined -> [N, Ho, Wo, C] with
// Ho = H + 2 pad_h - kh + 1. The same result as conv2d on the NCHW permutation (up to summation
// order: bias, then the taps row by row), without the two transposing copies around it when the
// data is token-major anyway (ERR-Seg's spatial fusion).
inline Tensor conv2d_depthwise_nhwc(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias, int pad_h,
                                    int pad_w) {
    detail::check_dim(x_in, 4, "conv2d_depthwise_nhwc", "input", "[N, H, W, C]");
    detail::check_dim(weight_in, 4, "conv2d_depthwise_nhwc", "weight", "[C, 1, kh, kw]");
    const int64_t N = x_in.size(0), H = x_in.size(1), W = x_in.size(2), C = x_in.size(3);
    const int64_t kh = weight_in.size(2), kw = weight_in.size(3);
    ERRSEG_CHECK(weight_in.size(0) == C && weight_in.size(1) == 1, "conv2d_depthwise_nhwc: weight ",
                 shape_str(weight_in.shape()), " is not [", C, ", 1, kh, kw] for input ", shape_str(x_in.shape()));
    ERRSEG_CHECK(pad_h >= 0 && pad_w >= 0 && kh > 0 && kw > 0 && H + 2 * pad_h >= kh && W + 2 * pad_w >= kw,
                 "conv2d_depthwise_nhwc: input ", shape_str(x_in.shape()), " (padded by ", pad_h, ", ", pad_w,
                 ") is smaller than the kernel ", shape_str(weight_in.shape()));
    const int64_t Ho = H + 2 * pad_h - kh + 1, Wo = W + 2 * pad_w - kw + 1;
    Tensor x = detail::f32_contig(x_in, "conv2d_depthwise_nhwc", "input");
    Tensor w = detail::f32_contig(weight_in, "conv2d_depthwise_nhwc", "weight");
    Tensor bk;
    const float* b = detail::optional_vec(bias, C, "conv2d_depthwise_nhwc", "bias", bk);
    Tensor out = Tensor::empty({N, Ho, Wo, C});
    if (out.numel() == 0) return out;
    // Taps channels-last too: taps[(ky * kw + kx) * C + c] = weight[c, 0, ky, kx].
    std::vector<float> taps(size_t(kh * kw * C));
    const float* wp = detail::cdata(w);
    for (int64_t c = 0; c < C; ++c)
        for (int64_t k = 0; k < kh * kw; ++k) taps[size_t(k * C + c)] = wp[c * kh * kw + k];
    detail::conv2d_depthwise_nhwc(detail::cdata(x), taps.data(), b, out.data<float>(), N, H, W, C, kh, kw, pad_h,
                                  pad_w, Ho, Wo);
    return out;
}

// PyTorch nn.ConvTranspose2d: weight [C, O/groups, kh, kw] -> [N, O, Ho, Wo] with
// Ho = (H - 1) * stride - 2 * pad + kh + output_pad.
inline Tensor conv_transpose2d(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias,
                               const ConvTranspose2dParams& p) {
    detail::check_dim(x_in, 4, "conv_transpose2d", "input", "[N, C, H, W]");
    detail::check_dim(weight_in, 4, "conv_transpose2d", "weight", "[C, O/groups, kh, kw]");
    const int64_t N = x_in.size(0), C = x_in.size(1), H = x_in.size(2), W = x_in.size(3);
    const int64_t kh = weight_in.size(2), kw = weight_in.size(3);
    ERRSEG_CHECK(p.groups > 0 && C % p.groups == 0, "conv_transpose2d: groups=", p.groups,
                 " must divide the input channels (", C, ")");
    ERRSEG_CHECK(weight_in.size(0) == C, "conv_transpose2d: weight ", shape_str(weight_in.shape()),
                 " expects ", weight_in.size(0), " input channels, input is ", shape_str(x_in.shape()));
    ERRSEG_CHECK(p.stride_h > 0 && p.stride_w > 0 && p.pad_h >= 0 && p.pad_w >= 0 && p.output_pad_h >= 0 &&
                     p.output_pad_w >= 0,
                 "conv_transpose2d: stride must be positive, padding non-negative");
    ERRSEG_CHECK(p.output_pad_h < p.stride_h && p.output_pad_w < p.stride_w,
                 "conv_transpose2d: output padding (", p.output_pad_h, ", ", p.output_pad_w,
                 ") must be smaller than the stride (", p.stride_h, ", ", p.stride_w, ")");
    detail::ConvGeom g;
    g.N = N, g.C = C, g.H = H, g.W = W, g.O = weight_in.size(1) * p.groups, g.kh = kh, g.kw = kw;
    g.sh = p.stride_h, g.sw = p.stride_w, g.ph = p.pad_h, g.pw = p.pad_w;
    g.groups = p.groups;
    g.Ho = (H - 1) * g.sh - 2 * g.ph + kh + p.output_pad_h;
    g.Wo = (W - 1) * g.sw - 2 * g.pw + kw + p.output_pad_w;
    ERRSEG_CHECK(g.Ho > 0 && g.Wo > 0, "conv_transpose2d: output size ", g.Ho, "x", g.Wo,
                 " is not positive for input ", shape_str(x_in.shape()), " and weight ",
                 shape_str(weight_in.shape()));
    Tensor x = detail::f32_contig(x_in, "conv_transpose2d", "input");
    Tensor w = detail::f32_contig(weight_in, "conv_transpose2d", "weight");
    Tensor bk;
    const float* b = detail::optional_vec(bias, g.O, "conv_transpose2d", "bias", bk);
    Tensor out = Tensor::empty({N, g.O, g.Ho, g.Wo});
    if (out.numel() == 0) return out;
    detail::conv_transpose2d_gemm(g, detail::cdata(x), detail::cdata(w), b, out.data<float>());
    return out;
}

}  // namespace errseg::ops
