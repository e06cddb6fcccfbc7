// Small building blocks shared by the ERR-Seg head modules: weight loading with shape checks,
// token <-> feature-map layout changes, the "concatenate features and guidance, then project"
// split, and class-chunked evaluation.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <utility>
#include <string>
#include <vector>

#include "../../core.hpp"
#include "../../io/weights.hpp"
#include "../../ops.hpp"

namespace errseg::models::errseg_detail {

// A conv / linear weight with its bias, as stored in the model file.
struct Affine {
    Tensor weight;
    Tensor bias;  // undefined = no bias
};

inline Affine load_affine(const Weights& w, const std::string& name, const Shape& weight_shape,
                          bool has_bias = true) {
    Affine a;
    a.weight = w.get(name + ".weight", weight_shape);
    if (has_bias) a.bias = w.get(name + ".bias", {weight_shape[0]});
    return a;
}

// An affine map whose input is the concatenation [features (first `split` channels), guidance]
// along dim 1 of its weight (linear [out, in] or conv [out, in, kh, kw]). By linearity
//   W·[x; g] + b = W_x·x + (W_g·g + b),
// so the guidance half, identical for every class, is computed once and broadcast (spec §6.8).
// This changes only the floating-point summation order.
struct SplitAffine {
    Tensor feature_weight;   // W_x: input channels [0, split)
    Tensor guidance_weight;  // W_g: input channels [split, in)
    Tensor bias;
};

inline SplitAffine split_input_channels(const Affine& a, int64_t split) {
    const int64_t in = a.weight.size(1);
    ERRSEG_CHECK(split > 0 && split < in, "cannot split ", in, " input channels at ", split);
    SplitAffine s;
    s.feature_weight = a.weight.slice(1, 0, split).clone();
    s.guidance_weight = a.weight.slice(1, split, in).clone();
    s.bias = a.bias;
    return s;
}

inline ops::Conv2dParams conv_params(int stride, int pad, int groups = 1) {
    ops::Conv2dParams p;
    p.stride_h = p.stride_w = stride;
    p.pad_h = p.pad_w = pad;
    p.groups = groups;
    return p;
}

// Conv with PyTorch weight layout [O, C/groups, k, k]; "same" padding for odd k when pad < 0.
inline Tensor conv(const Tensor& x, const Affine& a, int stride = 1, int pad = -1, int groups = 1) {
    if (pad < 0) pad = int(a.weight.size(-1) / 2);
    return ops::conv2d(x, a.weight, a.bias, conv_params(stride, pad, groups));
}

inline Tensor linear(const Tensor& x, const Affine& a) { return ops::linear(x, a.weight, a.bias); }

// Feature maps [N, C, H, W] <-> token sequences [N, H*W, C] (row-major positions).
// map_to_tokens always returns a fresh tensor, safe to update in place (residual adds).
inline Tensor map_to_tokens(const Tensor& x) {
    ERRSEG_CHECK(x.dim() == 4, "expected a [N, C, H, W] map, got ", shape_str(x.shape()));
    const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    return x.permute({0, 2, 3, 1}).clone().reshape({N, H * W, C});
}
inline Tensor tokens_to_map(const Tensor& t, int64_t H, int64_t W) {
    ERRSEG_CHECK(t.dim() == 3 && t.size(1) == H * W, "expected [N, ", H * W, ", C] tokens, got ",
                 shape_str(t.shape()));
    const int64_t N = t.size(0), C = t.size(2);
    return t.contiguous().reshape({N, H, W, C}).permute({0, 3, 1, 2}).contiguous();
}
// A strided [N, C, H, W] view of tokens, for ops that accept any strides (no copy).
inline Tensor tokens_as_map_view(const Tensor& t, int64_t H, int64_t W) {
    const int64_t N = t.size(0), C = t.size(2);
    return t.contiguous().reshape({N, H, W, C}).permute({0, 3, 1, 2});
}

// Runs fn(begin, end) over consecutive class ranges of at most `chunk` classes and stacks the
// results (each [end - begin, ...]) along dim 0. Per-class modules use this to bound the memory
// of their intermediates when K is large.
template <class F>
Tensor map_class_chunks(int64_t K, int64_t chunk, F&& fn) {
    chunk = std::max<int64_t>(1, chunk);
    if (K <= chunk) return fn(int64_t(0), K).contiguous();
    Tensor out;
    int64_t per_class = 0;
    for (int64_t b = 0; b < K; b += chunk) {
        const int64_t e = std::min(K, b + chunk);
        Tensor part = fn(b, e).contiguous();
        ERRSEG_CHECK(part.size(0) == e - b, "class chunk result has ", part.size(0), " rows, expected ", e - b);
        if (!out.defined()) {
            Shape s = part.shape();
            s[0] = K;
            out = Tensor::empty(s);
            per_class = part.numel() / (e - b);
        }
        std::copy_n(part.data<float>(), part.numel(), out.data<float>() + b * per_class);
    }
    return out;
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
