// ERR-Seg model configuration: the hyperparameters of the decoder head, the image input
// contract and the prompt template, read from the model file's "errseg.config" metadata
// (schema: shared/fixtures/errseg_tiny.config.json; values of the released models: spec §3.1).
//
// The CLIP towers' own configs (ConvNeXtConfig, TextConfig) are read from the same JSON's
// "clip" object by their modules; this header only covers what ERR-Seg adds.
#pragma once
#include <cmath>
#include <cstdint>
#include <utility>
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
    // The image encoder's deepest stage has stride 32; a smaller input leaves it no pixels.
    static constexpr int64_t kMinCropSize = 32;
    // 4096^2 inputs already need ~1 GB per class in the decoder (docs/LIMITS.md).
    static constexpr int64_t kMaxCropSize = 4096;
    static constexpr int64_t kMaxWidth = 1 << 16;  // any channel count or width

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
        ERRSEG_CHECK(input.crop_size >= kMinCropSize, "ERR-Seg config: crop_size ", input.crop_size,
                     " is too small for the network: the image encoder's deepest stage has stride 32, so the ",
                     "smallest crop it can run is ", kMinCropSize);
        ERRSEG_CHECK(input.crop_size <= kMaxCropSize, "ERR-Seg config: crop_size ", input.crop_size,
                     " is larger than the limit of ", kMaxCropSize);
        for (int64_t r : h.aggregator_scale_ratio)
            ERRSEG_CHECK(r <= input.crop_size / 16, "ERR-Seg config: aggregator_scale_ratio ", r,
                         " is larger than the stride-16 map of crop_size ", input.crop_size, " (",
                         input.crop_size / 16, " pixels)");
        for (int i = 0; i < 3; ++i) {
            // 0-255 RGB values: the input is (x - mean) / std, so an absurd value turns every pixel
            // into Inf/NaN (or rounds everything to one value) and the label map into noise.
            ERRSEG_CHECK(input.pixel_mean[i] >= 0 && input.pixel_mean[i] <= 255, "ERR-Seg config: input.pixel_mean[",
                         i, "] must be in [0, 255] (0-255 RGB), got ", input.pixel_mean[i]);
            ERRSEG_CHECK(input.pixel_std[i] >= 0.01f && input.pixel_std[i] <= 1000,
                         "ERR-Seg config: input.pixel_std[", i, "] must be in [0.01, 1000] (0-255 RGB), got ",
                         input.pixel_std[i]);
        }
        const std::pair<const char*, int64_t> dims[] = {
            {"corr_fpn_inter_dim", h.corr_fpn_inter_dim}, {"guidance_fpn_inter_dim", h.guidance_fpn_inter_dim},
            {"text_guidance_dim", h.text_guidance_dim},   {"aggregator_dim", h.aggregator_dim},
            {"aggregator_heads", h.aggregator_heads},     {"sample_classes_num", h.sample_classes_num}};
        for (const auto& [name, d] : dims)
            ERRSEG_CHECK(d >= 1 && d <= kMaxWidth, "ERR-Seg config: head.", name, " must be in [1, ", kMaxWidth,
                         "], got ", d);
        for (const auto* list : {&h.image_guidance_dims, &h.decoder_guidance_dims, &h.guidance_proj_dims, &h.decoder_dims})
            for (int64_t d : *list)
                ERRSEG_CHECK(d >= 1 && d <= kMaxWidth, "ERR-Seg config: head channel widths must be in [1, ", kMaxWidth,
                             "], got ", d);
        ERRSEG_CHECK(h.num_layers() <= 64, "ERR-Seg config: aggregator_scale_ratio has ", h.num_layers(),
                     " layers, more than 64");
        ERRSEG_CHECK(prompt_template.find("{}") != std::string::npos,
                     "ERR-Seg config: prompt_template has no '{}' placeholder");
    }

private:
    static void read_ints(const json::Value& obj, const char* key, std::vector<int64_t>& out) {
        const json::Value* v = obj.find(key);
        if (!v) return;
        ERRSEG_CHECK(v->is_array(), "ERR-Seg config: '", key, "' must be an array");
        out.clear();
        for (const json::Value& e : v->as_array()) {
            try {
                out.push_back(e.as_int());
            } catch (const Error& err) {
                fail("ERR-Seg config: '", key, "': ", err.what());
            }
        }
    }
    static void read_triple(const json::Value& obj, const char* key, float (&out)[3]) {
        const json::Value* v = obj.find(key);
        if (!v) return;
        ERRSEG_CHECK(v->is_array() && v->size() == 3, "ERR-Seg config: '", key, "' must hold 3 numbers");
        for (size_t i = 0; i < 3; ++i) {
            const double x = (*v)[i].as_number();  // range-checked before the cast (1e308 -> inf)
            ERRSEG_CHECK(std::fabs(x) <= 1e6, "ERR-Seg config: input.", key, "[", i, "] = ", x, " is out of range");
            out[i] = float(x);
        }
    }
};

}  // namespace errseg::models
