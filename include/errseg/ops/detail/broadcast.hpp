// Numpy-style broadcasting for binary elementwise ops: any strides in, contiguous out.
#pragma once
#include "common.hpp"
#include "isa_kernels.hpp"

namespace errseg::ops::detail {

inline Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
    const size_t n = std::max(a.size(), b.size());
    Shape out(n);
    for (size_t i = 0; i < n; ++i) {
        int64_t da = i + a.size() >= n ? a[i + a.size() - n] : 1;
        int64_t db = i + b.size() >= n ? b[i + b.size() - n] : 1;
        ERRSEG_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ",
                     shape_str(b), " do not broadcast");
        out[i] = da == 1 ? db : da;
    }
    return out;
}

// Strides of t viewed with shape `out` (0 along broadcast dims).
inline Shape broadcast_strides(const Tensor& t, const Shape& out) {
    Shape st(out.size(), 0);
    const size_t off = out.size() - size_t(t.dim());
    for (size_t i = 0; i < size_t(t.dim()); ++i)
        if (t.shape()[i] != 1) st[i + off] = t.strides()[i];
    return st;
}

// out[i] = a[i] op b[i] over the broadcast shape `oshape`; out is contiguous.
inline void binary_loop(const float* a, Shape sa, const float* b, Shape sb, const Shape& oshape, float* out,
                        BinaryOp op) {
    // Collapse: drop size-1 dims, merge neighbours that are contiguous for both operands.
    Shape dims, da, db;
    for (size_t i = 0; i < oshape.size(); ++i) {
        if (oshape[i] == 1) continue;
        if (!dims.empty() && da.back() == sa[i] * oshape[i] && db.back() == sb[i] * oshape[i]) {
            dims.back() *= oshape[i];
            da.back() = sa[i];
            db.back() = sb[i];
        } else {
            dims.push_back(oshape[i]);
            da.push_back(sa[i]);
            db.push_back(sb[i]);
        }
    }
    if (dims.empty()) {  // a single element
        dims = {1};
        da = {0};
        db = {0};
    }
    const size_t nd = dims.size();
    const int64_t inner = dims.back(), ia = da.back(), ib = db.back();
    const int64_t rows = shape_numel(dims) / inner;
    parallel_for(rows, min_chunk_for(inner), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            int64_t oa = 0, ob = 0, rem = r;
            for (size_t i = nd - 1; i-- > 0;) {
                int64_t k = rem % dims[i];
                rem /= dims[i];
                oa += k * da[i];
                ob += k * db[i];
            }
            const float* pa = a + oa;
            const float* pb = b + ob;
            float* po = out + r * inner;
            on_cpu_isa([&](auto isa) { binary_row(isa, op, pa, ia, pb, ib, po, inner); });
        }
    });
}

// An operand covering the whole output but laid out transposed (a permuted view, e.g. the
// NHWC branch added back to an NCHW residual) is first copied dense by the tiled transpose of
// Tensor::clone: the strided inner loop of binary_loop would touch a cache line per element.
inline Tensor dense_if_transposed(const Tensor& t, const Shape& oshape) {
    if (t.is_contiguous() || t.shape() != oshape || t.strides().back() == 1) return t;
    return t.clone();
}

// Shared driver of add/sub/mul/div.
inline Tensor binary_op(const Tensor& a_in, const Tensor& b_in, const char* op, BinaryOp f) {
    ERRSEG_CHECK(a_in.defined() && b_in.defined(), op, ": undefined input");
    Tensor a = a_in.dtype() == DType::F32 ? a_in : f32_contig(a_in, op, "a");
    Tensor b = b_in.dtype() == DType::F32 ? b_in : f32_contig(b_in, op, "b");
    const Shape oshape = broadcast_shapes(a.shape(), b.shape(), op);
    a = dense_if_transposed(a, oshape);
    b = dense_if_transposed(b, oshape);
    Tensor out = Tensor::empty(oshape);
    if (out.numel() == 0) return out;
    binary_loop(cdata(a), broadcast_strides(a, oshape), cdata(b), broadcast_strides(b, oshape), oshape,
                out.data<float>(), f);
    return out;
}

// In place: a = a f b with b broadcast to a's shape (a contiguous, writable, float32).
inline void binary_op_inplace(Tensor& a, const Tensor& b_in, const char* op, BinaryOp f) {
    ERRSEG_CHECK(a.defined() && b_in.defined(), op, ": undefined input");
    ERRSEG_CHECK(a.dtype() == DType::F32 && a.is_contiguous(), op,
                 ": in-place target must be a contiguous float32 tensor, got ", dtype_name(a.dtype()),
                 " ", shape_str(a.shape()));
    Tensor b = b_in.dtype() == DType::F32 ? b_in : f32_contig(b_in, op, "b");
    const Shape oshape = broadcast_shapes(a.shape(), b.shape(), op);
    ERRSEG_CHECK(oshape == a.shape(), op, ": cannot broadcast ", shape_str(b.shape()), " into the in-place target ",
                 shape_str(a.shape()));
    if (a.numel() == 0) return;
    b = dense_if_transposed(b, oshape);
    float* pa = a.data<float>();
    binary_loop(pa, contiguous_strides(oshape), cdata(b), broadcast_strides(b, oshape), oshape, pa, f);
}

// out = f(x) elementwise via a block function g(const float* in, float* out, int64_t n).
template <class G>
Tensor unary_op(const Tensor& x_in, const char* op, G g) {
    Tensor x = f32_contig(x_in, op);
    Tensor out = Tensor::empty(x.shape());
    const int64_t n = x.numel();
    const float* src = cdata(x);
    float* dst = out.data<float>();
    constexpr int64_t kBlock = 4096;
    const int64_t blocks = (n + kBlock - 1) / kBlock;
    parallel_for(blocks, 4, [&](int64_t b0, int64_t b1) {
        for (int64_t blk = b0; blk < b1; ++blk) {
            int64_t s = blk * kBlock, e = std::min(n, s + kBlock);
            g(src + s, dst + s, e - s);
        }
    });
    return out;
}

}  // namespace errseg::ops::detail
