// Up-decoders and output head of ERR-Seg (spec §2.7, rows H10–H13; weights `up_decoder{1,2,3}.*`,
// `head.*`).
//
// Each stage, for every selected class:
//   x = up_conv(x)                   stage 1: Conv 1x1; stages 2, 3: ConvTranspose 2x2, stride 2
//   x = [x, D]                       decoder guidance of that stride (features first)
//   x = ReLU(GN(Conv3x3(x)))         no conv bias; GroupNorm with channels/8 groups (integer
//                                    division, as upstream), eps 1e-5
//   x = ReLU(GN(Conv3x3(x)))
// and the head is a 1x1 conv to one logit per pixel.
//
// The guidance D is the same for every class, so the first 3x3 conv is split by input channels:
// Conv(W, [x, D]) = Conv(W_x, x) + Conv(W_D, D), the second term computed once per image.
#pragma once
#include <string>

#include "../../core/cpu_instances.hpp"
#include "common.hpp"
#include "config.hpp"

namespace errseg::models {

template <class B>
class UpDecoderOn {
public:
    using T = typename B::Tensor;
    static constexpr float kGroupNormEps = 1e-5f;

    UpDecoderOn() = default;
    // `w` is scoped at `up_decoder{n}.`; `upsample` = ConvTranspose (stages 2, 3) or 1x1 conv.
    UpDecoderOn(const Weights& w, int64_t in_channels, int64_t out_channels, int64_t guidance_channels,
                bool upsample)
        : upsample_(upsample), groups_(int(out_channels / 8)) {
        using errseg_detail::load_affine;
        const int64_t C = out_channels;
        ERRSEG_CHECK(C >= 8 && C % groups_ == 0, "up-decoder: ", C, " channels cannot form ", C / 8,
                     " GroupNorm groups (channels / 8)");
        if (upsample) {  // ConvTranspose2d weight [in, out, 2, 2], bias [out]
            up_.weight = B::upload(w.get("up_conv.weight", {in_channels, C, 2, 2}));
            up_.bias = B::upload(w.get("up_conv.bias", {C}));
        } else {
            up_ = load_affine<B>(w, "up_conv", {C, in_channels, 1, 1});
        }
        fuse_ = errseg_detail::split_input_channels<B>(
            errseg_detail::load_host_affine(w, "textual_fusion.0", {C, C + guidance_channels, 3, 3},
                                            /*has_bias=*/false),
            C);
        norm0_ = load_affine<B>(w, "textual_fusion.1", {C});
        conv1_ = load_affine<B>(w, "textual_fusion.3", {C, C, 3, 3}, /*has_bias=*/false);
        norm1_ = load_affine<B>(w, "textual_fusion.4", {C});
    }

    // The guidance contribution to the first 3x3 conv: guidance [1, g, H, W] -> [1, C, H, W].
    T guidance_term(const T& guidance) const {
        return B::conv2d(guidance, fuse_.guidance_weight, T(), errseg_detail::conv_params(1, 1));
    }

    // x [n, in, h, w] -> [n, C, H, W] (H = 2h when upsampling), guidance_term from above.
    T forward(const T& x, const T& guidance_term) const {
        T y;
        if (upsample_) {
            ops::ConvTranspose2dParams p;
            p.stride_h = p.stride_w = 2;
            y = B::conv_transpose2d(x, up_.weight, up_.bias, p);
        } else {
            y = errseg_detail::conv<B>(x, up_);
        }
        ERRSEG_CHECK(y.size(2) == guidance_term.size(2) && y.size(3) == guidance_term.size(3),
                     "up-decoder: features ", shape_str(y.shape()), " and guidance ",
                     shape_str(guidance_term.shape()), " differ in size (crop size must be a multiple of 16)");
        const ops::Conv2dParams same = errseg_detail::conv_params(1, 1);
        y = B::conv2d(y, fuse_.feature_weight, T(), same, Activation::None, guidance_term);
        y = B::group_norm(y, groups_, norm0_.weight, norm0_.bias, kGroupNormEps, Activation::Relu);
        y = B::conv2d(y, conv1_.weight, T(), same);
        return B::group_norm(y, groups_, norm1_.weight, norm1_.bias, kGroupNormEps, Activation::Relu);
    }

private:
    bool upsample_ = false;
    int groups_ = 1;
    errseg_detail::Affine<B> up_, norm0_, conv1_, norm1_;
    errseg_detail::SplitAffine<B> fuse_;
};

// H13: 1x1 conv to a single logit per pixel. x [n, C, H, W] -> [n, H, W].
template <class B>
class OutputHeadOn {
public:
    using T = typename B::Tensor;
    OutputHeadOn() = default;
    OutputHeadOn(const Weights& w, int64_t in_channels) {
        conv_ = errseg_detail::load_affine<B>(w, "head", {1, in_channels, 1, 1});
    }
    T forward(const T& x) const {
        const T y = errseg_detail::conv<B>(x, conv_);
        return y.reshape({y.size(0), y.size(2), y.size(3)});
    }

private:
    errseg_detail::Affine<B> conv_;
};

using UpDecoder = UpDecoderOn<CpuBackend>;
ERRSEG_CPU_INSTANCE(class UpDecoderOn<CpuBackend>)
using OutputHead = OutputHeadOn<CpuBackend>;
ERRSEG_CPU_INSTANCE(class OutputHeadOn<CpuBackend>)

}  // namespace errseg::models
