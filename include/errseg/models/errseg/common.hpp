// Small building blocks shared by the ERR-Seg head modules: weight loading with shape checks,
// token <-> feature-map layout changes, the "concatenate features and guidance, then project"
// split, and class-chunked evaluation.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <utility>
#include <string>
#include <type_traits>
#include <vector>

#include "../../core.hpp"
#include "../../io/weights.hpp"
#include "../../backend/cpu_backend.hpp"
#include "../../ops.hpp"

namespace errseg::models::errseg_detail {

// A conv / linear weight with its bias, as stored in the model file, on backend B.
template <class B>
struct Affine {
    typename B::Tensor weight;
    typename B::Tensor bias;  // undefined = no bias
};

// The host tensors of an affine map (weights are prepared on the host, then uploaded once).
struct HostAffine {
    Tensor weight;
    Tensor bias;
};

inline HostAffine load_host_affine(const Weights& w, const std::string& name, const Shape& weight_shape,
                                   bool has_bias = true) {
    HostAffine a;
    a.weight = w.get(name + ".weight", weight_shape);
    if (has_bias) a.bias = w.get(name + ".bias", {weight_shape[0]});
    return a;
}

template <class B>
Affine<B> upload(const HostAffine& a) {
    Affine<B> d;
    d.weight = B::upload(a.weight);
    if (a.bias.defined()) d.bias = B::upload(a.bias);
    return d;
}

template <class B>
Affine<B> load_affine(const Weights& w, const std::string& name, const Shape& weight_shape,
                      bool has_bias = true) {
    return upload<B>(load_host_affine(w, name, weight_shape, has_bias));
}

// An affine map whose input is the concatenation [features (first `split` channels), guidance]
// along dim 1 of its weight (linear [out, in] or conv [out, in, kh, kw]). By linearity
//   W·[x; g] + b = W_x·x + (W_g·g + b),
// so the guidance half, identical for every class, is computed once and broadcast (spec §6.8).
// This changes only the floating-point summation order.
template <class B>
struct SplitAffine {
    typename B::Tensor feature_weight;   // W_x: input channels [0, split)
    typename B::Tensor guidance_weight;  // W_g: input channels [split, in)
    typename B::Tensor bias;
};

template <class B>
SplitAffine<B> split_input_channels(const HostAffine& a, int64_t split) {
    const int64_t in = a.weight.size(1);
    ERRSEG_CHECK(split > 0 && split < in, "cannot split ", in, " input channels at ", split);
    SplitAffine<B> s;
    s.feature_weight = B::upload(a.weight.slice(1, 0, split).clone());
    s.guidance_weight = B::upload(a.weight.slice(1, split, in).clone());
    if (a.bias.defined()) s.bias = B::upload(a.bias);
    return s;
}

inline ops::Conv2dParams conv_params(int stride, int pad, int groups = 1) {
    ops::Conv2dParams p;
    p.stride_h = p.stride_w = stride;
    p.pad_h = p.pad_w = pad;
    p.groups = groups;
    return p;
}

// Conv with PyTorch weight layout [O, C/groups, k, k], "same" padding for odd k, and the fused
// activation of the conv op.
template <class B>
typename B::Tensor conv(const typename B::Tensor& x, const Affine<B>& a, Activation act = Activation::None) {
    const int pad = int(a.weight.size(-1) / 2);
    return B::conv2d(x, a.weight, a.bias, conv_params(1, pad), act);
}

// nn.Linear with the fused epilogue of the linear op: act(x W^T + b) + residual.
template <class B>
typename B::Tensor linear(const typename B::Tensor& x, const Affine<B>& a, Activation act = Activation::None,
                          const typename B::Tensor& residual = typename B::Tensor()) {
    return B::linear(x, a.weight, a.bias, act, residual);
}

// The fusion blocks' gated MLP: act3(fc3(act1(fc1(x)) * fc2(x))) + residual, as one op.
template <class B>
typename B::Tensor gated_mlp(const typename B::Tensor& x, const Affine<B>& fc1, Activation act1, const Affine<B>& fc2,
                             const Affine<B>& fc3, Activation act3 = Activation::None,
                             const typename B::Tensor& residual = typename B::Tensor()) {
    return B::gated_mlp(x, fc1.weight, fc1.bias, act1, fc2.weight, fc2.bias, fc3.weight, fc3.bias, act3, residual);
}

// Feature maps [N, C, H, W] <-> token sequences [N, H*W, C] (row-major positions).
// map_to_tokens always returns a fresh dense tensor, safe to update in place (residual adds).
template <class B>
typename B::Tensor map_to_tokens(const typename B::Tensor& x) {
    ERRSEG_CHECK(x.dim() == 4, "expected a [N, C, H, W] map, got ", shape_str(x.shape()));
    const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    return B::permute_copy(x, {0, 2, 3, 1}).reshape({N, H * W, C});
}
template <class B>
typename B::Tensor tokens_to_map(const typename B::Tensor& t, int64_t H, int64_t W) {
    ERRSEG_CHECK(t.dim() == 3 && t.size(1) == H * W, "expected [N, ", H * W, ", C] tokens, got ",
                 shape_str(t.shape()));
    const int64_t N = t.size(0), C = t.size(2);
    return B::contiguous(B::permute(B::contiguous(t).reshape({N, H, W, C}), {0, 3, 1, 2}));
}
// Tokens as an [N, C, H, W] map for ops that take maps: a strided view on the CPU (no copy).
template <class B>
typename B::Tensor tokens_as_map_view(const typename B::Tensor& t, int64_t H, int64_t W) {
    const int64_t N = t.size(0), C = t.size(2);
    return B::permute(B::contiguous(t).reshape({N, H, W, C}), {0, 3, 1, 2});
}

// Copies a chunk's dense float32 result into rows [b, e) of the stacked output `out` (CPU).
inline void store_chunk_rows(Tensor& out, const Tensor& part, int64_t b, int64_t e) {
    Shape expected = out.shape();
    expected[0] = e - b;
    ERRSEG_CHECK(part.shape() == expected, "class chunk result ", shape_str(part.shape()), ", expected ",
                 shape_str(expected));
    const int64_t row = out.numel() / out.size(0);
    std::copy_n(part.data<float>(), size_t(part.numel()), out.data<float>() + b * row);
}

// Runs fn(begin, end) over consecutive ranges of at most `chunk` rows of dim 0 (classes, or
// positions) and stacks the results (each [end - begin, ...]) along dim 0. Per-class modules use
// this to bound the memory of their intermediates when K is large. On the CPU each chunk's result is copied straight into
// the stacked output (slices are writable views), so the results are never held twice (a list of
// parts plus their concatenation); other backends concatenate.
template <class B, class F>
typename B::Tensor map_class_chunks(int64_t K, int64_t chunk, F&& fn) {
    chunk = std::max<int64_t>(1, chunk);
    if (K <= chunk) return B::contiguous(fn(int64_t(0), K));
    const auto check_rows = [](const typename B::Tensor& part, int64_t b, int64_t e) {
        ERRSEG_CHECK(part.size(0) == e - b, "class chunk result has ", part.size(0), " rows, expected ", e - b);
    };
    if constexpr (std::is_same_v<B, CpuBackend>) {
        Tensor out;
        for (int64_t b = 0; b < K; b += chunk) {
            const int64_t e = std::min(K, b + chunk);
            const Tensor part = fn(b, e).to_f32();  // dense float32, like concat's inputs
            check_rows(part, b, e);
            if (!out.defined()) {
                Shape shape = part.shape();
                shape[0] = K;
                out = Tensor::empty(shape);
            }
            store_chunk_rows(out, part, b, e);
        }
        return out;
    } else {
        std::vector<typename B::Tensor> parts;
        for (int64_t b = 0; b < K; b += chunk) {
            const int64_t e = std::min(K, b + chunk);
            parts.push_back(fn(b, e));
            check_rows(parts.back(), b, e);
        }
        return B::concat(parts, 0);
    }
}

// map_class_chunks over the rows of x: fn(rows) maps x's rows [begin, end) (a view) to rows of
// x's own shape. On the CPU, when the caller handed over the only reference to x (a dense float32
// tensor), each chunk's result overwrites the rows it came from, so no second x-sized tensor is
// allocated; fn must therefore read its rows only before it returns.
template <class B, class F>
typename B::Tensor map_rows_in_place(typename B::Tensor x, int64_t chunk, F&& fn) {
    chunk = std::max<int64_t>(1, chunk);
    if constexpr (std::is_same_v<B, CpuBackend>) {
        const bool sole_owner = x.defined() && x.storage().use_count() == 1 && x.storage()->writable();
        if (sole_owner && x.is_contiguous() && x.dtype() == DType::F32 && x.size(0) > chunk) {
            const int64_t K = x.size(0);
            for (int64_t b = 0; b < K; b += chunk) {
                const int64_t e = std::min(K, b + chunk);
                store_chunk_rows(x, fn(x.slice(0, b, e)).to_f32(), b, e);
            }
            return x;
        }
    }
    return map_class_chunks<B>(x.size(0), chunk, [&](int64_t b, int64_t e) { return fn(B::slice0(x, b, e)); });
}

// Wall-clock stage timings: lap("name") records the time since the previous lap.
class StageTimer {
public:
    using Timings = std::vector<std::pair<std::string, double>>;
    explicit StageTimer(Timings* out) : out_(out), last_(Clock::now()) {}
    void lap(const std::string& name) {
        const auto now = Clock::now();
        if (out_) out_->emplace_back(name, std::chrono::duration<double, std::milli>(now - last_).count());
        last_ = now;
    }
    // Starts the next lap now (time spent elsewhere, already recorded, is not counted twice).
    void restart() { last_ = Clock::now(); }

private:
    using Clock = std::chrono::steady_clock;
    Timings* out_;
    Clock::time_point last_;
};

}  // namespace errseg::models::errseg_detail
