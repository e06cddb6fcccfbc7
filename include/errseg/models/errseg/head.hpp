// The ERR-Seg decoder head (`sem_seg_head.decoder`, spec §2.7): from dense CLIP features and the
// vocabulary's text embeddings to one logit map per class.
//
//   H1   cost maps            stride-16 map for all T classes (CRM needs them all)
//   H3   CRM                  keep K = min(K, T) classes, ascending
//   H4   gather               their stride-16 cost maps; stride-32 cost maps only for them
//   H2,6,7 image guidance     clamp ±16, decoder and aggregation guidance (once per image)
//   H8   text guidance        of the kept classes
//   H5   cost embedding       -> X [K, C, H16, W16]
//   H9   aggregator           layers of spatial fusion then class fusion
//   H10-13 up-decoders, head  -> K logit maps at stride 4
//   H14  reconstruction       T maps, −100 for the classes CRM dropped
//
// Upstream shuffles the kept classes before H4; every step after it is per class or
// permutation-equivariant over classes, so `decode` accepts any order and the result (scattered
// back by class index) does not depend on it beyond floating-point rounding.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "../../core/cpu_instances.hpp"
#include "class_fusion.hpp"
#include "common.hpp"
#include "config.hpp"
#include "cost_embedding.hpp"
#include "cost_map.hpp"
#include "crm.hpp"
#include "dense_features.hpp"
#include "spatial_fusion.hpp"
#include "up_decoder.hpp"

namespace errseg::models {

// One ESCF aggregator layer: spatial fusion (per class, image-guided) then class fusion
// (across classes, text-guided).
template <class B>
class AggregatorLayerOn {
public:
    using T = typename B::Tensor;
    AggregatorLayerOn() = default;
    // `w` is scoped at `aggregator_layers.{i}.`.
    AggregatorLayerOn(const Weights& w, int64_t dim, int64_t heads, int64_t sr_ratio)
        : spatial_(w.scope("spatial_fusion.sa."), dim, heads, sr_ratio),
          classes_(w.scope("class_fusion.sa."), dim, heads) {}

    // Takes x by value: a caller that moves its features in lets spatial fusion overwrite them
    // on the CPU (one K x C x H x W tensor instead of two).
    T forward(T x, const T& image_guidance, const T& text_guidance, int64_t class_chunk) const {
        return classes_.forward(spatial_.forward(std::move(x), image_guidance, class_chunk), text_guidance);
    }

private:
    SpatialFusionBlockOn<B> spatial_;
    ClassFusionBlockOn<B> classes_;
};

template <class B>
class ErrSegHeadOn {
public:
    using T = typename B::Tensor;
    static constexpr float kUnselectedLogit = -100.f;  // fill of the reconstruction (H14)

    ErrSegHeadOn() = default;
    // `head` is scoped at the head tensors (model file prefix "head.").
    ErrSegHeadOn(const Weights& head, const ErrSegHeadConfig& cfg)
        : cfg_(cfg),
          cost_embedding_(head, cfg),
          image_guidance_(head, cfg),
          text_guidance_(head, cfg),
          output_(head, cfg.decoder_dims[2]) {
        for (int64_t i = 0; i < cfg.num_layers(); ++i)
            layers_.emplace_back(head.scope("aggregator_layers." + std::to_string(i) + "."), cfg.aggregator_dim,
                                 cfg.aggregator_heads, cfg.aggregator_scale_ratio[size_t(i)]);
        const auto& dec = cfg.decoder_dims;
        const auto& gp = cfg.guidance_proj_dims;
        up_[0] = UpDecoderOn<B>(head.scope("up_decoder1."), cfg.aggregator_dim, dec[0], gp[0], /*upsample=*/false);
        up_[1] = UpDecoderOn<B>(head.scope("up_decoder2."), dec[0], dec[1], gp[1], /*upsample=*/true);
        up_[2] = UpDecoderOn<B>(head.scope("up_decoder3."), dec[1], dec[2], gp[2], /*upsample=*/true);
    }

    const ErrSegHeadConfig& config() const { return cfg_; }

    // How many classes per-class stages process at once (bounds intermediate memory).
    void set_class_chunk(int64_t n) { class_chunk_ = n < 1 ? 1 : n; }

    struct Output {
        Tensor logits;                  // host [T, H4, W4]; kUnselectedLogit for classes not kept
        std::vector<int64_t> selected;  // kept classes, ascending
        errseg_detail::StageTimer::Timings timings_ms;
    };

    // text: [T, E] L2-normalised class embeddings; top_k <= 0 uses the config's K.
    Output forward(const DenseFeaturesOf<T>& f, const T& text, int64_t top_k = -1,
                   CrmTieRule tie_rule = CrmTieRule::LowerIndex) const {
        Output out;
        errseg_detail::StageTimer timer(&out.timings_ms);
        const T cost16 = cost_map<B>(f.os16_dense, text);  // H1, all classes [T, H16, W16]
        // H3 on the host: T x H16 x W16 votes, and exactly upstream's tie rules.
        out.selected = select_classes(B::download(cost16), top_k > 0 ? top_k : cfg_.sample_classes_num, tie_rule);
        timer.lap("head.cost_map_crm");
        out.logits = decode(f, text, cost16, out.selected, &out.timings_ms);
        return out;
    }

