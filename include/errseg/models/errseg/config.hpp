// ERR-Seg model configuration: the hyperparameters of the decoder head, the image input
// contract and the prompt template, read from the model file's "errseg.config" metadata
// (schema: shared/fixtures/errseg_tiny.config.json; values of the released models: spec §3.1).
//
// The CLIP towers' own configs (ConvNeXtConfig, TextConfig) are read from the same JSON's
// "clip" object by their modules; this header only covers what ERR-Seg adds.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "../../core/error.hpp"
#include "../../io/json.hpp"

namespace errseg::models {

// The decoder head (`sem_seg_head.decoder`). Defaults are ERR-Seg B's; the model file's
// config always overrides them.
struct ErrSegHeadConfig {
    // Cost embedding (H5): 7x7 convs of the two cost maps, then a 1x1 fusion.
    int64_t corr_fpn_inter_dim = 256;
    int64_t corr_fpn_fusion_dim = 128;
    // Aggregation guidance (H7): 3x3 projections of os32/os16, then a 1x1 fusion.
    int64_t guidance_fpn_inter_dim = 256;
    int64_t guidance_fpn_fusion_dim = 128;
    // Channels of the CLIP stage outputs used as guidance, deepest first: os32, os16, os8, os4.
    std::vector<int64_t> image_guidance_dims{1024, 512, 256, 128};
    // Decoder guidance (H6): input channels (os16, os8, os4) and projected channels.
    std::vector<int64_t> decoder_guidance_dims{512, 256, 128};
    std::vector<int64_t> guidance_proj_dims{32, 16, 8};
    // Text guidance (H8): CLIP embedding width -> projected width.
    int64_t text_guidance_dim = 640;
    int64_t text_guidance_proj_dim = 128;
    // Aggregator (H9): one entry per layer, each the spatial-reduction ratio of its keys/values.
    std::vector<int64_t> aggregator_scale_ratio{2, 2, 2, 2};
    int64_t aggregator_dim = 128;
    int64_t aggregator_heads = 4;  // hard-coded upstream
    // Up-decoder channels (H10..H12).
    std::vector<int64_t> decoder_dims{64, 32, 16};
    // K: classes kept by CRM (a runtime parameter; the evaluation protocol changes it per dataset).
    int64_t sample_classes_num = 32;
    // P: prompt templates per class (always 1 in ERR-Seg).
    int64_t prompt_channel = 1;

    int64_t num_layers() const { return int64_t(aggregator_scale_ratio.size()); }
};

// How an image becomes the network input (spec §2.2).
struct ErrSegInputConfig {
    int64_t crop_size = 640;  // S: the network input is S x S
    float pixel_mean[3] = {123.675f, 116.280f, 103.530f};  // 0-255 RGB
    float pixel_std[3] = {58.395f, 57.120f, 57.375f};
};

struct ErrSegConfig {
    ErrSegHeadConfig head;
    ErrSegInputConfig input;
    std::string prompt_template = "A photo of a {} in the scene";
    int64_t embed_dim = 640;  // CLIP joint embedding width (clip.embed_dim)

    // `root` is the whole "errseg.config" object (architecture, clip, head, input, ...).
    static ErrSegConfig from_json(const json::Value& root) {
        ERRSEG_CHECK(root.is_object(), "ERR-Seg config: expected a JSON object");
        const std::string arch = root.string_or("architecture", "errseg");
        ERRSEG_CHECK(arch == "errseg", "model config has architecture '", arch,
                     "', expected 'errseg' (is this a plain CLIP model file?)");
        ERRSEG_CHECK(root.contains("head"), "ERR-Seg config has no 'head' object");
        ErrSegConfig c;
        if (root.contains("clip")) c.embed_dim = root["clip"].int_or("embed_dim", c.embed_dim);

        const json::Value& h = root["head"];
        ErrSegHeadConfig& hc = c.head;
        hc.corr_fpn_inter_dim = h.int_or("corr_fpn_inter_dim", hc.corr_fpn_inter_dim);
        hc.corr_fpn_fusion_dim = h.int_or("corr_fpn_fusion_dim", hc.corr_fpn_fusion_dim);
        hc.guidance_fpn_inter_dim = h.int_or("guidance_fpn_inter_dim", hc.guidance_fpn_inter_dim);
        hc.guidance_fpn_fusion_dim = h.int_or("guidance_fpn_fusion_dim", hc.guidance_fpn_fusion_dim);
        read_ints(h, "image_guidance_dims", hc.image_guidance_dims);
        read_ints(h, "decoder_guidance_dims", hc.decoder_guidance_dims);
        read_ints(h, "guidance_proj_dims", hc.guidance_proj_dims);
        hc.text_guidance_dim = h.int_or("text_guidance_dim", c.embed_dim);
        hc.text_guidance_proj_dim = h.int_or("text_guidance_proj_dim", hc.text_guidance_proj_dim);
        read_ints(h, "aggregator_scale_ratio", hc.aggregator_scale_ratio);
        hc.aggregator_dim = h.int_or("aggregator_dim", hc.aggregator_dim);
        hc.aggregator_heads = h.int_or("aggregator_heads", hc.aggregator_heads);
        read_ints(h, "decoder_dims", hc.decoder_dims);
        hc.sample_classes_num = h.int_or("sample_classes_num", hc.sample_classes_num);
        hc.prompt_channel = h.int_or("prompt_channel", hc.prompt_channel);

        if (root.contains("input")) {
            const json::Value& in = root["input"];
            c.input.crop_size = in.int_or("crop_size", c.input.crop_size);
            read_triple(in, "pixel_mean", c.input.pixel_mean);
            read_triple(in, "pixel_std", c.input.pixel_std);
        }
        c.prompt_template = root.string_or("prompt_template", c.prompt_template);
        c.validate();
        return c;
    }

