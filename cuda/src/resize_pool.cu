// Facade: bilinear resize and average pooling.
#include "common.cuh"
#include "kernels/avg_pool.cuh"
#include "kernels/resize_bilinear.cuh"

namespace errseg::cuda::ops {

DeviceTensor resize_bilinear(const DeviceTensor& x, int64_t out_h, int64_t out_w, bool align_corners) {
    const char* op = "resize_bilinear";
    detail::check_input(x, op);
    detail::check_dims(x, 4, op, "input", "[N, C, H, W]");
    const int64_t H = x.size(2), W = x.size(3);
    ERRSEG_CHECK(out_h >= 1 && out_w >= 1 && H >= 1 && W >= 1, op, ": cannot resize ", shape_str(x.shape()), " to ",
                 out_h, "x", out_w);
    DeviceTensor out = DeviceTensor::empty({x.size(0), x.size(1), out_h, out_w}, x.dtype(), x.stream());
    detail::dispatch_float(x.dtype(), op, [&](auto tag) {
        using T = decltype(tag);
        kernels::launch_resize_bilinear<T>(detail::cptr<T>(x), detail::mptr<T>(out), x.size(0) * x.size(1), int(H),
                                           int(W), int(out_h), int(out_w), align_corners, x.stream());
    });
    ERRSEG_CUDA_CHECK_LAUNCH();
    return out;
}

DeviceTensor avg_pool2d(const DeviceTensor& x, int kernel, int stride) {
    const char* op = "avg_pool2d";
    detail::check_input(x, op);
    detail::check_dims(x, 4, op, "input", "[N, C, H, W]");
    const int64_t H = x.size(2), W = x.size(3);
    ERRSEG_CHECK(kernel >= 1 && stride >= 1 && H >= kernel && W >= kernel, op, ": kernel ", kernel, " stride ", stride,
                 " does not fit ", shape_str(x.shape()));
    const int64_t Ho = errseg::ops::pool_output_size(H, kernel, stride), Wo = errseg::ops::pool_output_size(W, kernel, stride);
    DeviceTensor out = DeviceTensor::empty({x.size(0), x.size(1), Ho, Wo}, x.dtype(), x.stream());
    detail::dispatch_float(x.dtype(), op, [&](auto tag) {
        using T = decltype(tag);
        kernels::launch_avg_pool2d<T>(detail::cptr<T>(x), detail::mptr<T>(out), x.size(0) * x.size(1), int(H), int(W),
                                      int(Ho), int(Wo), kernel, stride, x.stream());
    });
    ERRSEG_CUDA_CHECK_LAUNCH();
    return out;
}

}  // namespace errseg::cuda::ops
