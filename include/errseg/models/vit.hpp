// OpenAI CLIP vision transformer (OpenAI / OpenCLIP `VisionTransformer`), spec §5.2.
// Weights under "clip.visual." (pass that scope):
//   conv1.weight [w, 3, p, p] (no bias), class_embedding [w], positional_embedding [1 + g*g, w],
//   ln_pre, transformer.resblocks.{i}.* (pre-norm, no mask, see clip_transformer.hpp),
//   ln_post, proj [w, E] (used as x @ W).
//
//   tokens = patchify(x) (row-major grid) ; x = [class_embedding, tokens] + positional_embedding
//   x = transformer(ln_pre(x)) ; pooled = ln_post(x[:, 0]) @ proj
//
// Inputs whose patch grid differs from the checkpoint's get a resized position grid (the class
// position is kept): by default the way open_clip's resize_pos_embed does it (bicubic with
// antialias, align_corners=False); PosEmbedResize::Bicubic gives F.interpolate's plain bicubic
// (A = -0.75, no antialias), which CAT-Seg uses at every forward.
#pragma once
#include <cmath>
#include <vector>

#include "../core.hpp"
#include "../io/weights.hpp"
#include "../ops.hpp"
#include "clip_config.hpp"
#include "clip_transformer.hpp"
#include "preprocess.hpp"

namespace errseg::models {

enum class PosEmbedResize { OpenClipAntialias, Bicubic };

struct VitOutput {
    Tensor pooled;                      // [N, E]: ln_post(class token) @ proj
    Tensor tokens;                      // [N, gh*gw, w]: last block's patch tokens (before ln_post)
    Tensor class_token;                 // [N, w]: last block's class token (before ln_post)
    std::vector<Tensor> intermediates;  // requested blocks' outputs, patch tokens only [N, gh*gw, w]
    int64_t grid_h = 0, grid_w = 0;
};

class VisionTransformer {
public:
    VisionTransformer(const Weights& visual, const VitConfig& cfg,
                      PosEmbedResize pos_resize = PosEmbedResize::OpenClipAntialias)
        : cfg_(cfg), pos_resize_(pos_resize) {
        const int64_t w = cfg.width, p = cfg.patch_size;
        conv1_w_ = visual.get("conv1.weight", {w, 3, p, p});
        class_embedding_ = visual.get("class_embedding", {w});
        positional_embedding_ = visual.get("positional_embedding");
        const int64_t seq = positional_embedding_.size(0);
        grid_ = int64_t(std::lround(std::sqrt(double(seq - 1))));
        ERRSEG_CHECK(positional_embedding_.dim() == 2 && positional_embedding_.size(1) == w &&
                         grid_ * grid_ + 1 == seq,
                     "visual.positional_embedding has shape ", shape_str(positional_embedding_.shape()),
                     ", expected [1 + g*g, ", w, "]");
        ln_pre_w_ = visual.get("ln_pre.weight", {w});
        ln_pre_b_ = visual.get("ln_pre.bias", {w});
        transformer_ = ClipTransformer(visual.scope("transformer."), w, cfg.layers, cfg.heads,
                                       activation_from_name(cfg.act), cfg.eps);
        ln_post_w_ = visual.get("ln_post.weight", {w});
        ln_post_b_ = visual.get("ln_post.bias", {w});
        proj_ = visual.get("proj", {w, cfg.embed_dim});
    }

    const VitConfig& config() const { return cfg_; }
    int64_t native_grid() const { return grid_; }

