// Facade: softmax over any dimension.
#include "common.cuh"
#include "kernels/softmax.cuh"

namespace errseg::cuda::ops {

DeviceTensor softmax(const DeviceTensor& x, int64_t dim) {
    const char* op = "softmax";
    detail::check_input(x, op);
    DeviceTensor out = DeviceTensor::empty(x.shape(), x.dtype(), x.stream());
    if (x.numel() == 0) return out;
    const int64_t d = x.wrap_dim(dim);
    const DimSplit s = split_at(x.shape(), d);
    const int64_t D = s.D, outer = s.outer, inner = s.inner;
    ERRSEG_CHECK(D < (int64_t(1) << 31), op, ": dimension too large");
    detail::dispatch_float(x.dtype(), op, [&](auto tag) {
        using T = decltype(tag);
        kernels::launch_softmax<T>(detail::cptr<T>(x), detail::mptr<T>(out), outer, D, inner, x.stream());
    });
    ERRSEG_CUDA_CHECK_LAUNCH();
    return out;
}

}  // namespace errseg::cuda::ops
