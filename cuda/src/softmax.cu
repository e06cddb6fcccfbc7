// Facade: softmax over any dimension.
#include "common.cuh"
#include "errseg/cuda/kernels/softmax.cuh"

namespace errseg::cuda::ops {

DeviceTensor softmax(const DeviceTensor& x, int64_t dim) {
    const char* op = "softmax";
    detail::check_input(x, op);
    DeviceTensor out = DeviceTensor::empty(x.shape(), x.dtype(), x.stream());
    if (x.numel() == 0) return out;
    const int64_t d = x.wrap_dim(dim);
    const int64_t D = x.dim() ? x.size(d) : 1;
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < d; ++i) outer *= x.size(i);
    for (int64_t i = d + 1; i < x.dim(); ++i) inner *= x.size(i);
    ERRSEG_CHECK(D < (int64_t(1) << 31), op, ": dimension too large");
    detail::dispatch_float(x.dtype(), op, [&](auto tag) {
        using T = decltype(tag);
        kernels::launch_softmax<T>(detail::cptr<T>(x), detail::mptr<T>(out), outer, D, inner, x.stream());
    });
    ERRSEG_CUDA_CHECK_LAUNCH();
    return out;
}

}  // namespace errseg::cuda::ops
