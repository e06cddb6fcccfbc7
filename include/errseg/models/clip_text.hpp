// The CLIP text tower (OpenAI CLIP / OpenCLIP `encode_text`), spec §2.6 step 3 and §5.3.
// Weights under "clip." (pass that scope):
//   token_embedding.weight [V, w], positional_embedding [ctx, w],
//   transformer.resblocks.{i}.* (causal pre-norm blocks, see clip_transformer.hpp),
//   ln_final.{weight,bias} [w], text_projection [w, E] (used as x @ W).
//
//   x = token_embedding[ids] + positional_embedding
//   x = transformer(x, causal mask)
//   out = ln_final(x[b, eot_b]) @ text_projection,  eot_b = argmax(ids[b]) (EOT has the largest id)
//
// Because the mask is causal, positions after the last EOT of the batch cannot influence any
// EOT output: by default only the first max_b(eot_b) + 1 positions are computed.
#pragma once
#include <algorithm>
#include <vector>

#include "../core/cpu_instances.hpp"
#include "../core.hpp"
#include "../io/weights.hpp"
#include "../ops.hpp"
#include "clip_config.hpp"
#include "clip_transformer.hpp"

namespace errseg::models {

template <class B>
class ClipTextOn {
public:
    using T = typename B::Tensor;

    ClipTextOn(const Weights& clip, const TextConfig& cfg) : cfg_(cfg) {
        const int64_t w = cfg.width;
        token_embedding_ = clip.get("token_embedding.weight", {cfg.vocab_size, w});
        positional_embedding_ = clip.get("positional_embedding", {cfg.context_length, w});
        transformer_ = ClipTransformerOn<B>(clip.scope("transformer."), w, cfg.layers, cfg.heads,
                                            activation_from_name(cfg.act), cfg.eps);
        ln_final_w_ = B::upload(clip.get("ln_final.weight", {w}));
        ln_final_b_ = B::upload(clip.get("ln_final.bias", {w}));
        text_projection_ = B::upload(clip.get("text_projection", {w, cfg.embed_dim}));
    }

    const TextConfig& config() const { return cfg_; }

    // tokens: I32 or I64 [B, L], L <= context_length, zero-padded rows as the tokenizer makes them.
    // Returns the text_projection output [B, E] (NOT normalised).
    // truncate_after_eot: compute only up to the last EOT of the batch (same result, causal mask);
    // false runs all L positions, as PyTorch does.
    T encode(const Tensor& tokens, bool truncate_after_eot = true) const {
        ERRSEG_CHECK(tokens.dim() == 2, "ClipText::encode: tokens ", shape_str(tokens.shape()),
                     " are not [B, L]");
        ERRSEG_CHECK(tokens.dtype() == DType::I32 || tokens.dtype() == DType::I64,
                     "ClipText::encode: tokens must be I32 or I64, got ", dtype_name(tokens.dtype()));
        const int64_t batch = tokens.size(0), len = tokens.size(1), w = cfg_.width;
        ERRSEG_CHECK(len >= 1 && len <= cfg_.context_length, "ClipText::encode: ", len,
                     " tokens per row, the model's context length is ", cfg_.context_length);
        const std::vector<int64_t> ids = token_ids(tokens);

        // EOT position of each row: the first position of the largest id (torch.argmax).
        std::vector<int64_t> eot(size_t(batch), 0);
        for (int64_t b = 0; b < batch; ++b) {
            const int64_t* row = ids.data() + b * len;
            eot[size_t(b)] = std::max_element(row, row + len) - row;
        }
        const int64_t n = truncate_after_eot ? *std::max_element(eot.begin(), eot.end()) + 1 : len;

        // x = token_embedding[ids] + positional_embedding, first n positions (a host gather: the
        // embedding table stays in the model file's memory map).
        Tensor x = Tensor::empty({batch, n, w});
        float* xd = x.data<float>();
        const float* tok = token_embedding_.data<float>();
        const float* pos = positional_embedding_.data<float>();
        for (int64_t b = 0; b < batch; ++b)
            for (int64_t i = 0; i < n; ++i) {
                const int64_t id = ids[size_t(b * len + i)];
                float* dst = xd + (b * n + i) * w;
                for (int64_t c = 0; c < w; ++c) dst[c] = tok[id * w + c] + pos[i * w + c];
            }

        const T y = transformer_.forward(B::upload(x), /*causal=*/true);

        // The EOT rows only; ln_final is per row, so normalising after the gather is identical.
        std::vector<int64_t> rows(static_cast<size_t>(batch));
        for (int64_t b = 0; b < batch; ++b) rows[size_t(b)] = b * n + eot[size_t(b)];
        const T pooled = B::index_select(y.reshape({batch * n, w}), 0, rows);
        return B::matmul(B::layer_norm(pooled, ln_final_w_, ln_final_b_, cfg_.eps), text_projection_);
    }

private:
    // Token ids as int64, range-checked against the vocabulary.
    std::vector<int64_t> token_ids(const Tensor& tokens) const {
        const Tensor t = tokens.contiguous();
        const int64_t n = t.numel();
        std::vector<int64_t> ids(static_cast<size_t>(n));
        if (t.dtype() == DType::I32)
            std::copy(t.data<int32_t>(), t.data<int32_t>() + n, ids.begin());
        else
            std::copy(t.data<int64_t>(), t.data<int64_t>() + n, ids.begin());
        for (int64_t id : ids)
            ERRSEG_CHECK(id >= 0 && id < cfg_.vocab_size, "ClipText::encode: token id ", id,
                         " outside the vocabulary [0, ", cfg_.vocab_size, ")");
        return ids;
    }

    TextConfig cfg_;
    Tensor token_embedding_, positional_embedding_;  // host (gathered on the host)
    ClipTransformerOn<B> transformer_;
    T ln_final_w_, ln_final_b_, text_projection_;
};

using ClipText = ClipTextOn<CpuBackend>;
ERRSEG_CPU_INSTANCE(class ClipTextOn<CpuBackend>)

}  // namespace errseg::models
