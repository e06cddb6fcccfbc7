// CLIP hyperparameters, read from the "clip" object of a model file's `errseg.config`.
//
// Schema (docs/ARCHITECTURE.md, "Model file format"):
//   "clip": { "embed_dim": E,
//             "vision": { "type": "convnext", "dims": [..4], "depths": [..4], "head": "linear"|"mlp",
//                         "image_size": S }
//                     | { "type": "vit", "width", "layers", "heads", "patch_size", "image_size" },
//             "text":   { "context_length", "vocab_size", "width", "heads", "layers" },
//             "act":    "gelu" (OpenCLIP) | "quick_gelu" (OpenAI) }
//
// Everything that changes numbers lives here as data (activation, LayerNorm eps), never as a
// constant chosen by model name. Defaults, used only when a key is absent:
//   act: "quick_gelu" for a ViT vision tower (OpenAI CLIP), "gelu" otherwise (OpenCLIP);
//   text/ViT LayerNorm eps 1e-5, ConvNeXt LayerNorm eps 1e-6 (optional key "ln_eps" in the
//   vision / text objects overrides them); ViT heads = width / 64.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "../core.hpp"
#include "../io/json.hpp"

namespace errseg::models {

// The MLP activation of the CLIP transformers (Gelu or QuickGelu of errseg::Activation). timm's
// ConvNeXt always uses exact GELU.
inline Activation activation_from_name(const std::string& name) {
    if (name == "gelu") return Activation::Gelu;
    if (name == "quick_gelu") return Activation::QuickGelu;
    fail("unknown CLIP activation '", name, "' (expected \"gelu\" or \"quick_gelu\")");
}

// Bounds on every size in a CLIP config: far beyond any real model, small enough that products
// of them cannot overflow (an absurd value fails here, naming the field, not later in a GEMM).
inline constexpr int64_t kMaxConfigWidth = 1 << 16;
inline constexpr int64_t kMaxConfigDepth = 1024;

namespace detail {

inline std::vector<int64_t> int_list(const json::Value& v, const char* what) {
    ERRSEG_CHECK(v.is_array(), "CLIP config: '", what, "' must be an array");
    std::vector<int64_t> out;
    for (const json::Value& x : v.as_array()) out.push_back(x.as_int());
    return out;
}

// A LayerNorm epsilon: positive (a negative one makes sqrt(var + eps) NaN) and small.
inline float ln_eps(const json::Value& obj, double def, const char* what) {
    const double eps = obj.number_or("ln_eps", def);
    ERRSEG_CHECK(eps > 0 && eps <= 1, "CLIP config: ", what, " must be in (0, 1], got ", eps);
    return float(eps);
}

// The activation named by clip_cfg["act"], or the default of the vision tower's family.
inline std::string clip_act_name(const json::Value& clip_cfg) {
    if (const json::Value* a = clip_cfg.find("act")) return a->as_string();
    const json::Value* vision = clip_cfg.find("vision");
    bool vit = vision && vision->string_or("type", "") == "vit";
    return vit ? "quick_gelu" : "gelu";
}

}  // namespace detail

// The vision tower family stored in the file ("convnext" or "vit").
inline std::string vision_type(const json::Value& clip_cfg) {
    return clip_cfg["vision"]["type"].as_string();
}

// OpenCLIP TimmModel around a timm ConvNeXt (conv_mlp=False, layer scale, head_norm_first=False).
struct ConvNeXtConfig {
    std::vector<int64_t> dims, depths;  // per stage (4 stages)
    std::string head;                   // "linear" (Linear, no bias) or "mlp" (Linear-GELU-Linear)
    int64_t image_size = 0;             // native (pretraining) input size
    int64_t embed_dim = 0;              // CLIP embedding width E
    float eps = 1e-6f;                  // every LayerNorm of the trunk and of trunk.head.norm

    static ConvNeXtConfig from_json(const json::Value& clip_cfg) {
        const json::Value& v = clip_cfg["vision"];
        ERRSEG_CHECK(v.string_or("type", "convnext") == "convnext", "CLIP config: vision type is '",
                     v["type"].as_string(), "', not convnext");
        ConvNeXtConfig c;
        c.dims = detail::int_list(v["dims"], "vision.dims");
        c.depths = detail::int_list(v["depths"], "vision.depths");
        c.head = v.string_or("head", "linear");
        c.image_size = v["image_size"].as_int();
        c.embed_dim = clip_cfg["embed_dim"].as_int();
        c.eps = detail::ln_eps(v, 1e-6, "vision.ln_eps");
        c.validate();
        return c;
    }

