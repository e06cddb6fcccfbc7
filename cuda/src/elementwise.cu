// Facade: activations, scale, clamp, broadcasting add/sub/mul/div.
#include "common.cuh"
#include "kernels/elementwise.cuh"

namespace errseg::cuda::ops {

namespace {

DeviceTensor unary(const DeviceTensor& x, kernels::UnaryOp op, const char* name) {
    detail::check_input(x, name);
    DeviceTensor out = DeviceTensor::empty(x.shape(), x.dtype(), x.stream());
    detail::dispatch_float(x.dtype(), name, [&](auto tag) {
        using T = decltype(tag);
        kernels::launch_unary<T>(detail::cptr<T>(x), detail::mptr<T>(out), x.numel(), op, x.stream());
    });
    ERRSEG_CUDA_CHECK_LAUNCH();
    return out;
}

kernels::UnaryOp act_op(Activation a) {
    kernels::UnaryOp op;
    op.kind = kernels::UnaryKind::Activation;
    op.act = a;
    return op;
}

DeviceTensor binary(const DeviceTensor& a, const DeviceTensor& b, kernels::BinaryKind kind, const char* name) {
    detail::check_input(a, name, "a");
    detail::check_input(b, name, "b");
    detail::check_same_dtype(b, a.dtype(), name, "b");
    // numpy broadcasting: align shapes on the right; sizes must match or be 1.
    const int64_t nd = std::max(a.dim(), b.dim());
    Shape out_shape(size_t(nd), 1);
    for (int64_t i = 0; i < nd; ++i) {
        const int64_t da = i < nd - a.dim() ? 1 : a.shape()[size_t(i - (nd - a.dim()))];
        const int64_t db = i < nd - b.dim() ? 1 : b.shape()[size_t(i - (nd - b.dim()))];
        ERRSEG_CHECK(da == db || da == 1 || db == 1, name, ": shapes ", shape_str(a.shape()), " and ",
                     shape_str(b.shape()), " do not broadcast");
        out_shape[size_t(i)] = da == 1 ? db : da;
    }
    DeviceTensor out = DeviceTensor::empty(out_shape, a.dtype(), a.stream());
    const bool same = a.shape() == b.shape();
    kernels::BroadcastIndex ix;
    if (!same) {
        ERRSEG_CHECK(nd <= kernels::kMaxDims, name, ": more than ", kernels::kMaxDims, " dimensions");
        ix.ndim = int(nd);
        auto fill_strides = [&](const Shape& s, int64_t* st) {
            int64_t acc = 1;
            for (int64_t i = nd - 1; i >= 0; --i) {
                const int64_t k = i - (nd - int64_t(s.size()));
                const int64_t d = k >= 0 ? s[size_t(k)] : 1;
                st[i] = d == 1 ? 0 : acc;
                acc *= d;
            }
        };
        for (int64_t i = 0; i < nd; ++i) ix.size[i] = out_shape[size_t(i)];
        fill_strides(a.shape(), ix.stride_a);
        fill_strides(b.shape(), ix.stride_b);
    }
    detail::dispatch_float(a.dtype(), name, [&](auto tag) {
        using T = decltype(tag);
        kernels::launch_binary<T>(detail::cptr<T>(a), detail::cptr<T>(b), detail::mptr<T>(out), out.numel(),
                                  same ? nullptr : &ix, kind, a.stream());
    });
    ERRSEG_CUDA_CHECK_LAUNCH();
    return out;
}

}  // namespace

DeviceTensor activation(const DeviceTensor& x, Activation act) { return unary(x, act_op(act), "activation"); }
DeviceTensor gelu(const DeviceTensor& x) { return unary(x, act_op(Activation::Gelu), "gelu"); }
DeviceTensor quick_gelu(const DeviceTensor& x) { return unary(x, act_op(Activation::QuickGelu), "quick_gelu"); }
DeviceTensor relu(const DeviceTensor& x) { return unary(x, act_op(Activation::Relu), "relu"); }
DeviceTensor relu6(const DeviceTensor& x) { return unary(x, act_op(Activation::Relu6), "relu6"); }
DeviceTensor sigmoid(const DeviceTensor& x) { return unary(x, act_op(Activation::Sigmoid), "sigmoid"); }

DeviceTensor clamp(const DeviceTensor& x, float lo, float hi) {
    kernels::UnaryOp op;
    op.kind = kernels::UnaryKind::Clamp;
    op.a = lo;
    op.b = hi;
    return unary(x, op, "clamp");
}

DeviceTensor scale(const DeviceTensor& x, float s) {
    kernels::UnaryOp op;
    op.kind = kernels::UnaryKind::Scale;
    op.a = s;
    return unary(x, op, "scale");
}

DeviceTensor add(const DeviceTensor& a, const DeviceTensor& b) { return binary(a, b, kernels::BinaryKind::Add, "add"); }
DeviceTensor sub(const DeviceTensor& a, const DeviceTensor& b) { return binary(a, b, kernels::BinaryKind::Sub, "sub"); }
DeviceTensor mul(const DeviceTensor& a, const DeviceTensor& b) { return binary(a, b, kernels::BinaryKind::Mul, "mul"); }
DeviceTensor div(const DeviceTensor& a, const DeviceTensor& b) { return binary(a, b, kernels::BinaryKind::Div, "div"); }

}  // namespace errseg::cuda::ops
