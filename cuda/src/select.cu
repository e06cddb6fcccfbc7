// Facade: argmax, index_select, CRM class selection, class scatter with fill.
#include "common.cuh"
#include "kernels/argmax.cuh"
#include "kernels/crm.cuh"
#include "kernels/index_select.cuh"
#include "kernels/scatter_classes.cuh"

namespace errseg::cuda::ops {

namespace {
// Calls f(I{}) with I the element type of an I32/I64 index tensor.
template <class F>
void dispatch_index(const DeviceTensor& idx, const char* op, F&& f) {
    ERRSEG_CHECK(idx.defined() && idx.dim() == 1, op, ": indices must be a 1-d tensor, got ",
                 idx.defined() ? shape_str(idx.shape()) : std::string("undefined"));
    if (idx.dtype() == DType::I64) f(int64_t{});
    else if (idx.dtype() == DType::I32) f(int32_t{});
    else fail(op, ": indices must be I64 or I32, got ", dtype_name(idx.dtype()));
}

}  // namespace

DeviceTensor argmax(const DeviceTensor& x, int64_t dim) {
    const char* op = "argmax";
    detail::check_input(x, op);
    ERRSEG_CHECK(x.dim() >= 1, op, ": input must have at least one dimension");
    const int64_t d = x.wrap_dim(dim), D = x.size(d);
    ERRSEG_CHECK(D >= 1, op, ": empty dimension ", d, " in ", shape_str(x.shape()));
    const DimSplit s = split_at(x.shape(), d);
    const int64_t outer = s.outer, inner = s.inner;
    DeviceTensor out = DeviceTensor::empty(s.reduced, DType::I64, x.stream());
    detail::dispatch_float(x.dtype(), op, [&](auto tag) {
        using T = decltype(tag);
        kernels::launch_argmax<T>(detail::cptr<T>(x), detail::mptr<int64_t>(out), outer, D, inner, x.stream());
    });
    ERRSEG_CUDA_CHECK_LAUNCH();
    return out;
}

DeviceTensor index_select(const DeviceTensor& x, int64_t dim, const DeviceTensor& idx) {
    const char* op = "index_select";
    ERRSEG_CHECK(x.defined() && x.dim() >= 1, op, ": input must be a defined tensor with at least one dimension");
    const int64_t d = x.wrap_dim(dim), D = x.size(d), J = idx.defined() ? idx.numel() : 0;
    const DimSplit s = split_at(x.shape(), d);
    const int64_t outer = s.outer, inner = s.inner;
    Shape out_shape = x.shape();
    out_shape[size_t(d)] = J;
    DeviceTensor out = DeviceTensor::empty(out_shape, x.dtype(), x.stream());
    dispatch_index(idx, op, [&](auto itag) {
        using I = decltype(itag);
        dispatch_element_size(dtype_size(x.dtype()), [&](auto etag) {
            using E = decltype(etag);
            kernels::launch_index_select<E, I>(detail::cptr<E>(x), detail::cptr<I>(idx), detail::mptr<E>(out), outer, D,
                                               J, inner, x.stream());
        });
    });
    ERRSEG_CUDA_CHECK_LAUNCH();
    return out;
}

CrmSelection crm_select(const DeviceTensor& cost, int64_t k) {
    const char* op = "crm_select";
    detail::check_input(cost, op, "cost");
    ERRSEG_CHECK(cost.dim() == 3 || cost.dim() == 4, op, ": cost must be [P, T, H, W] or [T, H, W], got ",
                 shape_str(cost.shape()));
    const int64_t P = cost.dim() == 4 ? cost.size(0) : 1;
    const int64_t T = cost.size(-3), HW = cost.size(-2) * cost.size(-1);
    ERRSEG_CHECK(T >= 1 && P >= 1 && T < (int64_t(1) << 30), op, ": empty cost ", shape_str(cost.shape()));
    ERRSEG_CHECK(k >= 1 && k <= T, op, ": cannot select ", k, " of ", T, " classes (use min(K, T))");
    const int64_t r = std::min<int64_t>(T, kernels::kCrmMaxRanks);
    const cudaStream_t s = cost.stream();
    CrmSelection sel;
    sel.indices = DeviceTensor::empty({k}, DType::I64, s);
    sel.counts = DeviceTensor::empty({r, T}, DType::I32, s);
    sel.weights = DeviceTensor::empty({T}, DType::F32, s);
    DeviceTensor selected = DeviceTensor::empty({T}, DType::I32, s);
    detail::dispatch_float(cost.dtype(), op, [&](auto tag) {
        using T_ = decltype(tag);
        kernels::launch_crm_select<T_>(detail::cptr<T_>(cost), int(P), int(T), HW, int(k), detail::mptr<int>(sel.counts),
                                       detail::mptr<float>(sel.weights), detail::mptr<int>(selected),
                                       detail::mptr<int64_t>(sel.indices), s);
    });
    ERRSEG_CUDA_CHECK_LAUNCH();
    return sel;  // `selected` is freed to the stream-ordered cache: safe, later work is ordered after
}

DeviceTensor scatter_classes(const DeviceTensor& src, const DeviceTensor& idx, int64_t num_classes, float fill) {
    const char* op = "scatter_classes";
    detail::check_input(src, op, "src");
    ERRSEG_CHECK(src.dim() >= 2, op, ": src must be [N, K, ...], got ", shape_str(src.shape()));
    const int64_t N = src.size(0), K = src.size(1), HW = N && K ? src.numel() / (N * K) : 0;
    ERRSEG_CHECK(idx.defined() && idx.numel() == K, op, ": ", K, " class maps but ",
                 idx.defined() ? idx.numel() : 0, " indices");
    ERRSEG_CHECK(num_classes >= 1 && num_classes < (int64_t(1) << 30), op, ": bad class count ", num_classes);
    Shape out_shape = src.shape();
    out_shape[1] = num_classes;
    DeviceTensor out = DeviceTensor::empty(out_shape, src.dtype(), src.stream());
    DeviceTensor inv = DeviceTensor::empty({num_classes}, DType::I32, src.stream());
    dispatch_index(idx, op, [&](auto itag) {
        using I = decltype(itag);
        detail::dispatch_float(src.dtype(), op, [&](auto tag) {
            using T = decltype(tag);
            kernels::launch_scatter_classes<T, I>(detail::cptr<T>(src), detail::cptr<I>(idx), detail::mptr<int>(inv),
                                                  detail::mptr<T>(out), int(N), int(K), int(num_classes), HW, fill,
                                                  src.stream());
        });
    });
    ERRSEG_CUDA_CHECK_LAUNCH();
    return out;
}

}  // namespace errseg::cuda::ops
