// Image preprocessing for the CLIP towers.
//
// 1. CLIP's evaluation transform (open_clip `image_transform(is_train=False)`, resize mode
//    "shortest"), reproduced step by step on the 8-bit RGB image:
//      torchvision Resize(S, BICUBIC) on the PIL image -> PIL Image.resize(..., BICUBIC)
//      torchvision CenterCrop(S)
//      ToTensor (x / 255) and Normalize(mean, std)  (OpenAI CLIP statistics by default)
//    PIL's resize is the antialiased ("support-scaled") separable filter: bicubic with a = -0.5,
//    support 2 * max(1, in/out); 8-bit images use fixed-point coefficients (22 fraction bits)
//    and are rounded and clamped to uint8 after the horizontal pass and again after the
//    vertical pass. All of that is reproduced bit for bit below.
// 2. A plain "dense" path (ERR-Seg, spec §2.2): normalise float 0..255 pixels with a given
//    mean/std, then bilinear resize (align_corners=False, no antialias) to a given size.
// 3. The same antialiased bicubic filter on float data, as torch's
//    F.interpolate(mode="bicubic", antialias=True, align_corners=False) computes it (used by
//    open_clip's resize_pos_embed for ViT position grids).
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "../core.hpp"
#include "../io/image.hpp"
#include "../ops.hpp"

