// A whole CLIP model from one errseg model file: text tower + image tower (OpenCLIP ConvNeXt or
// OpenAI ViT) + the BPE tokenizer, all described by the file's metadata (spec §5).
//
//   Clip clip = Clip::load("model.safetensors");          // architecture "clip" or "errseg"
//   Tensor t = clip.encode_text({"a photo of a cat"});    // [T, E]
//   Tensor x = clip_preprocess(load_image(path), clip.image_size());
//   Tensor i = clip.encode_image(x);                      // [N, E]
//   logits = clip.logit_scale() * l2_normalize(i) @ l2_normalize(t)^T
//
// Embeddings are returned un-normalised, as OpenCLIP's encode_* with normalize=False.
// ClipOn<B> runs the towers on backend B (inputs and results are host tensors); Clip is the CPU
// one. The ViT tower (vit.hpp) is CPU-only for now: ClipOn<B> refuses ViT models on other backends.
#pragma once
#include <cmath>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "../backend/cpu_backend.hpp"
#include "../core.hpp"
#include "../core/cpu_instances.hpp"
#include "../io/weights.hpp"
#include "../ops.hpp"
#include "../text/tokenizer.hpp"
#include "clip_config.hpp"
#include "clip_text.hpp"
#include "convnext.hpp"
#include "vit.hpp"

namespace errseg::models {

template <class B>
class ClipOn {
public:
    static ClipOn load(const std::string& path) { return ClipOn(Weights::open(path)); }

    // From already-opened weights (the whole file, unscoped).
    explicit ClipOn(const Weights& w) : weights_(w) {
        const json::Value& cfg = w.config();
        const std::string arch = cfg.string_or("architecture", "");
        ERRSEG_CHECK(arch == "clip" || arch == "errseg", "model file ", w.path(), ": architecture '", arch,
                     "' has no CLIP model (expected \"clip\" or \"errseg\")");
        const json::Value& clip_cfg = cfg["clip"];
        const Weights clip = w.scope("clip.");
        text_ = std::make_shared<ClipTextOn<B>>(clip, TextConfig::from_json(clip_cfg));

        const std::string type = vision_type(clip_cfg);
        if (type == "convnext") {
            convnext_ = std::make_shared<ConvNeXtOn<B>>(clip.scope("visual."), ConvNeXtConfig::from_json(clip_cfg));
            image_size_ = convnext_->config().image_size;
        } else if (type == "vit") {
            ERRSEG_CHECK((std::is_same_v<B, CpuBackend>), "model file ", w.path(),
                         ": CLIP ViT image towers run on the CPU only (for now); use --device cpu");
            vit_ = std::make_shared<VisionTransformer>(clip.scope("visual."), VitConfig::from_json(clip_cfg));
            image_size_ = vit_->config().image_size;
        } else {
            fail("model file ", w.path(), ": unknown CLIP vision tower type '", type, "'");
        }

        // logit_scale is a training parameter some conversions drop; 1 (log 0) when absent.
        if (clip.has("logit_scale")) {
            const Tensor s = clip.get("logit_scale");
            ERRSEG_CHECK(s.numel() == 1, "clip.logit_scale has shape ", shape_str(s.shape()), ", expected a scalar");
            log_logit_scale_ = s.data<float>()[0];
        }

        const std::string merges = w.metadata("errseg.bpe_merges");
        if (!merges.empty())
            tokenizer_ = std::make_shared<text::ClipTokenizer>(text::ClipTokenizer::from_merges(merges));
    }

    // Tokenise (CLIP BPE, SOT/EOT, zero padding to the context length) and encode: [T, E].
    Tensor encode_text(const std::vector<std::string>& texts) const {
        ERRSEG_CHECK(tokenizer_, "model file ", weights_.path(),
                     " carries no tokenizer ('errseg.bpe_merges' metadata); use encode_tokens");
        return B::download(text_->encode(tokenizer_->tokenize_batch(texts, int(text_->config().context_length))));
    }

    // Token ids I32/I64 [B, L] -> [B, E].
    Tensor encode_tokens(const Tensor& tokens) const { return B::download(text_->encode(tokens)); }

    // Preprocessed images [N, 3, H, W] (see preprocess.hpp) -> pooled embeddings [N, E].
    Tensor encode_image(const Tensor& preprocessed) const {
        return convnext_ ? B::download(convnext_->embed(B::upload(preprocessed))) : vit_->embed(preprocessed);
    }

    // The logit multiplier exp(logit_scale) (≈ 100 for trained CLIP models).
    float logit_scale() const { return std::exp(log_logit_scale_); }
    // The stored parameter itself (natural log of the multiplier).
    float log_logit_scale() const { return log_logit_scale_; }

    // The native square input size of the image tower (e.g. 224, 320).
    int64_t image_size() const { return image_size_; }

    const ClipTextOn<B>& text() const { return *text_; }
    const ConvNeXtOn<B>* convnext() const { return convnext_.get(); }   // null for a ViT model
    const VisionTransformer* vit() const { return vit_.get(); }         // null for a ConvNeXt model
    const text::ClipTokenizer* tokenizer() const { return tokenizer_.get(); }
    const Weights& weights() const { return weights_; }

private:
    Weights weights_;
    std::shared_ptr<ClipTextOn<B>> text_;
    std::shared_ptr<ConvNeXtOn<B>> convnext_;
    std::shared_ptr<VisionTransformer> vit_;
    std::shared_ptr<text::ClipTokenizer> tokenizer_;
    float log_logit_scale_ = 0.f;
    int64_t image_size_ = 0;
};

using Clip = ClipOn<CpuBackend>;
ERRSEG_CPU_INSTANCE(class ClipOn<CpuBackend>)

// Prompts for zero-shot classification: `{}` in the template is replaced by each label (no
// `{}`: the label is appended after a space).
inline std::vector<std::string> prompts_from_template(const std::string& tmpl, const std::vector<std::string>& labels) {
    const size_t slot = tmpl.find("{}");
    std::vector<std::string> prompts;
    for (const std::string& l : labels)
        prompts.push_back(slot == std::string::npos ? tmpl + " " + l : tmpl.substr(0, slot) + l + tmpl.substr(slot + 2));
    return prompts;
}

// CLIP zero-shot classification: softmax over prompts of logit_scale x cosine similarity.
// image_embeddings [N, E] (encode_image) -> probabilities [N, prompts]. ClipT: models::Clip or
// the run-time-device errseg::Clip (front/clip.hpp), anything with encode_text and logit_scale.
template <class ClipT>
Tensor zero_shot_probs(const ClipT& clip, const Tensor& image_embeddings, const std::vector<std::string>& prompts) {
    const Tensor text = ops::l2_normalize(clip.encode_text(prompts));
    const Tensor logits = ops::scale(ops::matmul(ops::l2_normalize(image_embeddings), text, /*trans_b=*/true),
                                     float(clip.logit_scale()));
    return ops::softmax(logits, -1);
}

}  // namespace errseg::models
