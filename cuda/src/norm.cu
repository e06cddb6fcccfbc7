// Facade: layer_norm / layer_norm2d / group_norm / l2_normalize.
#include "common.cuh"
#include "kernels/group_norm.cuh"
#include "kernels/l2_normalize.cuh"
#include "kernels/layer_norm.cuh"
#include "kernels/layer_norm2d.cuh"

namespace errseg::cuda::ops {

DeviceTensor layer_norm(const DeviceTensor& x, const DeviceTensor& weight, const DeviceTensor& bias, float eps) {
    const char* op = "layer_norm";
    detail::check_input(x, op);
    ERRSEG_CHECK(x.dim() >= 1, op, ": input must have at least one dimension");
    const int64_t D = x.size(-1), rows = D ? x.numel() / D : 0;
    ERRSEG_CHECK(D < (int64_t(1) << 31), op, ": last dimension too large");
    DeviceTensor out = DeviceTensor::empty(x.shape(), x.dtype(), x.stream());
    detail::dispatch_float(x.dtype(), op, [&](auto tag) {
        using T = decltype(tag);
        kernels::launch_layer_norm<T>(detail::cptr<T>(x), detail::mptr<T>(out),
                                      detail::optional_param<T>(weight, D, x.dtype(), op, "weight"),
                                      detail::optional_param<T>(bias, D, x.dtype(), op, "bias"), rows, D, eps,
                                      x.stream());
    });
    ERRSEG_CUDA_CHECK_LAUNCH();
    return out;
}

DeviceTensor layer_norm2d(const DeviceTensor& x, const DeviceTensor& weight, const DeviceTensor& bias, float eps) {
    const char* op = "layer_norm2d";
    detail::check_input(x, op);
    detail::check_dims(x, 4, op, "input", "[N, C, H, W]");
    const int64_t N = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3);
    DeviceTensor out = DeviceTensor::empty(x.shape(), x.dtype(), x.stream());
    detail::dispatch_float(x.dtype(), op, [&](auto tag) {
        using T = decltype(tag);
        kernels::launch_layer_norm2d<T>(detail::cptr<T>(x), detail::mptr<T>(out),
                                        detail::optional_param<T>(weight, C, x.dtype(), op, "weight"),
                                        detail::optional_param<T>(bias, C, x.dtype(), op, "bias"), N, C, HW, eps,
                                        x.stream());
    });
    ERRSEG_CUDA_CHECK_LAUNCH();
    return out;
}

DeviceTensor group_norm(const DeviceTensor& x, int groups, const DeviceTensor& weight, const DeviceTensor& bias,
                        float eps, Activation act, const DeviceTensor& residual) {
    const char* op = "group_norm";
    detail::check_input(x, op);
    ERRSEG_CHECK(x.dim() >= 2, op, ": input must be [N, C, ...], got ", shape_str(x.shape()));
    const int64_t N = x.size(0), C = x.size(1), HW = C && N ? x.numel() / (N * C) : 0;
    ERRSEG_CHECK(groups > 0 && C % groups == 0, op, ": ", C, " channels not divisible into ", groups, " groups");
    DeviceTensor out = DeviceTensor::empty(x.shape(), x.dtype(), x.stream());
    const detail::Residual res = detail::optional_residual(residual, x.shape(), x.dtype(), op);
    detail::dispatch_float(x.dtype(), op, [&](auto tag) {
        using T = decltype(tag);
        kernels::launch_group_norm<T>(detail::cptr<T>(x), detail::mptr<T>(out),
                                      detail::optional_param<T>(weight, C, x.dtype(), op, "weight"),
                                      detail::optional_param<T>(bias, C, x.dtype(), op, "bias"),
                                      kernels::ResidualArg<T>{res.as<T>(), res.period},
                                      N, C, HW, groups, eps, act, x.stream());
    });
    ERRSEG_CUDA_CHECK_LAUNCH();
    return out;
}

DeviceTensor l2_normalize(const DeviceTensor& x, float eps) {
    const char* op = "l2_normalize";
    detail::check_input(x, op);
    ERRSEG_CHECK(x.dim() >= 1, op, ": input must have at least one dimension");
    const int64_t D = x.size(-1), rows = D ? x.numel() / D : 0;
    DeviceTensor out = DeviceTensor::empty(x.shape(), x.dtype(), x.stream());
    detail::dispatch_float(x.dtype(), op, [&](auto tag) {
        using T = decltype(tag);
        kernels::launch_l2_normalize<T>(detail::cptr<T>(x), detail::mptr<T>(out), rows, D, eps, x.stream());
    });
    ERRSEG_CUDA_CHECK_LAUNCH();
    return out;
}

}  // namespace errseg::cuda::ops