namespace errseg::models {

// OpenAI CLIP normalisation statistics for 0..1 pixels (used by OpenAI CLIP and OpenCLIP).
constexpr std::array<float, 3> kClipMean = {0.48145466f, 0.4578275f, 0.40821073f};
constexpr std::array<float, 3> kClipStd = {0.26862954f, 0.26130258f, 0.27577711f};

namespace resample {

// Keys' cubic convolution kernel with a = -0.5 (PIL's and torch-antialias' "bicubic").
template <class T>
inline T bicubic_kernel(T x) {
    const T a = T(-0.5);
    if (x < 0) x = -x;
    if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
    return 0;
}

// The taps of one output sample along one axis: input indices [start, start + weights.size()).
template <class T>
struct Taps {
    int64_t start = 0;
    std::vector<T> weights;
};

// PIL's triangle filter (Image.BILINEAR), support 1.
template <class T>
inline T bilinear_kernel(T x) {
    if (x < 0) x = -x;
    return x < 1 ? 1 - x : 0;
}

// The resampling filters PIL's Image.resize and torch's antialias kernels share.
enum class Filter { Bicubic, Bilinear };

// Antialiased resampling taps for an axis of in_size -> out_size (align_corners=False):
// the filter is stretched by scale = in/out when shrinking, so every input pixel contributes.
// The same rule in PIL (T = double) and in torch's antialias kernels (T = the data type):
//   center = scale (o + 1/2), support = s max(scale, 1) (s = 2 bicubic, 1 bilinear),
//   taps from trunc(center - support + 1/2) (>= 0) to trunc(center + support + 1/2) (<= in),
//   w_j = K((j - center + 1/2) / max(scale, 1)), normalised to sum 1.
template <class T>
inline std::vector<Taps<T>> antialias_taps(int64_t in_size, int64_t out_size, Filter filter) {
    ERRSEG_CHECK(in_size > 0 && out_size > 0, "resample: invalid sizes ", in_size, " -> ", out_size);
    const T scale = T(in_size) / T(out_size);
    const T filter_scale = std::max(scale, T(1));
    const T support = (filter == Filter::Bicubic ? T(2) : T(1)) * filter_scale;
    const T inv = T(1) / filter_scale;
    std::vector<Taps<T>> taps(static_cast<size_t>(out_size));
    for (int64_t o = 0; o < out_size; ++o) {
        const T center = scale * (T(o) + T(0.5));
        const int64_t lo = std::max<int64_t>(int64_t(center - support + T(0.5)), 0);
        const int64_t hi = std::min<int64_t>(int64_t(center + support + T(0.5)), in_size);
        Taps<T>& t = taps[size_t(o)];
        t.start = lo;
        T total = 0;
        for (int64_t j = lo; j < hi; ++j) {
            const T x = (T(j) - center + T(0.5)) * inv;
            const T w = filter == Filter::Bicubic ? bicubic_kernel<T>(x) : bilinear_kernel<T>(x);
            t.weights.push_back(w);
            total += w;
        }
        if (total != T(0))
            for (T& w : t.weights) w /= total;
    }
    return taps;
}

// torch F.interpolate(x, (out_h, out_w), mode="bicubic", antialias=True, align_corners=False)
// for float32 NCHW: width pass first, then height (each skipped when that size is unchanged),
// arithmetic in float as torch does for float tensors.
inline Tensor resize_bicubic_antialias(const Tensor& x, int64_t out_h, int64_t out_w) {
    ERRSEG_CHECK(x.dim() == 4 && x.dtype() == DType::F32, "resize_bicubic_antialias: input ",
                 shape_str(x.shape()), " is not float32 [N, C, H, W]");
    if (out_h == x.size(2) && out_w == x.size(3)) return x.clone();
    Tensor cur = x.contiguous();
    const int64_t planes = x.size(0) * x.size(1);
    if (out_w != cur.size(3)) {  // horizontal pass
        const int64_t h = cur.size(2), w = cur.size(3);
        const auto taps = antialias_taps<float>(w, out_w, Filter::Bicubic);
        Tensor next = Tensor::empty({x.size(0), x.size(1), h, out_w});
        const float* src = cur.data<float>();
        float* dst = next.data<float>();
        for (int64_t r = 0; r < planes * h; ++r)
            for (int64_t o = 0; o < out_w; ++o) {
                const Taps<float>& t = taps[size_t(o)];
                float acc = 0.f;
                for (size_t j = 0; j < t.weights.size(); ++j) acc += src[r * w + t.start + int64_t(j)] * t.weights[j];
                dst[r * out_w + o] = acc;
            }
        cur = next;
    }
    if (out_h != cur.size(2)) {  // vertical pass
        const int64_t h = cur.size(2), w = cur.size(3);
        const auto taps = antialias_taps<float>(h, out_h, Filter::Bicubic);
        Tensor next = Tensor::empty({x.size(0), x.size(1), out_h, w});
        const float* src = cur.data<float>();
        float* dst = next.data<float>();
        for (int64_t p = 0; p < planes; ++p)
            for (int64_t o = 0; o < out_h; ++o) {
                const Taps<float>& t = taps[size_t(o)];
                for (int64_t c = 0; c < w; ++c) {
                    float acc = 0.f;
                    for (size_t j = 0; j < t.weights.size(); ++j)
                        acc += src[(p * h + t.start + int64_t(j)) * w + c] * t.weights[j];
                    dst[(p * out_h + o) * w + c] = acc;
                }
            }
        cur = next;
    }
    return cur;
}

}  // namespace resample

// ---- PIL Image.resize(size, Image.BICUBIC) for 8-bit RGB --------------------------------------

namespace detail {

constexpr int kPilPrecisionBits = 32 - 8 - 2;  // fixed-point fraction bits of PIL's 8-bit path

// PIL's fixed-point coefficients: double weights scaled by 2^22, rounded half away from zero.
struct PilTaps {
    int64_t start = 0;
    std::vector<int32_t> coeffs;
};

inline std::vector<PilTaps> pil_taps(int64_t in_size, int64_t out_size, resample::Filter filter) {
    std::vector<PilTaps> out;
    for (const auto& t : resample::antialias_taps<double>(in_size, out_size, filter)) {
        PilTaps p;
        p.start = t.start;
        for (double w : t.weights) {
            const double s = w * double(1 << kPilPrecisionBits);
            p.coeffs.push_back(int32_t(w < 0 ? -0.5 + s : 0.5 + s));
        }
        out.push_back(std::move(p));
    }
    return out;
}

// Accumulator (with PIL's initial 1/2 for rounding) -> uint8: floor(acc / 2^22) clamped to 0..255.
inline uint8_t pil_clip8(int32_t acc) {
    if (acc <= 0) return 0;
    return uint8_t(std::min<int32_t>(acc >> kPilPrecisionBits, 255));
}

}  // namespace detail

// PIL's Image.resize of an RGB image with Image.BICUBIC or Image.BILINEAR: horizontal pass,
// rounded to uint8, then vertical pass, rounded to uint8; a pass whose size does not change is
// skipped (as PIL does).
inline Image resize_pil(const Image& img, int out_w, int out_h, resample::Filter filter) {
    ERRSEG_CHECK(img.width > 0 && img.height > 0 && img.rgb.size() == size_t(img.width) * img.height * 3,
                 "resize_pil: invalid ", img.width, "x", img.height, " image");
    ERRSEG_CHECK(out_w > 0 && out_h > 0, "resize_pil: invalid output size ", out_w, "x", out_h);
    constexpr int32_t kHalf = 1 << (detail::kPilPrecisionBits - 1);
    Image cur = img;
    if (out_w != cur.width) {
        const auto taps = detail::pil_taps(cur.width, out_w, filter);
        Image next{out_w, cur.height, std::vector<uint8_t>(size_t(out_w) * cur.height * 3)};
        for (int y = 0; y < cur.height; ++y) {
            const uint8_t* row = cur.rgb.data() + size_t(y) * cur.width * 3;
            for (int x = 0; x < out_w; ++x) {
                const detail::PilTaps& t = taps[size_t(x)];
                for (int c = 0; c < 3; ++c) {
                    int32_t acc = kHalf;
                    for (size_t j = 0; j < t.coeffs.size(); ++j)
                        acc += int32_t(row[(t.start + int64_t(j)) * 3 + c]) * t.coeffs[j];
                    next.rgb[(size_t(y) * out_w + x) * 3 + c] = detail::pil_clip8(acc);
                }
            }
        }
        cur = std::move(next);
    }
    if (out_h != cur.height) {
        const auto taps = detail::pil_taps(cur.height, out_h, filter);
        const size_t stride = size_t(cur.width) * 3;
        Image next{cur.width, out_h, std::vector<uint8_t>(stride * out_h)};
        for (int y = 0; y < out_h; ++y) {
            const detail::PilTaps& t = taps[size_t(y)];
            for (size_t i = 0; i < stride; ++i) {
                int32_t acc = kHalf;
                for (size_t j = 0; j < t.coeffs.size(); ++j)
                    acc += int32_t(cur.rgb[size_t(t.start + int64_t(j)) * stride + i]) * t.coeffs[j];
                next.rgb[size_t(y) * stride + i] = detail::pil_clip8(acc);
            }
        }
        cur = std::move(next);
    }
    return cur;
}

inline Image resize_bicubic_pil(const Image& img, int out_w, int out_h) {
    return resize_pil(img, out_w, out_h, resample::Filter::Bicubic);
}

// ---- torchvision transforms ----------------------------------------------------------------

// torchvision Resize(size) with an int: the shorter side becomes `size`, the longer side
// int(size * long / short) (truncated). Returns {width, height}.
inline std::array<int, 2> shortest_side_size(int width, int height, int size) {
    ERRSEG_CHECK(width > 0 && height > 0 && size > 0, "shortest_side_size: invalid sizes");
    const bool wide = width >= height;
    const int short_side = wide ? height : width, long_side = wide ? width : height;
    const int new_long = int(double(size) * double(long_side) / double(short_side));
    return wide ? std::array<int, 2>{new_long, size} : std::array<int, 2>{size, new_long};
}

// torchvision Resize(size, InterpolationMode.BICUBIC) on a PIL image (no-op at the same size).
inline Image resize_shortest_side_bicubic(const Image& img, int size) {
    const auto wh = shortest_side_size(img.width, img.height, size);
    if (wh[0] == img.width && wh[1] == img.height) return img;
    return resize_bicubic_pil(img, wh[0], wh[1]);
}

// torchvision CenterCrop: offsets int(round((in - out) / 2)) with Python's round-half-to-even.
// The image must be at least out_w x out_h (always true after resize_shortest_side_bicubic).
inline Image center_crop(const Image& img, int out_w, int out_h) {
    ERRSEG_CHECK(out_w > 0 && out_h > 0 && out_w <= img.width && out_h <= img.height, "center_crop: ",
                 out_w, "x", out_h, " does not fit in a ", img.width, "x", img.height, " image");
    const int top = int(std::nearbyint((img.height - out_h) / 2.0));   // default FE_TONEAREST: ties to even
    const int left = int(std::nearbyint((img.width - out_w) / 2.0));
    Image out{out_w, out_h, std::vector<uint8_t>(size_t(out_w) * out_h * 3)};
    for (int y = 0; y < out_h; ++y)
        std::copy_n(img.rgb.data() + (size_t(y + top) * img.width + left) * 3, size_t(out_w) * 3,
                    out.rgb.data() + size_t(y) * out_w * 3);
    return out;
}

// ToTensor + Normalize: [1, 3, H, W] float32, ((v / 255) - mean[c]) / std[c], in float32 as
// torchvision computes it.
inline Tensor to_normalized_tensor(const Image& img, const std::array<float, 3>& mean = kClipMean,
                                   const std::array<float, 3>& std = kClipStd) {
    const int64_t hw = int64_t(img.width) * img.height;
    ERRSEG_CHECK(hw > 0 && img.rgb.size() == size_t(hw) * 3, "to_normalized_tensor: invalid image");
    Tensor t = Tensor::empty({1, 3, img.height, img.width});
    float* d = t.data<float>();
    for (int c = 0; c < 3; ++c)
        for (int64_t i = 0; i < hw; ++i) {
            const float v = float(img.rgb[size_t(i) * 3 + c]) / 255.0f;
            d[c * hw + i] = (v - mean[size_t(c)]) / std[size_t(c)];
        }
    return t;
}

// The whole CLIP evaluation transform: -> [1, 3, image_size, image_size].
inline Tensor clip_preprocess(const Image& img, int image_size, const std::array<float, 3>& mean = kClipMean,
                              const std::array<float, 3>& std = kClipStd) {
    Image resized = resize_shortest_side_bicubic(img, image_size);
    return to_normalized_tensor(center_crop(resized, image_size, image_size), mean, std);
}

// ---- dense path (ERR-Seg network input, spec §2.2) -----------------------------------------

// x: float [N, 3, H, W] with 0..255 pixels (io::image_to_tensor). (x - mean) / std per channel
// (statistics in 0..255 units), then bilinear(align_corners=False, no antialias) to out_h x out_w.
inline Tensor preprocess_dense(const Tensor& x, int64_t out_h, int64_t out_w, const std::array<float, 3>& mean,
                               const std::array<float, 3>& std) {
    ERRSEG_CHECK(x.dim() == 4 && x.size(1) == 3, "preprocess_dense: input ", shape_str(x.shape()),
                 " is not [N, 3, H, W]");
    Tensor norm = x.to_f32().clone();
    float* d = norm.data<float>();
    const int64_t n = x.size(0), hw = x.size(2) * x.size(3);
    for (int64_t b = 0; b < n; ++b)
        for (int64_t c = 0; c < 3; ++c) {
            float* p = d + (b * 3 + c) * hw;
            for (int64_t i = 0; i < hw; ++i) p[i] = (p[i] - mean[size_t(c)]) / std[size_t(c)];
        }
    return ops::resize_bilinear(norm, out_h, out_w, /*align_corners=*/false);
}

}  // namespace errseg::models
