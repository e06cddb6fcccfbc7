// Facade: conv2d (depthwise direct / 1x1 GEMM / implicit GEMM) and conv_transpose2d.
#include "common.cuh"
#include "kernels/conv_depthwise.cuh"
#include "kernels/conv_implicit_gemm.cuh"
#include "kernels/conv_transpose.cuh"

namespace errseg::cuda::ops {

DeviceTensor conv2d(const DeviceTensor& x, const DeviceTensor& weight, const DeviceTensor& bias, const Conv2dParams& p,
                    Activation act, const DeviceTensor& residual) {
    const char* op = "conv2d";
    detail::check_input(x, op, "x");
    detail::check_input(weight, op, "weight");
    detail::check_dims(x, 4, op, "x", "[N, C, H, W]");
    detail::check_dims(weight, 4, op, "weight", "[O, C/groups, kh, kw]");
    detail::check_same_dtype(weight, x.dtype(), op, "weight");
    const errseg::ops::Conv2dShape cs = errseg::ops::conv2d_shape(x.shape(), weight.shape(), p, op);
    const int64_t N = cs.N, C = cs.C, H = cs.H, W = cs.W, O = cs.O, kh = cs.kh, kw = cs.kw, Ho = cs.Ho, Wo = cs.Wo;
    ERRSEG_CHECK(N * O * Ho * Wo < (int64_t(1) << 40) && H * W < (int64_t(1) << 31), op, ": tensor too large");
    DeviceTensor out = DeviceTensor::empty({N, O, Ho, Wo}, x.dtype(), x.stream());
    const detail::Residual res = detail::optional_residual(residual, out.shape(), x.dtype(), op);
    const kernels::ConvGeometry g{int(N), int(C), int(H), int(W), int(O), int(Ho), int(Wo), int(kh), int(kw),
                                  p.stride_h, p.stride_w, p.pad_h, p.pad_w, p.dilation_h, p.dilation_w, p.groups};
    const bool pointwise = kh == 1 && kw == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 && p.pad_w == 0 &&
                           p.groups == 1;
    if (pointwise) {
        // out[n] (O x HW) = W (O x C) . x[n] (C x HW): a batched GEMM with the weight shared.
        if (bias.defined()) {
            ERRSEG_CHECK(bias.numel() == O, op, ": bias ", shape_str(bias.shape()), ", expected [", O, "]");
            detail::check_same_dtype(bias, x.dtype(), op, "bias");
        }
        GemmArgs ga;
        ga.M = O, ga.N = H * W, ga.K = C, ga.batch = N;
        ga.a = weight.data(), ga.lda = C, ga.batch_stride_a = 0;
        ga.b = x.data(), ga.ldb = H * W, ga.batch_stride_b = C * H * W;
        ga.c = out.data(), ga.ldc = H * W, ga.batch_stride_c = O * H * W;
        if (bias.defined()) ga.bias = bias.data(), ga.bias_mode = BiasMode::PerRow;
        ga.act = act;
        if (res.data) ga.residual = res.data, ga.ldr = H * W, ga.batch_stride_r = res.period == out.numel() ? O * H * W : 0;
        gemm(ga, x.dtype(), x.stream());
        return out;
    }
    detail::dispatch_float(x.dtype(), op, [&](auto tag) {
        using T = decltype(tag);
        const T* b = detail::optional_param<T>(bias, O, x.dtype(), op, "bias");
        const kernels::ResidualArg<T> r{res.as<T>(), res.period};
        if (p.groups == C && weight.size(1) == 1)
            kernels::launch_depthwise_conv<T>(detail::cptr<T>(x), detail::cptr<T>(weight), b, r, detail::mptr<T>(out),
                                              g, act, x.stream());
        else
            kernels::launch_conv_implicit_gemm<T>(detail::cptr<T>(x), detail::cptr<T>(weight), b, r,
                                                  detail::mptr<T>(out), g, act, x.stream());
    });
    ERRSEG_CUDA_CHECK_LAUNCH();
    return out;
}

DeviceTensor conv_transpose2d(const DeviceTensor& x, const DeviceTensor& weight, const DeviceTensor& bias,
                              const ConvTranspose2dParams& p) {
    const char* op = "conv_transpose2d";
    detail::check_input(x, op, "x");
    detail::check_input(weight, op, "weight");
    detail::check_dims(x, 4, op, "x", "[N, C, H, W]");
    detail::check_dims(weight, 4, op, "weight", "[C, O/groups, kh, kw]");
    detail::check_same_dtype(weight, x.dtype(), op, "weight");
    const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    ERRSEG_CHECK(p.groups >= 1 && weight.size(0) == C && C % p.groups == 0, op, ": weight ",
                 shape_str(weight.shape()), " does not fit input ", shape_str(x.shape()), " with groups ", p.groups);
    ERRSEG_CHECK(p.stride_h >= 1 && p.stride_w >= 1 && p.pad_h >= 0 && p.pad_w >= 0 && p.output_pad_h >= 0 &&
                     p.output_pad_w >= 0 && p.output_pad_h < p.stride_h && p.output_pad_w < p.stride_w,
                 op, ": invalid stride/padding/output_padding");
    const int64_t O = weight.size(1) * p.groups, kh = weight.size(2), kw = weight.size(3);
    const int64_t Ho = (H - 1) * p.stride_h - 2 * p.pad_h + kh + p.output_pad_h;
    const int64_t Wo = (W - 1) * p.stride_w - 2 * p.pad_w + kw + p.output_pad_w;
    ERRSEG_CHECK(Ho >= 1 && Wo >= 1, op, ": empty output for input ", shape_str(x.shape()));
    DeviceTensor out = DeviceTensor::empty({N, O, Ho, Wo}, x.dtype(), x.stream());
    const kernels::ConvGeometry g{int(N), int(C), int(H), int(W), int(O), int(Ho), int(Wo), int(kh), int(kw),
                                  p.stride_h, p.stride_w, p.pad_h, p.pad_w, 1, 1, p.groups};
    detail::dispatch_float(x.dtype(), op, [&](auto tag) {
        using T = decltype(tag);
        kernels::launch_conv_transpose2d<T>(detail::cptr<T>(x), detail::cptr<T>(weight),
                                            detail::optional_param<T>(bias, O, x.dtype(), op, "bias"),
                                            detail::mptr<T>(out), g, Activation::None, x.stream());
    });
    ERRSEG_CUDA_CHECK_LAUNCH();
    return out;
}

}  // namespace errseg::cuda::ops
