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

    // concat, pad2d, linear, matmul, conv2d, conv_transpose2d, the norms, the activations,
    // clamp, scale, add, mul, mean, resize_bilinear, avg_pool2d, multi_head_self_attention:
    // errseg::ops of the same name (backend_ops.hpp).
    ERRSEG_FORWARD_BACKEND_OPS()

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
    static Tensor index_select(const Tensor& x, int64_t dim, const std::vector<int64_t>& idx) {
        return ops::index_select(x, dim, idx);
    }

    // ---- convolutions, normalisations, elementwise, attention ----
    // Depthwise, stride 1, channels-last: x [N, H, W, C] -> [N, Ho, Wo, C].
    static Tensor conv2d_depthwise_nhwc(const Tensor& x, const Tensor& w, const Tensor& b, int pad_h, int pad_w) {
        return ops::conv2d_depthwise_nhwc(x, w, b, pad_h, pad_w);
    }
    static Tensor normalize_rows(const Tensor& x) { return ops::normalize_rows(x); }
    // a += b (a must own its storage: a fresh op output, not a view of a weight).
    static void add_(Tensor& a, const Tensor& b) { ops::add_(a, b); }
    // Token layout: q [B, Lq, H*D], k, v [B, Lk, H*D], head h = channels [h*D, (h+1)*D)
    // -> [B, Lq, H*D].
    static Tensor attention_tokens(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads,
                                   float scale) {
        return ops::attention_tokens(q, k, v, heads, scale);
    }
};
static_assert(BackendConformance<CpuBackend>::value);

}  // namespace errseg
