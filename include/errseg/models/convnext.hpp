// OpenCLIP ConvNeXt image tower: OpenCLIP's TimmModel around a timm ConvNeXt
// (conv_mlp=False, layer scale, head_norm_first=False), spec §2.3, §2.5, §5.1.
// Weights under "clip.visual." (pass that scope):
//   trunk.stem.{0 conv 4x4 s4, 1 LN2d}
//   trunk.stages.{s}.downsample.{0 LN2d, 1 conv 2x2 s2}        (s >= 1; identity for s = 0)
//   trunk.stages.{s}.blocks.{j}.{conv_dw, norm, mlp.fc1, mlp.fc2, gamma}
//   trunk.head.norm (LN2d)                                      then OpenCLIP's head:
//   head.proj.weight (linear, no bias)  |  head.mlp.fc1.{weight,bias}, head.mlp.fc2.weight (mlp)
// All LayerNorms use cfg.eps (1e-6); every activation is exact GELU.
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
class ConvNeXtOn {
public:
    using T = typename B::Tensor;

    ConvNeXtOn(const Weights& visual, const ConvNeXtConfig& cfg) : cfg_(cfg) {
        cfg_.validate();
        const Weights trunk = visual.scope("trunk.");
        const auto& d = cfg_.dims;

        stem_conv_w_ = B::upload(trunk.get("stem.0.weight", {d[0], 3, 4, 4}));
        stem_conv_b_ = B::upload(trunk.get("stem.0.bias", {d[0]}));
        stem_norm_w_ = B::upload(trunk.get("stem.1.weight", {d[0]}));
        stem_norm_b_ = B::upload(trunk.get("stem.1.bias", {d[0]}));

        for (int s = 0; s < 4; ++s) {
            const Weights st = trunk.scope("stages." + std::to_string(s) + ".");
            Stage stage;
            if (s > 0) {
                stage.ds_norm_w = B::upload(st.get("downsample.0.weight", {d[s - 1]}));
                stage.ds_norm_b = B::upload(st.get("downsample.0.bias", {d[s - 1]}));
                stage.ds_conv_w = B::upload(st.get("downsample.1.weight", {d[s], d[s - 1], 2, 2}));
                stage.ds_conv_b = B::upload(st.get("downsample.1.bias", {d[s]}));
            }
            for (int64_t j = 0; j < cfg_.depths[s]; ++j)
                stage.blocks.push_back(load_block(st.scope("blocks." + std::to_string(j) + "."), d[s]));
            ERRSEG_CHECK(!st.has("blocks." + std::to_string(cfg_.depths[s]) + ".gamma"), "model file ",
                         visual.path(), " has more blocks in stage ", s, " than its config's depth ",
                         cfg_.depths[s]);
            stages_.push_back(std::move(stage));
        }

        const int64_t c3 = d[3], e = cfg_.embed_dim;
        head_norm_w_ = B::upload(trunk.get("head.norm.weight", {c3}));
        head_norm_b_ = B::upload(trunk.get("head.norm.bias", {c3}));
        if (cfg_.head == "linear") {
            proj_w_ = B::upload(visual.get("head.proj.weight", {e, c3}));
            if (visual.has("head.proj.bias")) proj_b_ = B::upload(visual.get("head.proj.bias", {e}));
        } else {
            mlp_fc1_w_ = B::upload(visual.get("head.mlp.fc1.weight"));
            const int64_t hidden = mlp_fc1_w_.size(0);
            ERRSEG_CHECK(mlp_fc1_w_.shape() == Shape({hidden, c3}), "head.mlp.fc1.weight has shape ",
                         shape_str(mlp_fc1_w_.shape()), ", expected [*, ", c3, "]");
            mlp_fc1_b_ = B::upload(visual.get("head.mlp.fc1.bias", {hidden}));
            mlp_fc2_w_ = B::upload(visual.get("head.mlp.fc2.weight", {e, hidden}));
            if (visual.has("head.mlp.fc2.bias")) mlp_fc2_b_ = B::upload(visual.get("head.mlp.fc2.bias", {e}));
        }
    }

    const ConvNeXtConfig& config() const { return cfg_; }

    // Conv 4x4 stride 4 (+bias) then LN2d: [N, 3, H, W] -> [N, d0, H/4, W/4] (floored).
    T stem(const T& x) const {
        ERRSEG_CHECK(x.dim() == 4 && x.size(1) == 3, "ConvNeXt: input ", shape_str(x.shape()),
                     " is not [N, 3, H, W]");
        ERRSEG_CHECK(x.size(2) >= 4 && x.size(3) >= 4, "ConvNeXt: input ", shape_str(x.shape()),
                     " is smaller than the 4x4 stem");
        ops::Conv2dParams p;
        p.stride_h = p.stride_w = 4;
        const T y = B::conv2d(x, stem_conv_w_, stem_conv_b_, p);
        return B::layer_norm2d(y, stem_norm_w_, stem_norm_b_, cfg_.eps);
    }

    // Stage s >= 1: LN2d then conv 2x2 stride 2 (+bias), halving H and W (floored). Identity for s = 0.
    T downsample(int s, const T& x) const {
        check_stage(s);
        if (s == 0) return x;
        const Stage& st = stages_[size_t(s)];
        const T y = B::layer_norm2d(x, st.ds_norm_w, st.ds_norm_b, cfg_.eps);
        ops::Conv2dParams p;
        p.stride_h = p.stride_w = 2;
        return B::conv2d(y, st.ds_conv_w, st.ds_conv_b, p);
    }

