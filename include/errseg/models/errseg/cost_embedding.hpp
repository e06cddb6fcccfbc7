// Cost embedding and guidance projections of the ERR-Seg head (spec §2.7, rows H2, H5–H8).
//
//   H5  CostEmbedding:      per selected class, embed the stride-16 and stride-32 cost maps with
//                           7x7 convs, upsample the stride-32 embedding, average, fuse with 1x1.
//   H2  guidance clamp:     every CLIP stage output used as guidance is clipped to [-16, 16].
//   H6  decoder guidance:   3x3 conv + ReLU6 of os16, os8, os4 (consumed by the up-decoders).
//   H7  aggregation guidance: 3x3 conv + ReLU6 of os32 and os16, upsample, average, 1x1 fusion
//                           (consumed by the spatial-fusion attention).
//   H8  text guidance:      re-normalised text embedding of each selected class, Linear + GELU
//                           (consumed by the class-fusion attention).
//
// Guidance maps are the same for every class; they are computed once (upstream repeats them K
// times).
#pragma once
#include <array>
#include <cmath>

#include "../../core/cpu_instances.hpp"
#include "common.hpp"
#include "config.hpp"

namespace errseg::models {

// H5: [K, P, H, W] and [K, P, H/2, W/2] cost maps of the selected classes -> [K, C, H, W].
template <class B>
class CostEmbeddingOn {
public:
    using T = typename B::Tensor;
    CostEmbeddingOn() = default;
    CostEmbeddingOn(const Weights& head, const ErrSegHeadConfig& cfg) {
        using errseg_detail::load_affine;
        const int64_t inter = cfg.corr_fpn_inter_dim, P = cfg.prompt_channel;
        proj16_ = load_affine<B>(head, "corr_proj_convs.0.0", {inter, P, 7, 7});
        proj32_ = load_affine<B>(head, "corr_proj_convs.1.0", {inter, P, 7, 7});
        fusion_ = load_affine<B>(head, "low_corr_fusion", {cfg.corr_fpn_fusion_dim, inter, 1, 1});
    }

    // Classes are independent here; `chunk` bounds how many are embedded at once (memory).
    T forward(const T& cost16, const T& cost32, int64_t chunk = 16) const {
        ERRSEG_CHECK(cost16.dim() == 4 && cost32.dim() == 4 && cost16.size(0) == cost32.size(0),
                     "cost embedding: expected [K, P, H, W] cost maps, got ", shape_str(cost16.shape()),
                     " and ", shape_str(cost32.shape()));
        const int64_t H = cost16.size(2), W = cost16.size(3);
        return errseg_detail::map_class_chunks<B>(cost16.size(0), chunk, [&](int64_t b, int64_t e) {
            const auto conv = [](const T& x, const Affine& a) { return errseg_detail::conv<B>(x, a); };
            const T a16 = conv(B::slice0(cost16, b, e), proj16_);            // [n, inter, H, W]
            const T a32 = conv(B::slice0(cost32, b, e), proj32_);            // [n, inter, H/2, W/2]
            T a = B::add(a16, B::resize_bilinear(a32, H, W, /*align_corners=*/false));
            a = B::scale(a, 0.5f);                                            // (A16 + A32↑) / 2
            return conv(a, fusion_);                                          // low_corr_fusion
        });
    }

private:
    using Affine = errseg_detail::Affine<B>;
    Affine proj16_, proj32_, fusion_;
};

// H2 + H6 + H7: guidance maps derived from the CLIP stage outputs (shared by all classes).
template <class T>
struct ImageGuidanceOf {
    T aggregation;             // Gs [1, aggregator_dim, H16, W16], for spatial fusion
    std::array<T, 3> decoder;  // D16, D8, D4 [1, c, h, w], for up-decoders 1, 2, 3
};

template <class B>
class GuidanceProjectionOn {
public:
    using T = typename B::Tensor;
    // Upstream clips the guidance maps in place before any use.
    static constexpr float kClamp = 16.f;

