// The CPU backend of the model code.
//
// Model classes (CLIP towers, ERR-Seg) are templates over a Backend: a struct of static
// functions with PyTorch semantics on its own tensor type. They are written once and run on
// CpuBackend (here: errseg::ops on host tensors) or errseg::cuda::CudaBackend (our kernels on
// device tensors, include/errseg/cuda/cuda_backend.hpp). The names without a backend
// (ConvNeXt, ErrSegModel, ...) are the CPU instantiations.
//
// What a Backend provides: a tensor type `Tensor` (dim / size / shape / reshape / defined), a
// `kName`, and every op of ERRSEG_BACKEND_OPS (backend_ops.hpp: the one list, with signatures);
// BackendConformance<B> fails the build when one is missing.
// Layout functions may return views on the CPU (no copy) and dense copies on the GPU; model code
// never relies on either.
#pragma once
#include <cstdint>
#include <vector>

#include "../core.hpp"
#include "../ops.hpp"
#include "backend_ops.hpp"

namespace errseg {

struct CpuBackend {
    using Tensor = errseg::Tensor;
    static constexpr const char* kName = "cpu";

    // Host tensors are used where they are (weights stay in the file's memory map).
    static Tensor upload(const errseg::Tensor& host) { return host; }
    static errseg::Tensor download(const Tensor& t) { return t.to_f32(); }

    // ---- layout ----
    static Tensor permute(const Tensor& x, const std::vector<int64_t>& order) { return x.permute(order); }
    static Tensor contiguous(const Tensor& x) { return x.contiguous(); }
    // Always a fresh dense tensor (safe to update in place).
    static Tensor permute_copy(const Tensor& x, const std::vector<int64_t>& order) {
        return x.permute(order).clone();
    }
    static Tensor slice0(const Tensor& x, int64_t begin, int64_t end) { return x.slice(0, begin, end); }
    static Tensor select0(const Tensor& x, int64_t i) { return x.select(0, i); }
    static Tensor concat(const std::vector<Tensor>& xs, int64_t dim) { return ops::concat(xs, dim); }
    static Tensor pad2d(const Tensor& x, int left, int right, int top, int bottom, float value = 0.f) {
        return ops::pad2d(x, left, right, top, bottom, value);
    }
    static Tensor index_select(const Tensor& x, int64_t dim, const std::vector<int64_t>& idx) {
        return ops::index_select(x, dim, idx);
    }

    // ---- products and convolutions ----
    static Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b = Tensor()) {
        return ops::linear(x, w, b);
    }
    static Tensor matmul(const Tensor& a, const Tensor& b, bool trans_b = false) {
        return ops::matmul(a, b, trans_b);
    }
    static Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const ops::Conv2dParams& p) {
        return ops::conv2d(x, w, b, p);
    }
    // Depthwise, stride 1, channels-last: x [N, H, W, C] -> [N, Ho, Wo, C].
    static Tensor conv2d_depthwise_nhwc(const Tensor& x, const Tensor& w, const Tensor& b, int pad_h, int pad_w) {
        return ops::conv2d_depthwise_nhwc(x, w, b, pad_h, pad_w);
    }
    static Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b,
                                   const ops::ConvTranspose2dParams& p) {
        return ops::conv_transpose2d(x, w, b, p);
    }

    // ---- normalisations ----
    static Tensor layer_norm(const Tensor& x, const Tensor& w, const Tensor& b, float eps) {
        return ops::layer_norm(x, w, b, eps);
    }
    static Tensor layer_norm2d(const Tensor& x, const Tensor& w, const Tensor& b, float eps) {
        return ops::layer_norm2d(x, w, b, eps);
    }
    static Tensor group_norm(const Tensor& x, int groups, const Tensor& w, const Tensor& b, float eps) {
        return ops::group_norm(x, groups, w, b, eps);
    }
    static Tensor l2_normalize(const Tensor& x, float eps) { return ops::l2_normalize(x, eps); }
    static Tensor normalize_rows(const Tensor& x) { return ops::normalize_rows(x); }

    // ---- elementwise ----
    static Tensor gelu(const Tensor& x) { return ops::gelu(x); }
    static Tensor quick_gelu(const Tensor& x) { return ops::quick_gelu(x); }
    static Tensor relu(const Tensor& x) { return ops::relu(x); }
    static Tensor relu6(const Tensor& x) { return ops::relu6(x); }
    static Tensor clamp(const Tensor& x, float lo, float hi) { return ops::clamp(x, lo, hi); }
    static Tensor scale(const Tensor& x, float s) { return ops::scale(x, s); }
    static Tensor add(const Tensor& a, const Tensor& b) { return ops::add(a, b); }
    static Tensor mul(const Tensor& a, const Tensor& b) { return ops::mul(a, b); }
    // a += b (a must own its storage: a fresh op output, not a view of a weight).
    static void add_(Tensor& a, const Tensor& b) { ops::add_(a, b); }

    static Tensor mean(const Tensor& x, int64_t dim) { return ops::mean(x, dim); }

    // ---- resampling ----
    static Tensor resize_bilinear(const Tensor& x, int64_t h, int64_t w, bool align_corners) {
        return ops::resize_bilinear(x, h, w, align_corners);
    }
    static Tensor avg_pool2d(const Tensor& x, int kernel, int stride) { return ops::avg_pool2d(x, kernel, stride); }

    // ---- attention ----
    // Token layout: q [B, Lq, H*D], k, v [B, Lk, H*D], head h = channels [h*D, (h+1)*D)
    // -> [B, Lq, H*D]. The head split is a strided view here (no copies).
    static Tensor attention_tokens(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads,
                                   float scale) {
        const int64_t B = q.size(0), Lq = q.size(1), Lk = k.size(1), C = q.size(2), d = C / heads;
        const Tensor qh = q.reshape({B, Lq, heads, d}).permute({0, 2, 1, 3});
        const Tensor kh = k.reshape({B, Lk, heads, d}).permute({0, 2, 1, 3});
        const Tensor vh = v.reshape({B, Lk, heads, d}).permute({0, 2, 1, 3});
        return ops::attention(qh, kh, vh, /*causal=*/false, scale)  // [B, heads, Lq, d]
            .permute({0, 2, 1, 3})
            .contiguous()
            .reshape({B, Lq, C});
    }
    static Tensor multi_head_self_attention(const Tensor& x, const Tensor& in_w, const Tensor& in_b,
                                            const Tensor& out_w, const Tensor& out_b, int heads, bool causal) {
        return ops::multi_head_self_attention(x, in_w, in_b, out_w, out_b, heads, causal);
    }
};
static_assert(BackendConformance<CpuBackend>::value);

}  // namespace errseg
