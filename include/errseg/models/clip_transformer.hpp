// The pre-norm residual transformer shared by the CLIP text tower and the OpenAI ViT:
// OpenAI/OpenCLIP `Transformer` with `ResidualAttentionBlock`s, weights under
// `<prefix>resblocks.{i}.`:
//   x = x + out_proj(MHA(ln_1(x)))          packed attn.in_proj_weight [3w, w] (q, k, v rows)
//   x = x + c_proj(act(c_fc(ln_2(x))))       c_fc w -> 4w, act = GELU (OpenCLIP) / QuickGELU (OpenAI)
// Sequences are batch-first here ([B, L, w]); torch's sequence-first layout gives the same numbers.
#pragma once
#include <string>
#include <vector>

#include "../core/cpu_instances.hpp"
#include "../core.hpp"
#include "../io/weights.hpp"
#include "../backend/cpu_backend.hpp"
#include "../ops.hpp"
#include "clip_config.hpp"

namespace errseg::models {

template <class B>
struct ResidualAttentionBlockOn {
    using T = typename B::Tensor;
    T ln1_w, ln1_b, in_proj_w, in_proj_b, out_proj_w, out_proj_b;
    T ln2_w, ln2_b, fc_w, fc_b, proj_w, proj_b;

    // `w` is scoped to the block ("...resblocks.i.").
    static ResidualAttentionBlockOn load(const Weights& w, int64_t width) {
        ResidualAttentionBlockOn b;
        b.ln1_w = B::upload(w.get("ln_1.weight", {width}));
        b.ln1_b = B::upload(w.get("ln_1.bias", {width}));
        b.in_proj_w = B::upload(w.get("attn.in_proj_weight", {3 * width, width}));
        b.in_proj_b = B::upload(w.get("attn.in_proj_bias", {3 * width}));
        b.out_proj_w = B::upload(w.get("attn.out_proj.weight", {width, width}));
        b.out_proj_b = B::upload(w.get("attn.out_proj.bias", {width}));
        b.ln2_w = B::upload(w.get("ln_2.weight", {width}));
        b.ln2_b = B::upload(w.get("ln_2.bias", {width}));
        const Tensor fc_w = w.get("mlp.c_fc.weight");
        const int64_t hidden = fc_w.size(0);
        ERRSEG_CHECK(fc_w.shape() == Shape({hidden, width}), "tensor '", w.prefix(),
                     "mlp.c_fc.weight' has shape ", shape_str(fc_w.shape()), ", expected [*, ", width, "]");
        b.fc_w = B::upload(fc_w);
        b.fc_b = B::upload(w.get("mlp.c_fc.bias", {hidden}));
        b.proj_w = B::upload(w.get("mlp.c_proj.weight", {width, hidden}));
        b.proj_b = B::upload(w.get("mlp.c_proj.bias", {width}));
        return b;
    }

    // x [B, L, w] -> [B, L, w]
    T forward(const T& x, int heads, bool causal, Activation act, float eps) const {
        T h = B::layer_norm(x, ln1_w, ln1_b, eps);
        h = B::multi_head_self_attention(h, in_proj_w, in_proj_b, out_proj_w, out_proj_b, heads, causal);
        const T y = B::add(x, h);
        h = B::layer_norm(y, ln2_w, ln2_b, eps);
        h = B::linear(h, fc_w, fc_b, act);                     // c_fc -> gelu / quick_gelu
        return B::linear(h, proj_w, proj_b, Activation::None, y);  // y + c_proj(h)
    }
};

template <class B>
class ClipTransformerOn {
public:
    using T = typename B::Tensor;
    ClipTransformerOn() = default;

    // `w` is scoped to the transformer ("transformer." or "visual.transformer.").
    ClipTransformerOn(const Weights& w, int64_t width, int64_t layers, int64_t heads, Activation act,
                    float eps)
        : width_(width), heads_(int(heads)), act_(act), eps_(eps) {
        for (int64_t i = 0; i < layers; ++i)
            blocks_.push_back(
                ResidualAttentionBlockOn<B>::load(w.scope("resblocks." + std::to_string(i) + "."), width));
        ERRSEG_CHECK(!w.has("resblocks." + std::to_string(layers) + ".ln_1.weight"), "model file ",
                     w.path(), " has more than the ", layers, " transformer blocks its config lists (",
                     w.prefix(), "resblocks.", layers, ")");
    }

    int64_t layers() const { return int64_t(blocks_.size()); }
    int64_t width() const { return width_; }

    // x [B, L, w]. When `block_outputs` is given, every block's output is appended to it.
    T forward(T x, bool causal, std::vector<T>* block_outputs = nullptr) const {
        ERRSEG_CHECK(x.dim() == 3 && x.size(2) == width_, "CLIP transformer: input ",
                     shape_str(x.shape()), " is not [B, L, ", width_, "]");
        for (const ResidualAttentionBlockOn<B>& b : blocks_) {
            x = b.forward(x, heads_, causal, act_, eps_);
            if (block_outputs) block_outputs->push_back(x);
        }
        return x;
    }

    // Only the first n blocks (for taking intermediate layers without running the rest).
    T forward_blocks(T x, int64_t n, bool causal) const {
        ERRSEG_CHECK(n >= 0 && n <= layers(), "CLIP transformer: ", n, " blocks requested of ", layers());
        for (int64_t i = 0; i < n; ++i) x = blocks_[size_t(i)].forward(x, heads_, causal, act_, eps_);
        return x;
    }

private:
    std::vector<ResidualAttentionBlockOn<B>> blocks_;
    int64_t width_ = 0;
    int heads_ = 1;
    Activation act_ = Activation::Gelu;
    float eps_ = 1e-5f;
};

using ResidualAttentionBlock = ResidualAttentionBlockOn<CpuBackend>;
ERRSEG_CPU_INSTANCE(class ResidualAttentionBlockOn<CpuBackend>)
using ClipTransformer = ClipTransformerOn<CpuBackend>;
ERRSEG_CPU_INSTANCE(class ClipTransformerOn<CpuBackend>)

}  // namespace errseg::models
