// ERR-Seg end to end (spec §2): an RGB image and a vocabulary in, a label map out.
//
//   ErrSegModel model = ErrSegModel::load("errseg_b.safetensors");
//   Tensor classes = model.encode_classes({"wall", "floor", "bed, bunk bed"});   // cached
//   ErrSegModel::Result r = model.segment(load_image("room.png"), classes);
//   // r.labels: I32 [H, W] class indices at the image's own size
//
// Pipeline: preprocess (normalise, resize to S x S) -> dense CLIP features (ConvNeXt + HSM) ->
// head (cost maps, CRM, cost embedding, aggregator, up-decoders) -> sigmoid, resize to the image
// size, argmax.
#pragma once
#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../../core/cpu_instances.hpp"
#include "../../core.hpp"
#include "../../io/image.hpp"
#include "../../io/weights.hpp"
#include "../../text/tokenizer.hpp"
#include "../clip_config.hpp"
#include "../clip_text.hpp"
#include "clip_features.hpp"
#include "common.hpp"
#include "config.hpp"
#include "head.hpp"
#include "postprocess.hpp"
#include "preprocess.hpp"
#include "text_embeddings.hpp"

namespace errseg::models {

struct SegmentOptions {
    int64_t top_k = -1;          // classes kept by CRM; <= 0: the model's K (min(K, T) is used)
    bool keep_probs = false;     // also return T x H x W probabilities at the image size
    bool upstream_crop = false;  // reproduce upstream's crop quirk for tiny images (postprocess.hpp)
    // First resize as the published evaluation's data loader does (800 short side, 1333 max, PIL
    // bilinear on 8 bits: upstream_test_resize); labels still come out at the image's own size.
    bool upstream_resize = false;
    // How CRM breaks exact ties (crm.hpp): TorchCpu (default: the class choice of upstream run on
    // CPU, as in the reference fixtures) or LowerIndex (the spec's rule; believed to match GPU).
    CrmTieRule crm_tie_rule = CrmTieRule::TorchCpu;
};

// What segment() returns (host tensors, whatever the backend).
struct SegmentResult {
    Tensor logits;                  // [T, h, w] decoder output (h = S/4); −100 where not selected
    Tensor probs;                   // [T, H, W] at the image size, only when requested
    Tensor labels;                  // I32 [H, W]
    std::vector<int64_t> selected;  // classes kept by CRM, ascending
    std::vector<std::pair<std::string, double>> timings_ms;
};

// B: the backend the networks run on (CpuBackend, or cuda::CudaBackend whose weights are
// uploaded once at load). Inputs and results are host tensors either way.
template <class B>
class ErrSegModelOn {
public:
    using T = typename B::Tensor;
    static ErrSegModelOn load(const std::string& path) { return ErrSegModelOn(Weights::open(path)); }
    static ErrSegModelOn from_weights(const Weights& weights) { return ErrSegModelOn(weights); }

    const ErrSegConfig& config() const { return cfg_; }
    const ErrSegImageEncoderOn<B>& image_encoder() const { return image_; }
    const ClipTextOn<B>& text_encoder() const { return text_; }
    const text::ClipTokenizer& tokenizer() const { return *tokenizer_; }
    const ErrSegHeadOn<B>& head() const { return head_; }
    ErrSegHeadOn<B>& head() { return head_; }

    // L2-normalised prompt embeddings of a vocabulary, [T, E] (row t = class_names[t]).
    // Cached per vocabulary; treat the returned tensor as read-only.
    Tensor encode_classes(const std::vector<std::string>& class_names) const {
        return cache_->get(class_names, [&](const std::vector<std::string>& names) {
            Tensor emb = encode_class_names(text_, *tokenizer_, cfg_.prompt_template, names);
            check_finite(emb, "the text encoder's output (class embeddings)",
                         ": the model's weights overflow float32 (a corrupt or mis-converted model?)");
            return emb;
        });
    }

    using Result = SegmentResult;

    Result segment(const Image& image, const Tensor& class_embeddings, int top_k = -1,
                   bool keep_probs = false) const {
        SegmentOptions opt;
        opt.top_k = top_k;
        opt.keep_probs = keep_probs;
        return segment(image, class_embeddings, opt);
    }

    Result segment(const Image& image, const Tensor& class_embeddings, const SegmentOptions& opt) const {
        return std::move(segment_batch(std::vector<const Image*>{&image}, class_embeddings, opt).front());
    }

