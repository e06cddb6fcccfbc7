// Facade: mean over one dimension (ConvNeXt's pooled image embedding).
#include "common.cuh"
#include "kernels/mean.cuh"

namespace errseg::cuda::ops {

DeviceTensor mean(const DeviceTensor& x, int64_t dim) {
    const char* op = "mean";
    detail::check_input(x, op);
    ERRSEG_CHECK(x.dim() >= 1, op, ": input must have at least one dimension");
    const DimSplit s = split_at(x.shape(), x.wrap_dim(dim));
    DeviceTensor out = DeviceTensor::empty(s.reduced, x.dtype(), x.stream());
    if (out.numel() == 0) return out;
    detail::dispatch_float(x.dtype(), op, [&](auto tag) {
        using T = decltype(tag);
        kernels::launch_mean<T>(detail::cptr<T>(x), detail::mptr<T>(out), s.outer, s.D, s.inner, x.stream());
    });
    ERRSEG_CUDA_CHECK_LAUNCH();
    return out;
}

}  // namespace errseg::cuda::ops