    // Position embeddings for a gh x gw patch grid: [1 + gh*gw, w] (the stored ones when equal).
    Tensor positional_embedding(int64_t gh, int64_t gw) const {
        if (gh == grid_ && gw == grid_) return positional_embedding_;
        const int64_t w = cfg_.width;
        // [g*g, w] -> [1, w, g, g], resize, -> [gh*gw, w]
        Tensor grid = positional_embedding_.slice(0, 1, 1 + grid_ * grid_).reshape({1, grid_, grid_, w});
        grid = grid.permute({0, 3, 1, 2}).contiguous();
        Tensor resized = pos_resize_ == PosEmbedResize::OpenClipAntialias
                             ? resample::resize_bicubic_antialias(grid, gh, gw)
                             : ops::resize_bicubic(grid, gh, gw, /*align_corners=*/false);
        Tensor flat = resized.permute({0, 2, 3, 1}).reshape({gh * gw, w});
        return ops::concat({positional_embedding_.slice(0, 0, 1), flat}, 0);
    }

    // x [N, 3, H, W] (normalised). `intermediate_blocks`: 0-based block indices whose outputs
    // to return (patch tokens), e.g. CAT-Seg's {3, 7} for ViT-B.
    VitOutput forward(const Tensor& x, const std::vector<int>& intermediate_blocks = {}) const {
        ERRSEG_CHECK(x.dim() == 4 && x.size(1) == 3, "VisionTransformer: input ", shape_str(x.shape()),
                     " is not [N, 3, H, W]");
        const int64_t n = x.size(0), w = cfg_.width, p = cfg_.patch_size;
        ERRSEG_CHECK(x.size(2) >= p && x.size(3) >= p, "VisionTransformer: input ", shape_str(x.shape()),
                     " is smaller than one ", p, "x", p, " patch");
        for (int b : intermediate_blocks)
            ERRSEG_CHECK(b >= 0 && b < transformer_.layers(), "VisionTransformer: block ", b,
                         " requested, the model has ", transformer_.layers());

        // Patchify: conv p x p stride p without bias -> [N, w, gh, gw] -> [N, gh*gw, w].
        ops::Conv2dParams cp;
        cp.stride_h = cp.stride_w = int(p);
        Tensor patches = ops::conv2d(x, conv1_w_, Tensor(), cp);
        const int64_t gh = patches.size(2), gw = patches.size(3);
        patches = patches.reshape({n, w, gh * gw}).permute({0, 2, 1});

        // [class, patches] + positions, ln_pre.
        Tensor cls = Tensor::empty({n, 1, w});
        for (int64_t b = 0; b < n; ++b)
            std::copy_n(class_embedding_.data<float>(), w, cls.data<float>() + b * w);
        Tensor seq = ops::add(ops::concat({cls, patches}, 1), positional_embedding(gh, gw));
        seq = ops::layer_norm(seq, ln_pre_w_, ln_pre_b_, cfg_.eps);

        std::vector<Tensor> blocks;
        seq = transformer_.forward(seq, /*causal=*/false, intermediate_blocks.empty() ? nullptr : &blocks);

        VitOutput out;
        out.grid_h = gh;
        out.grid_w = gw;
        out.class_token = seq.select(1, 0).contiguous();
        out.tokens = seq.slice(1, 1, 1 + gh * gw).contiguous();
        for (int b : intermediate_blocks)
            out.intermediates.push_back(blocks[size_t(b)].slice(1, 1, 1 + gh * gw).contiguous());
        out.pooled = project(out.class_token);
        return out;
    }

    // Pooled image embedding [N, E] (not normalised).
    Tensor embed(const Tensor& x) const { return forward(x).pooled; }

    // ln_post then @ proj on token vectors: [..., w] -> [..., E].
    Tensor project(const Tensor& tokens) const {
        return ops::matmul(ops::layer_norm(tokens, ln_post_w_, ln_post_b_, cfg_.eps), proj_);
    }

private:
    VitConfig cfg_;
    PosEmbedResize pos_resize_;
    int64_t grid_ = 0;
    Tensor conv1_w_, class_embedding_, positional_embedding_, ln_pre_w_, ln_pre_b_;
    ClipTransformer transformer_;
    Tensor ln_post_w_, ln_post_b_, proj_;
};

}  // namespace errseg::models