    void validate() const {
        const ErrSegHeadConfig& h = head;
        ERRSEG_CHECK(h.image_guidance_dims.size() == 4,
                     "ERR-Seg config: image_guidance_dims needs 4 entries (os32, os16, os8, os4), got ",
                     h.image_guidance_dims.size());
        ERRSEG_CHECK(h.decoder_guidance_dims.size() == 3 && h.guidance_proj_dims.size() == 3 &&
                         h.decoder_dims.size() == 3,
                     "ERR-Seg config: decoder_guidance_dims, guidance_proj_dims and decoder_dims need 3 entries");
        ERRSEG_CHECK(h.num_layers() >= 1, "ERR-Seg config: aggregator_scale_ratio is empty");
        for (int64_t r : h.aggregator_scale_ratio)
            ERRSEG_CHECK(r >= 1, "ERR-Seg config: aggregator_scale_ratio entries must be >= 1");
        ERRSEG_CHECK(h.aggregator_heads >= 1 && h.aggregator_dim % h.aggregator_heads == 0,
                     "ERR-Seg config: aggregator_dim ", h.aggregator_dim, " is not divisible by ",
                     h.aggregator_heads, " heads");
        ERRSEG_CHECK(h.corr_fpn_fusion_dim == h.aggregator_dim && h.guidance_fpn_fusion_dim == h.aggregator_dim &&
                         h.text_guidance_proj_dim == h.aggregator_dim,
                     "ERR-Seg config: corr/guidance fusion dims and text_guidance_proj_dim must equal aggregator_dim");
        for (int64_t d : h.decoder_dims)  // GroupNorm(d / 8 groups, d channels), as upstream
            ERRSEG_CHECK(d >= 8 && d % (d / 8) == 0, "ERR-Seg config: decoder dim ", d,
                         " is not divisible into ", d / 8, " GroupNorm groups (channels / 8)");
        ERRSEG_CHECK(h.sample_classes_num >= 1, "ERR-Seg config: sample_classes_num must be >= 1");
        ERRSEG_CHECK(h.prompt_channel == 1, "ERR-Seg config: only prompt_channel = 1 is supported");
        ERRSEG_CHECK(input.crop_size >= 16 && input.crop_size % 16 == 0,
                     "ERR-Seg config: crop_size must be a positive multiple of 16 (the up-decoders join ",
                     "stride-16/8/4 maps), got ", input.crop_size);
        for (int i = 0; i < 3; ++i)  // the input is divided by them: 0 would turn it into Inf/NaN
            ERRSEG_CHECK(input.pixel_std[i] > 0 && input.pixel_std[i] < 1e30f,
                         "ERR-Seg config: pixel_std must be positive, got ", input.pixel_std[i]);
        ERRSEG_CHECK(prompt_template.find("{}") != std::string::npos,
                     "ERR-Seg config: prompt_template has no '{}' placeholder");
    }

private:
    static void read_ints(const json::Value& obj, const char* key, std::vector<int64_t>& out) {
        const json::Value* v = obj.find(key);
        if (!v) return;
        ERRSEG_CHECK(v->is_array(), "ERR-Seg config: '", key, "' must be an array");
        out.clear();
        for (const json::Value& e : v->as_array()) out.push_back(e.as_int());
    }
    static void read_triple(const json::Value& obj, const char* key, float (&out)[3]) {
        const json::Value* v = obj.find(key);
        if (!v) return;
        ERRSEG_CHECK(v->is_array() && v->size() == 3, "ERR-Seg config: '", key, "' must hold 3 numbers");
        for (size_t i = 0; i < 3; ++i) out[i] = float((*v)[i].as_number());
    }
};

}  // namespace errseg::models