    GuidanceProjectionOn() = default;
    GuidanceProjectionOn(const Weights& head, const ErrSegHeadConfig& cfg) {
        using errseg_detail::load_affine;
        const int64_t inter = cfg.guidance_fpn_inter_dim;
        for (int i = 0; i < 2; ++i)  // os32, os16
            aggregation_[size_t(i)] = load_affine<B>(head, "img_guidance_projection_agg." + std::to_string(i) + ".0",
                                                     {inter, cfg.image_guidance_dims[size_t(i)], 3, 3});
        aggregation_fusion_ = load_affine<B>(head, "low_img_fusion", {cfg.guidance_fpn_fusion_dim, inter, 1, 1});
        for (int i = 0; i < 3; ++i)  // os16, os8, os4
            decoder_[size_t(i)] = load_affine<B>(head, "img_guidance_projection_dec." + std::to_string(i) + ".0",
                                                 {cfg.guidance_proj_dims[size_t(i)], cfg.decoder_guidance_dims[size_t(i)], 3, 3});
    }

    // Stage outputs of the CLIP image tower, [1, C, H, W] each.
    ImageGuidanceOf<T> forward(const T& os32, const T& os16, const T& os8, const T& os4) const {
        const auto conv = [](const auto&... args) { return errseg_detail::conv<B>(args...); };
        const T g32 = B::clamp(os32, -kClamp, kClamp);
        const T g16 = B::clamp(os16, -kClamp, kClamp);
        const T g8 = B::clamp(os8, -kClamp, kClamp);
        const T g4 = B::clamp(os4, -kClamp, kClamp);

        ImageGuidanceOf<T> out;
        // H6: decoder guidance.
        out.decoder[0] = conv(g16, decoder_[0], Activation::Relu6);
        out.decoder[1] = conv(g8, decoder_[1], Activation::Relu6);
        out.decoder[2] = conv(g4, decoder_[2], Activation::Relu6);
        // H7: aggregation guidance, os32 brought to the stride-16 grid.
        const T p32 = conv(g32, aggregation_[0], Activation::Relu6);
        const T p16 = conv(g16, aggregation_[1], Activation::Relu6);
        const T p32_up = B::resize_bilinear(p32, p16.size(2), p16.size(3), /*align_corners=*/false);
        out.aggregation = conv(B::scale(B::add(p32_up, p16), 0.5f), aggregation_fusion_);
        return out;
    }

private:
    using Affine = errseg_detail::Affine<B>;
    std::array<Affine, 2> aggregation_;
    Affine aggregation_fusion_;
    std::array<Affine, 3> decoder_;
};

// H8: text embeddings of the selected classes [K, E] -> text guidance [K, C].
template <class B>
class TextGuidanceOn {
public:
    using T = typename B::Tensor;
    TextGuidanceOn() = default;
    TextGuidanceOn(const Weights& head, const ErrSegHeadConfig& cfg) {
        proj_ = errseg_detail::load_affine<B>(head, "text_guidance_projection.0",
                                              {cfg.text_guidance_proj_dim, cfg.text_guidance_dim});
    }

    T forward(const T& text) const {
        ERRSEG_CHECK(text.dim() == 2, "text guidance: expected [K, E] embeddings, got ", shape_str(text.shape()));
        // Mean over the P = 1 prompt templates is the identity; then divide by the L2 norm
        // (a plain division, no epsilon).
        return errseg_detail::linear<B>(B::normalize_rows(text), proj_, Activation::Gelu);
    }

private:
    errseg_detail::Affine<B> proj_;
};

using CostEmbedding = CostEmbeddingOn<CpuBackend>;
ERRSEG_CPU_INSTANCE(class CostEmbeddingOn<CpuBackend>)
using ImageGuidance = ImageGuidanceOf<Tensor>;
using GuidanceProjection = GuidanceProjectionOn<CpuBackend>;
ERRSEG_CPU_INSTANCE(class GuidanceProjectionOn<CpuBackend>)
using TextGuidance = TextGuidanceOn<CpuBackend>;
ERRSEG_CPU_INSTANCE(class TextGuidanceOn<CpuBackend>)

}  // namespace errseg::models