    // All ConvNeXt blocks of stage s (shape-preserving).
    T blocks(int s, const T& x) const {
        check_stage(s);
        T y = x;
        for (const Block& b : stages_[size_t(s)].blocks) y = block(b, y);
        return y;
    }

    T stage(int s, const T& x) const { return blocks(s, downsample(s, x)); }

    // The four stage outputs (strides 4, 8, 16, 32), raw (no norm), NCHW.
    std::vector<T> forward_stages(const T& x) const {
        std::vector<T> out;
        T y = stem(x);
        for (int s = 0; s < 4; ++s) {
            y = stage(s, y);
            out.push_back(y);
        }
        return out;
    }

    // Every pixel of a stride-32 map treated as a 1x1 image and pushed through the image head
    // (trunk.head.norm LN2d, then visual.head): [N, C3, H, W] -> [N, E, H, W] (spec §2.5).
    T project_dense(const T& feat) const {
        ERRSEG_CHECK(feat.dim() == 4 && feat.size(1) == cfg_.dims[3], "ConvNeXt::project_dense: input ",
                     shape_str(feat.shape()), " is not [N, ", cfg_.dims[3], ", H, W]");
        const T nhwc = B::permute(feat, {0, 2, 3, 1});  // per-pixel channel vectors
        const T y = head(B::layer_norm(nhwc, head_norm_w_, head_norm_b_, cfg_.eps));
        return B::contiguous(B::permute(y, {0, 3, 1, 2}));
    }

    // Pooled CLIP image embedding (not normalised): global average pool of the stride-32 map,
    // trunk.head.norm, visual.head -> [N, E] (spec §5.1).
    T embed(const T& x) const {
        const T f = forward_stages(x).back();
        const int64_t n = f.size(0), c = f.size(1);
        const T pooled = B::mean(f.reshape({n, c, -1}), 2);  // [N, C3]
        return head(B::layer_norm(pooled, head_norm_w_, head_norm_b_, cfg_.eps));
    }

    // OpenCLIP's projection head on channel vectors: [..., C3] -> [..., E].
    T head(const T& x) const {
        if (cfg_.head == "linear") return B::linear(x, proj_w_, proj_b_);
        const T h = B::linear(x, mlp_fc1_w_, mlp_fc1_b_, Activation::Gelu);
        return B::linear(h, mlp_fc2_w_, mlp_fc2_b_);
    }

private:
    struct Block {
        T dw_w, dw_b, norm_w, norm_b, fc1_w, fc1_b, fc2_w, fc2_b, gamma;
    };
    struct Stage {
        T ds_norm_w, ds_norm_b, ds_conv_w, ds_conv_b;  // undefined for stage 0
        std::vector<Block> blocks;
    };

    static Block load_block(const Weights& w, int64_t dim) {
        Block b;
        b.dw_w = B::upload(w.get("conv_dw.weight", {dim, 1, 7, 7}));
        b.dw_b = B::upload(w.get("conv_dw.bias", {dim}));
        b.norm_w = B::upload(w.get("norm.weight", {dim}));
        b.norm_b = B::upload(w.get("norm.bias", {dim}));
        const Tensor fc1_w = w.get("mlp.fc1.weight");
        const int64_t hidden = fc1_w.size(0);
        ERRSEG_CHECK(fc1_w.shape() == Shape({hidden, dim}), "tensor '", w.prefix(),
                     "mlp.fc1.weight' has shape ", shape_str(fc1_w.shape()), ", expected [*, ", dim, "]");
        b.fc1_w = B::upload(fc1_w);
        b.fc1_b = B::upload(w.get("mlp.fc1.bias", {hidden}));
        b.fc2_w = B::upload(w.get("mlp.fc2.weight", {dim, hidden}));
        b.fc2_b = B::upload(w.get("mlp.fc2.bias", {dim}));
        b.gamma = B::upload(w.get("gamma", {dim}));
        return b;
    }

    // dwconv 7x7 -> (NHWC) LN -> fc1 -> GELU -> fc2 -> * gamma -> (NCHW) -> + x
    T block(const Block& b, const T& x) const {
        ops::Conv2dParams p;
        p.pad_h = p.pad_w = 3;
        p.groups = int(x.size(1));
        T y = B::permute(B::conv2d(x, b.dw_w, b.dw_b, p), {0, 2, 3, 1});
        y = B::layer_norm(y, b.norm_w, b.norm_b, cfg_.eps);
        y = B::linear(y, b.fc1_w, b.fc1_b, Activation::Gelu);
        y = B::mul(B::linear(y, b.fc2_w, b.fc2_b), b.gamma);
        return B::add(x, B::permute(y, {0, 3, 1, 2}));
    }

    void check_stage(int s) const {
        ERRSEG_CHECK(s >= 0 && s < 4, "ConvNeXt: stage ", s, " out of range 0..3");
    }

    ConvNeXtConfig cfg_;
    T stem_conv_w_, stem_conv_b_, stem_norm_w_, stem_norm_b_;
    std::vector<Stage> stages_;
    T head_norm_w_, head_norm_b_;
    T proj_w_, proj_b_;                                // linear head
    T mlp_fc1_w_, mlp_fc1_b_, mlp_fc2_w_, mlp_fc2_b_;  // mlp head
};

using ConvNeXt = ConvNeXtOn<CpuBackend>;
ERRSEG_CPU_INSTANCE(class ConvNeXtOn<CpuBackend>)

}  // namespace errseg::models