    // H2, H4–H14 for the classes `order` (any order, no repeats) given the stride-16 cost map of
    // all classes [T, H16, W16]. Returns host [T, H4, W4] logits.
    Tensor decode(const DenseFeaturesOf<T>& f, const T& text, const T& cost16, const std::vector<int64_t>& order,
                  errseg_detail::StageTimer::Timings* timings = nullptr) const {
        errseg_detail::StageTimer timer(timings);
        const int64_t num_classes = text.size(0), K = int64_t(order.size());
        ERRSEG_CHECK(K >= 1, "ERR-Seg head: no classes to decode");
        ERRSEG_CHECK(cost16.dim() == 3 && cost16.size(0) == num_classes, "ERR-Seg head: cost map ",
                     shape_str(cost16.shape()), " does not cover the ", num_classes, " classes");
        const int64_t H16 = cost16.size(1), W16 = cost16.size(2);
        std::vector<bool> seen(static_cast<size_t>(num_classes), false);
        for (int64_t t : order) {
            ERRSEG_CHECK(t >= 0 && t < num_classes && !seen[size_t(t)], "ERR-Seg head: class index ", t,
                         " is out of range for ", num_classes, " classes or repeated");
            seen[size_t(t)] = true;
        }

        // H4: the kept classes' cost maps (stride 32 only computed for them) and embeddings.
        const T text_kept = B::index_select(text, 0, order);                           // [K, E]
        const T s16 = B::index_select(cost16, 0, order).reshape({K, 1, H16, W16});
        const T c32 = cost_map<B>(f.clip_vis_dense, text_kept);                        // [K, h, w]
        ERRSEG_CHECK(c32.size(1) == H16 / 2 && c32.size(2) == W16 / 2, "ERR-Seg head: stride-32 features ",
                     shape_str(f.clip_vis_dense.shape()), " are not half the stride-16 grid ", H16, "x", W16);
        const T s32 = c32.reshape({K, 1, c32.size(1), c32.size(2)});

        // H2, H6, H7, H8: guidance (shared by all classes).
        const ImageGuidanceOf<T> guidance = image_guidance_.forward(f.os32, f.os16, f.os8, f.os4);
        const T text_guidance = text_guidance_.forward(text_kept);                     // [K, C]
        timer.lap("head.guidance");

        // H5: cost embedding.
        T x = cost_embedding_.forward(s16, s32, class_chunk_);                         // [K, C, H16, W16]
        timer.lap("head.cost_embedding");

        // H9: aggregator.
        for (const AggregatorLayerOn<B>& layer : layers_)
            x = layer.forward(std::move(x), guidance.aggregation, text_guidance, class_chunk_);
        timer.lap("head.aggregator");

        // H10–H13: up-decoders and output head, per class chunk.
        T terms[3];
        for (int i = 0; i < 3; ++i) terms[i] = up_[size_t(i)].guidance_term(guidance.decoder[size_t(i)]);
        const Tensor logits_kept = B::download(
            errseg_detail::map_class_chunks<B>(K, class_chunk_, [&](int64_t b, int64_t e) {
                T y = B::slice0(x, b, e);
                for (int i = 0; i < 3; ++i) y = up_[size_t(i)].forward(y, terms[i]);
                return output_.forward(y);                                             // [n, H4, W4]
            }));
        timer.lap("head.up_decoder");
        x = T();  // not needed any more: freed before the T-class reconstruction is allocated

        // H14: reconstruction over the whole vocabulary (host).
        const int64_t H4 = logits_kept.size(1), W4 = logits_kept.size(2), plane = H4 * W4;
        Tensor logits = Tensor::full({num_classes, H4, W4}, kUnselectedLogit);
        const float* src = logits_kept.data<float>();
        float* dst = logits.data<float>();
        for (int64_t i = 0; i < K; ++i) std::copy_n(src + i * plane, plane, dst + order[size_t(i)] * plane);
        return logits;
    }

private:
    ErrSegHeadConfig cfg_;
    CostEmbeddingOn<B> cost_embedding_;
    GuidanceProjectionOn<B> image_guidance_;
    TextGuidanceOn<B> text_guidance_;
    std::vector<AggregatorLayerOn<B>> layers_;
    UpDecoderOn<B> up_[3];
    OutputHeadOn<B> output_;
    int64_t class_chunk_ = 8;
};

using AggregatorLayer = AggregatorLayerOn<CpuBackend>;
ERRSEG_CPU_INSTANCE(class AggregatorLayerOn<CpuBackend>)
using ErrSegHead = ErrSegHeadOn<CpuBackend>;
ERRSEG_CPU_INSTANCE(class ErrSegHeadOn<CpuBackend>)

}  // namespace errseg::models
