// Facade: cast, permute, concat, pad2d.
#include <numeric>

#include "common.cuh"
#include "kernels/elementwise.cuh"
#include "kernels/pad2d.cuh"
#include "kernels/strided_copy.cuh"

namespace errseg::cuda::ops {

namespace {
void copy(const DeviceTensor& src, void* dst, const kernels::CopyIndex& ix, int64_t n, cudaStream_t s) {
    dispatch_element_size(dtype_size(src.dtype()), [&](auto tag) {
        using E = decltype(tag);
        kernels::launch_strided_copy<E>(static_cast<const E*>(src.data()), static_cast<E*>(dst), n, ix, s);
    });
    ERRSEG_CUDA_CHECK_LAUNCH();
}
}  // namespace

DeviceTensor cast(const DeviceTensor& x, DType to) {
    const char* op = "cast";
    detail::check_input(x, op);
    ERRSEG_CHECK(is_float_dtype(to), op, ": target must be F32, F16 or BF16, got ", dtype_name(to));
    if (to == x.dtype()) return x;
    DeviceTensor out = DeviceTensor::empty(x.shape(), to, x.stream());
    detail::dispatch_float(x.dtype(), op, [&](auto from_tag) {
        using From = decltype(from_tag);
        detail::dispatch_float(to, op, [&](auto to_tag) {
            using To = decltype(to_tag);
            kernels::launch_cast<From, To>(detail::cptr<From>(x), detail::mptr<To>(out), x.numel(), x.stream());
        });
    });
    ERRSEG_CUDA_CHECK_LAUNCH();
    return out;
}

DeviceTensor permute(const DeviceTensor& x, const std::vector<int64_t>& order) {
    const char* op = "permute";
    ERRSEG_CHECK(x.defined(), op, ": undefined input");
    const int64_t nd = x.dim();
    ERRSEG_CHECK(int64_t(order.size()) == nd, op, ": order has ", order.size(), " entries for a ", nd, "-d tensor");
    ERRSEG_CHECK(nd <= kernels::kCopyMaxDims, op, ": more than ", kernels::kCopyMaxDims, " dimensions");
    const Shape in_strides = contiguous_strides(x.shape());
    Shape out_shape(static_cast<size_t>(nd));
    kernels::CopyIndex ix;
    ix.ndim = int(nd);
    std::vector<bool> seen(size_t(nd), false);
    for (int64_t i = 0; i < nd; ++i) {
        const int64_t d = x.wrap_dim(order[size_t(i)]);
        ERRSEG_CHECK(!seen[size_t(d)], op, ": repeated dimension ", d);
        seen[size_t(d)] = true;
        out_shape[size_t(i)] = x.size(d);
        ix.size[i] = x.size(d);
        ix.src_stride[i] = in_strides[size_t(d)];
    }
    const Shape out_strides = contiguous_strides(out_shape);
    for (int64_t i = 0; i < nd; ++i) ix.dst_stride[i] = out_strides[size_t(i)];
    DeviceTensor out = DeviceTensor::empty(out_shape, x.dtype(), x.stream());
    copy(x, out.data(), ix, x.numel(), x.stream());
    return out;
}

DeviceTensor concat(const std::vector<DeviceTensor>& xs, int64_t dim) {
    const char* op = "concat";
    ERRSEG_CHECK(!xs.empty() && xs[0].defined(), op, ": no inputs");
    const DeviceTensor& first = xs[0];
    const int64_t d = first.wrap_dim(dim), nd = first.dim();
    ERRSEG_CHECK(nd <= kernels::kCopyMaxDims, op, ": more than ", kernels::kCopyMaxDims, " dimensions");
    Shape out_shape = first.shape();
    out_shape[size_t(d)] = 0;
    for (const DeviceTensor& t : xs) {
        ERRSEG_CHECK(t.defined() && t.dim() == nd && t.dtype() == first.dtype(), op,
                     ": inputs must share rank and dtype");
        for (int64_t i = 0; i < nd; ++i)
            ERRSEG_CHECK(i == d || t.size(i) == first.size(i), op, ": shapes ", shape_str(first.shape()), " and ",
                         shape_str(t.shape()), " differ outside dim ", d);
        out_shape[size_t(d)] += t.size(d);
    }
    DeviceTensor out = DeviceTensor::empty(out_shape, first.dtype(), first.stream());
    const Shape out_strides = contiguous_strides(out_shape);
    int64_t offset = 0;  // along d
    for (const DeviceTensor& t : xs) {
        const Shape st = contiguous_strides(t.shape());
        kernels::CopyIndex ix;
        ix.ndim = int(nd);
        for (int64_t i = 0; i < nd; ++i) {
            ix.size[i] = t.size(i);
            ix.src_stride[i] = st[size_t(i)];
            ix.dst_stride[i] = out_strides[size_t(i)];
        }
        uint8_t* dst = static_cast<uint8_t*>(out.data()) + size_t(offset * out_strides[size_t(d)]) * dtype_size(t.dtype());
        // Runs on the first input's stream; inputs produced on other streams must be synchronised first.
        if (t.numel()) copy(t, dst, ix, t.numel(), out.stream());
        offset += t.size(d);
    }
    return out;
}

DeviceTensor pad2d(const DeviceTensor& x, int left, int right, int top, int bottom, float value) {
    const char* op = "pad2d";
    detail::check_input(x, op);
    ERRSEG_CHECK(x.dim() >= 2, op, ": input must be [..., H, W], got ", shape_str(x.shape()));
    const int64_t H = x.size(-2), W = x.size(-1);
    const int64_t Ho = H + top + bottom, Wo = W + left + right;
    ERRSEG_CHECK(Ho >= 0 && Wo >= 0, op, ": padding (", left, ", ", right, ", ", top, ", ", bottom,
                 ") leaves nothing of ", shape_str(x.shape()));
    Shape out_shape = x.shape();
    out_shape[out_shape.size() - 2] = Ho;
    out_shape[out_shape.size() - 1] = Wo;
    DeviceTensor out = DeviceTensor::empty(out_shape, x.dtype(), x.stream());
    const int64_t planes = H && W ? x.numel() / (H * W) : shape_numel(Shape(x.shape().begin(), x.shape().end() - 2));
    detail::dispatch_float(x.dtype(), op, [&](auto tag) {
        using T = decltype(tag);
        kernels::launch_pad2d<T>(detail::cptr<T>(x), detail::mptr<T>(out), planes, int(H), int(W), int(Ho), int(Wo), left,
                                 top, value, x.stream());
    });
    ERRSEG_CUDA_CHECK_LAUNCH();
    return out;
}

}  // namespace errseg::cuda::ops