    // Throughput mode: the image encoder runs once on all images stacked into [N, 3, S, S]
    // (every image is resized to S x S anyway); CRM picks classes per image, so the head and
    // postprocessing run per image. Result i is what segment(images[i]) returns, up to
    // floating-point rounding of the batched GEMMs. The clip.* timings of every result are
    // those of the whole batch.
    std::vector<Result> segment_batch(const std::vector<Image>& images, const Tensor& class_embeddings,
                                      const SegmentOptions& opt) const {
        std::vector<const Image*> pointers;
        for (const Image& image : images) pointers.push_back(&image);
        return segment_batch(pointers, class_embeddings, opt);
    }
    // The same for images the caller keeps elsewhere (no copies).
    std::vector<Result> segment_batch(const std::vector<const Image*>& images, const Tensor& class_embeddings,
                                      const SegmentOptions& opt) const {
        ERRSEG_CHECK(!images.empty(), "ErrSegModel::segment_batch: no images");
        ERRSEG_CHECK(class_embeddings.dim() == 2 && class_embeddings.size(1) == cfg_.embed_dim,
                     "ErrSegModel::segment: class embeddings must be [T, ", cfg_.embed_dim, "], got ",
                     shape_str(class_embeddings.shape()));
        check_finite(class_embeddings.to_f32(), "the class-embedding tensor");
        const int64_t n = int64_t(images.size());
        const auto start = std::chrono::steady_clock::now();
        errseg_detail::StageTimer::Timings shared;  // preprocess and image encoder, whole batch
        errseg_detail::StageTimer timer(&shared);

        std::vector<Tensor> inputs;
        std::vector<std::array<int64_t, 2>> input_sizes;  // {h, w} the network input was made from
        for (const Image* image : images) {
            const Image resized = opt.upstream_resize ? upstream_test_resize(*image) : Image();
            const Image& given = opt.upstream_resize ? resized : *image;
            inputs.push_back(preprocess_image(given, cfg_.input));
            input_sizes.push_back({given.height, given.width});
        }
        const T input = B::upload(n == 1 ? inputs.front() : ops::concat(inputs, 0));
        inputs.clear();
        timer.lap("preprocess");

        const DenseFeaturesOf<T> batch = image_.forward(input, &shared);  // clip.* laps
        const T text = B::upload(class_embeddings.to_f32());
        const double shared_ms = ms_since(start);

        std::vector<Result> results(images.size());
        for (int64_t i = 0; i < n; ++i) {
            const auto image_start = std::chrono::steady_clock::now();
            Result& r = results[size_t(i)];
            r.timings_ms = shared;
            typename ErrSegHeadOn<B>::Output head = head_.forward(image_features(batch, i), text, opt.top_k,
                                                                  opt.crm_tie_rule);
            r.timings_ms.insert(r.timings_ms.end(), head.timings_ms.begin(), head.timings_ms.end());  // head.*
            errseg_detail::StageTimer post_timer(&r.timings_ms);
            r.logits = std::move(head.logits);
            r.selected = std::move(head.selected);
            // Finite weights can still overflow float32 on the way (extreme values): a NaN would
            // give a confident-looking label map, so the image fails instead.
            check_finite(r.logits, "the decoder's output (logits) for this image",
                         ": the model overflows float32 on it (extreme weights or class embeddings?)");

            PostprocessOptions post;
            post.keep_probs = opt.keep_probs;
            post.upstream_crop = opt.upstream_crop;
            post.input_h = input_sizes[size_t(i)][0];
            post.input_w = input_sizes[size_t(i)][1];
            const Image& image = *images[size_t(i)];
            PostprocessResult out = postprocess(r.logits, r.selected, image.height, image.width,
                                                ErrSegHeadOn<B>::kUnselectedLogit, post);
            r.labels = std::move(out.labels);
            r.probs = std::move(out.probs);
            post_timer.lap("postprocess");
            r.timings_ms.emplace_back("total", shared_ms + ms_since(image_start));
        }
        return results;
    }

private:
    static double ms_since(std::chrono::steady_clock::time_point t) {
        return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
    }

    // Image i of batched dense features, as the batch-1 features the head takes (views).
    static DenseFeaturesOf<T> image_features(const DenseFeaturesOf<T>& f, int64_t i) {
        if (f.os4.size(0) == 1) return f;
        return {B::slice0(f.os4, i, i + 1),  B::slice0(f.os8, i, i + 1),        B::slice0(f.os16, i, i + 1),
                B::slice0(f.os32, i, i + 1), B::slice0(f.os16_dense, i, i + 1), B::slice0(f.clip_vis_dense, i, i + 1)};
    }

    explicit ErrSegModelOn(const Weights& w)
        : cfg_(ErrSegConfig::from_json(w.config())),
          image_(w.scope("clip.visual."), ConvNeXtConfig::from_json(w.config()["clip"])),
          text_(w.scope("clip."), TextConfig::from_json(w.config()["clip"])),
          head_(w.scope("head."), cfg_.head),
          cache_(std::make_shared<TextEmbeddingCache>()) {
        const std::string merges = w.metadata("errseg.bpe_merges");
        ERRSEG_CHECK(!merges.empty(), "model file ", w.path(), " has no 'errseg.bpe_merges' metadata");
        tokenizer_ = std::make_shared<text::ClipTokenizer>(text::ClipTokenizer::from_merges(merges));
        ERRSEG_CHECK(text_.config().embed_dim == cfg_.embed_dim &&
                         image_.trunk().config().embed_dim == cfg_.embed_dim &&
                         cfg_.head.text_guidance_dim == cfg_.embed_dim,
                     "ERR-Seg model: CLIP embedding widths disagree (text ", text_.config().embed_dim, ", image ",
                     image_.trunk().config().embed_dim, ", head ", cfg_.head.text_guidance_dim, ")");
    }

    ErrSegConfig cfg_;
    ErrSegImageEncoderOn<B> image_;
    ClipTextOn<B> text_;
    ErrSegHeadOn<B> head_;
    std::shared_ptr<text::ClipTokenizer> tokenizer_;
    std::shared_ptr<TextEmbeddingCache> cache_;
};

using ErrSegModel = ErrSegModelOn<CpuBackend>;
ERRSEG_CPU_INSTANCE(class ErrSegModelOn<CpuBackend>)

}  // namespace errseg::models
