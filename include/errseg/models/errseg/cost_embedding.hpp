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

#include "common.hpp"
#include "config.hpp"

namespace errseg::models {

// H5: [K, P, H, W] and [K, P, H/2, W/2] cost maps of the selected classes -> [K, C, H, W].
class CostEmbedding {
public:
    CostEmbedding() = default;
    CostEmbedding(const Weights& head, const ErrSegHeadConfig& cfg) {
        using errseg_detail::load_affine;
        const int64_t inter = cfg.corr_fpn_inter_dim, P = cfg.prompt_channel;
        proj16_ = load_affine(head, "corr_proj_convs.0.0", {inter, P, 7, 7});
        proj32_ = load_affine(head, "corr_proj_convs.1.0", {inter, P, 7, 7});
        fusion_ = load_affine(head, "low_corr_fusion", {cfg.corr_fpn_fusion_dim, inter, 1, 1});
    }

    // Classes are independent here; `chunk` bounds how many are embedded at once (memory).
    Tensor forward(const Tensor& cost16, const Tensor& cost32, int64_t chunk = 16) const {
        ERRSEG_CHECK(cost16.dim() == 4 && cost32.dim() == 4 && cost16.size(0) == cost32.size(0),
                     "cost embedding: expected [K, P, H, W] cost maps, got ", shape_str(cost16.shape()),
                     " and ", shape_str(cost32.shape()));
        const int64_t H = cost16.size(2), W = cost16.size(3);
        return errseg_detail::map_class_chunks(cost16.size(0), chunk, [&](int64_t b, int64_t e) {
            using errseg_detail::conv;
            Tensor a16 = conv(cost16.slice(0, b, e), proj16_);                 // [n, inter, H, W]
            Tensor a32 = conv(cost32.slice(0, b, e), proj32_);                 // [n, inter, H/2, W/2]
            Tensor a = ops::add(a16, ops::resize_bilinear(a32, H, W, /*align_corners=*/false));
            a = ops::scale(a, 0.5f);                                            // (A16 + A32↑) / 2
            return conv(a, fusion_);                                            // low_corr_fusion
        });
    }

private:
    errseg_detail::Affine proj16_, proj32_, fusion_;
};

// H2 + H6 + H7: guidance maps derived from the CLIP stage outputs (shared by all classes).
struct ImageGuidance {
    Tensor aggregation;             // Gs [1, aggregator_dim, H16, W16], for spatial fusion
    std::array<Tensor, 3> decoder;  // D16, D8, D4 [1, c, h, w], for up-decoders 1, 2, 3
};

class GuidanceProjection {
public:
    // Upstream clips the guidance maps in place before any use.
    static constexpr float kClamp = 16.f;

    GuidanceProjection() = default;
    GuidanceProjection(const Weights& head, const ErrSegHeadConfig& cfg) {
        using errseg_detail::load_affine;
        const int64_t inter = cfg.guidance_fpn_inter_dim;
        for (int i = 0; i < 2; ++i)  // os32, os16
            aggregation_[size_t(i)] = load_affine(head, "img_guidance_projection_agg." + std::to_string(i) + ".0",
                                                  {inter, cfg.image_guidance_dims[size_t(i)], 3, 3});
        aggregation_fusion_ = load_affine(head, "low_img_fusion", {cfg.guidance_fpn_fusion_dim, inter, 1, 1});
        for (int i = 0; i < 3; ++i)  // os16, os8, os4
            decoder_[size_t(i)] = load_affine(head, "img_guidance_projection_dec." + std::to_string(i) + ".0",
                                              {cfg.guidance_proj_dims[size_t(i)], cfg.decoder_guidance_dims[size_t(i)], 3, 3});
    }

    // Stage outputs of the CLIP image tower, [1, C, H, W] each.
    ImageGuidance forward(const Tensor& os32, const Tensor& os16, const Tensor& os8, const Tensor& os4) const {
        using errseg_detail::conv;
        const Tensor g32 = ops::clamp(os32, -kClamp, kClamp);
        const Tensor g16 = ops::clamp(os16, -kClamp, kClamp);
        const Tensor g8 = ops::clamp(os8, -kClamp, kClamp);
        const Tensor g4 = ops::clamp(os4, -kClamp, kClamp);

        ImageGuidance out;
        // H6: decoder guidance.
        out.decoder[0] = ops::relu6(conv(g16, decoder_[0]));
        out.decoder[1] = ops::relu6(conv(g8, decoder_[1]));
        out.decoder[2] = ops::relu6(conv(g4, decoder_[2]));
        // H7: aggregation guidance, os32 brought to the stride-16 grid.
        const Tensor p32 = ops::relu6(conv(g32, aggregation_[0]));
        const Tensor p16 = ops::relu6(conv(g16, aggregation_[1]));
        const Tensor p32_up = ops::resize_bilinear(p32, p16.size(2), p16.size(3), /*align_corners=*/false);
        out.aggregation = conv(ops::scale(ops::add(p32_up, p16), 0.5f), aggregation_fusion_);
        return out;
    }

private:
    std::array<errseg_detail::Affine, 2> aggregation_;
    errseg_detail::Affine aggregation_fusion_;
    std::array<errseg_detail::Affine, 3> decoder_;
};

// H8: text embeddings of the selected classes [K, E] -> text guidance [K, C].
class TextGuidance {
public:
    TextGuidance() = default;
    TextGuidance(const Weights& head, const ErrSegHeadConfig& cfg) {
        proj_ = errseg_detail::load_affine(head, "text_guidance_projection.0",
                                           {cfg.text_guidance_proj_dim, cfg.text_guidance_dim});
    }

    Tensor forward(const Tensor& text) const {
        ERRSEG_CHECK(text.dim() == 2, "text guidance: expected [K, E] embeddings, got ", shape_str(text.shape()));
        // Mean over the P = 1 prompt templates is the identity; then divide by the L2 norm
        // (a plain division, no epsilon).
        Tensor t = text.clone();
        const int64_t K = t.size(0), E = t.size(1);
        float* d = t.data<float>();
        for (int64_t k = 0; k < K; ++k) {
            float* row = d + k * E;
            double sq = 0.0;
            for (int64_t c = 0; c < E; ++c) sq += double(row[c]) * double(row[c]);
            const float norm = float(std::sqrt(sq));
            for (int64_t c = 0; c < E; ++c) row[c] = row[c] / norm;
        }
        return ops::gelu(errseg_detail::linear(t, proj_));
    }

private:
    errseg_detail::Affine proj_;
};

}  // namespace errseg::models