    void validate() const {
        ERRSEG_CHECK(dims.size() == 4 && depths.size() == 4, "ConvNeXt config: expected 4 stages, got ",
                     dims.size(), " dims and ", depths.size(), " depths");
        for (size_t i = 0; i < 4; ++i)
            ERRSEG_CHECK(dims[i] > 0 && dims[i] <= kMaxConfigWidth && depths[i] >= 0 && depths[i] <= kMaxConfigDepth,
                         "ConvNeXt config: invalid stage ", i, " (vision.dims ", dims[i], ", vision.depths ", depths[i],
                         ")");
        ERRSEG_CHECK(head == "linear" || head == "mlp", "ConvNeXt config: head '", head,
                     "' is not \"linear\" or \"mlp\"");
        ERRSEG_CHECK(embed_dim > 0 && embed_dim <= kMaxConfigWidth && image_size > 0 && image_size <= kMaxConfigWidth,
                     "ConvNeXt config: invalid embed_dim ", embed_dim, " or vision.image_size ", image_size);
    }
};

// OpenAI-layout vision transformer (conv1 patchify, class token, pre-norm blocks, ln_post, proj).
struct VitConfig {
    int64_t width = 0, layers = 0, heads = 0, patch_size = 0, image_size = 0, embed_dim = 0;
    std::string act = "quick_gelu";
    float eps = 1e-5f;

    static VitConfig from_json(const json::Value& clip_cfg) {
        const json::Value& v = clip_cfg["vision"];
        ERRSEG_CHECK(v["type"].as_string() == "vit", "CLIP config: vision type is '",
                     v["type"].as_string(), "', not vit");
        VitConfig c;
        c.width = v["width"].as_int();
        c.layers = v["layers"].as_int();
        c.heads = v.int_or("heads", c.width / 64);
        c.patch_size = v["patch_size"].as_int();
        c.image_size = v["image_size"].as_int();
        c.embed_dim = clip_cfg["embed_dim"].as_int();
        c.act = detail::clip_act_name(clip_cfg);
        c.eps = detail::ln_eps(v, 1e-5, "vision.ln_eps");
        activation_from_name(c.act);
        ERRSEG_CHECK(c.width > 0 && c.width <= kMaxConfigWidth && c.layers >= 0 && c.layers <= kMaxConfigDepth &&
                         c.heads > 0 && c.width % c.heads == 0 && c.patch_size > 0 && c.image_size >= c.patch_size &&
                         c.image_size <= kMaxConfigWidth && c.embed_dim > 0 && c.embed_dim <= kMaxConfigWidth,
                     "ViT config: invalid sizes (width ", c.width, ", heads ", c.heads, ", patch ",
                     c.patch_size, ", image ", c.image_size, ")");
        return c;
    }
};

// The CLIP text transformer (OpenAI layout, shared by OpenCLIP).
struct TextConfig {
    int64_t context_length = 77, vocab_size = 0, width = 0, heads = 0, layers = 0, embed_dim = 0;
    std::string act = "gelu";
    float eps = 1e-5f;

    static TextConfig from_json(const json::Value& clip_cfg) {
        const json::Value& t = clip_cfg["text"];
        TextConfig c;
        c.context_length = t.int_or("context_length", 77);
        c.vocab_size = t["vocab_size"].as_int();
        c.width = t["width"].as_int();
        c.heads = t["heads"].as_int();
        c.layers = t["layers"].as_int();
        c.embed_dim = clip_cfg["embed_dim"].as_int();
        c.act = detail::clip_act_name(clip_cfg);
        c.eps = detail::ln_eps(t, 1e-5, "text.ln_eps");
        activation_from_name(c.act);
        ERRSEG_CHECK(c.context_length > 0 && c.context_length <= 4096 && c.vocab_size > 0 &&
                         c.vocab_size <= (1 << 24) && c.width > 0 && c.width <= kMaxConfigWidth && c.heads > 0 &&
                         c.width % c.heads == 0 && c.layers >= 0 && c.layers <= kMaxConfigDepth && c.embed_dim > 0 &&
                         c.embed_dim <= kMaxConfigWidth,
                     "text config: invalid sizes (width ", c.width, ", heads ", c.heads, ", vocab ",
                     c.vocab_size, ")");
        return c;
    }
};

}  // namespace errseg::models
