// ERR-Seg post-processing (spec §2.8): sigmoid of the decoder logits, bilinear resize
// (align_corners = False) of the probabilities — not the logits — to the original image size,
// label = argmax over classes (first maximum wins, as torch.argmax).
//
// The sigmoid is PyTorch's formula, 1 / (1 + exp(−x)) in float32: it underflows to exactly 0 for
// x below about −88.7, so the classes CRM dropped (logit −100) have probability 0, as in the
// upstream fixtures (not the subnormal 3.7e-44 the exact function would give).
//
// Memory: upstream materialises T x H x W probabilities. Here the label map is computed row by
// row from the K kept classes only; the T − K dropped classes all hold the same constant plane,
// so they are represented by one virtual plane (whose class is the lowest dropped index). The
// full probability tensor is produced only on request.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "../../core.hpp"
#include "../../ops.hpp"

namespace errseg::models {

namespace postprocess_detail {

// Source taps of one output coordinate, exactly as PyTorch's CPU bilinear kernel computes them
// (align_corners = False): scale = in/out in float; src = max(scale·(o + 0.5) − 0.5, 0) evaluated
// in double and rounded to float; i0 = floor(src); i1 = i0 + 1 clamped; λ1 = src − i0; λ0 = 1 − λ1.
struct Tap {
    int64_t i0, i1;
    float w0, w1;
};

inline std::vector<Tap> bilinear_taps(int64_t in, int64_t out) {
    std::vector<Tap> taps(static_cast<size_t>(out));
    const float scale = float(in) / float(out);
    for (int64_t o = 0; o < out; ++o) {
        float src = float(double(scale) * (double(o) + 0.5) - 0.5);
        if (src < 0.f) src = 0.f;
        const int64_t i0 = std::min<int64_t>(int64_t(src), in - 1);
        const float l1 = std::min(std::max(src - float(i0), 0.f), 1.f);
        taps[size_t(o)] = {i0, std::min(i0 + 1, in - 1), 1.f - l1, l1};
    }
    return taps;
}

// torch.sigmoid on CPU: 1 / (1 + exp(-x)) in float32 (0 for x < about -88.7).
inline float torch_sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// One interpolated value; the order of operations follows PyTorch (width pairs first, then height).
inline float interpolate(const float* row0, const float* row1, const Tap& ty, const Tap& tx) {
    const float top = row0[tx.i0] * tx.w0 + row0[tx.i1] * tx.w1;
    const float bottom = row1[tx.i0] * tx.w0 + row1[tx.i1] * tx.w1;
    return top * ty.w0 + bottom * ty.w1;
}

}  // namespace postprocess_detail

struct PostprocessOptions {
    bool keep_probs = false;  // also return the T x H x W probabilities
    // Upstream crops the probability map to the model-input image size before resizing
    // (`result[:, :h_in, :w_in]`); that only changes anything for inputs smaller than the map
    // (S/4 pixels), where it keeps the top-left part. Off by default; on = upstream behaviour.
    bool upstream_crop = false;
    // The size of the image the model was given (h_in, w_in of the crop) when it differs from
    // the output size (SegmentOptions::upstream_resize); 0 = the output size.
    int64_t input_h = 0, input_w = 0;
};

struct PostprocessResult {
    Tensor labels;  // I32 [H, W]
    Tensor probs;   // [T, H, W] when requested
};

// logits [T, h, w] from the head (kept classes `selected`, ascending; every other plane holds
// `fill_logit`), resized to out_h x out_w (the original image size).
inline PostprocessResult postprocess(const Tensor& logits_in, const std::vector<int64_t>& selected,
                                     int64_t out_h, int64_t out_w, float fill_logit,
                                     const PostprocessOptions& opt = {}) {
    using namespace postprocess_detail;
    ERRSEG_CHECK(logits_in.dim() == 3, "postprocess: logits must be [T, h, w], got ", shape_str(logits_in.shape()));
    ERRSEG_CHECK(out_h > 0 && out_w > 0, "postprocess: invalid output size ", out_w, "x", out_h);
    ERRSEG_CHECK(!selected.empty() && std::is_sorted(selected.begin(), selected.end()),
                 "postprocess: the kept classes must be non-empty and ascending");
    Tensor logits = logits_in.to_f32();
    const int64_t in_h = opt.input_h > 0 ? opt.input_h : out_h, in_w = opt.input_w > 0 ? opt.input_w : out_w;
    if (opt.upstream_crop && (in_h < logits.size(1) || in_w < logits.size(2)))
        logits = logits.slice(1, 0, std::min(in_h, logits.size(1))).slice(2, 0, std::min(in_w, logits.size(2)));
    const int64_t T = logits.size(0), h = logits.size(1), w = logits.size(2);
    const int64_t K = int64_t(selected.size());
    ERRSEG_CHECK(selected.back() < T && selected.front() >= 0, "postprocess: kept class index out of range");

    // Probabilities of the kept classes [K, h, w] and of the dropped ones (one constant).
    Tensor kept_probs = ops::index_select(logits, 0, selected).contiguous();
    {
        float* kp = kept_probs.data<float>();
        parallel_for(kept_probs.numel(), 1 << 14, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) kp[i] = torch_sigmoid(kp[i]);
        });
    }
    const float fill_prob = torch_sigmoid(fill_logit);
    int64_t first_dropped = -1;  // lowest class index CRM did not keep
    for (int64_t t = 0, j = 0; t < T; ++t) {
        if (j < K && selected[size_t(j)] == t) {
            ++j;
        } else {
            first_dropped = t;
            break;
        }
    }

    const std::vector<Tap> ty = bilinear_taps(h, out_h), tx = bilinear_taps(w, out_w);
    PostprocessResult res;
    res.labels = Tensor::empty({out_h, out_w}, DType::I32);
    int32_t* labels = res.labels.data<int32_t>();
    float* probs = nullptr;
    if (opt.keep_probs) {
        res.probs = Tensor::empty({T, out_h, out_w});
        probs = res.probs.data<float>();
    }
    const float* p = kept_probs.data<float>();
    const int64_t plane = h * w, out_plane = out_h * out_w;
    // The dropped classes' constant plane resized with the same arithmetic (PyTorch would see the
    // same constant in every tap).
    const float fill_row[2] = {fill_prob, fill_prob};

    parallel_for(out_h, 4, [&](int64_t y0, int64_t y1) {
        std::vector<float> best(static_cast<size_t>(out_w));
        std::vector<int32_t> arg(static_cast<size_t>(out_w));
        for (int64_t y = y0; y < y1; ++y) {
            const Tap& t = ty[size_t(y)];
            std::fill(best.begin(), best.end(), -INFINITY);
            for (int64_t k = 0; k < K; ++k) {
                const float* r0 = p + k * plane + t.i0 * w;
                const float* r1 = p + k * plane + t.i1 * w;
                float* prow = probs ? probs + selected[size_t(k)] * out_plane + y * out_w : nullptr;
                for (int64_t x = 0; x < out_w; ++x) {
                    const float v = interpolate(r0, r1, t, tx[size_t(x)]);
                    if (prow) prow[x] = v;
                    // Kept classes are visited in ascending index order: strict > keeps the first.
                    if (v > best[size_t(x)]) {
                        best[size_t(x)] = v;
                        arg[size_t(x)] = int32_t(selected[size_t(k)]);
                    }
                }
            }
            int32_t* lrow = labels + y * out_w;
            for (int64_t x = 0; x < out_w; ++x) {
                int32_t label = arg[size_t(x)];
                if (first_dropped >= 0) {
                    Tap fx = tx[size_t(x)];
                    fx.i0 = 0;
                    fx.i1 = 1;
                    const float u = interpolate(fill_row, fill_row, t, fx);
                    const float b = best[size_t(x)];
                    if (u > b || (u == b && first_dropped < label)) label = int32_t(first_dropped);
                }
                lrow[x] = label;
            }
        }
    });

    if (probs) {
        // Dropped classes: the constant sigmoid(fill) (exactly 0 for −100).
        std::vector<bool> kept(size_t(T), false);
        for (int64_t s : selected) kept[size_t(s)] = true;
        for (int64_t c = 0; c < T; ++c)
            if (!kept[size_t(c)]) std::fill_n(probs + c * out_plane, out_plane, fill_prob);
    }
    return res;
}

}  // namespace errseg::models
