// Dense CLIP image features for ERR-Seg (spec §2.3–2.5): the OpenCLIP ConvNeXt image tower run
// on the S x S network input, plus ERR-Seg's extra stride-16 path (HSM).
//
//   os4, os8, os16, os32   raw outputs of ConvNeXt stages 0..3 (guidance for the head)
//   clip_vis_dense         os32 projected per pixel through the CLIP image head  [E, S/32, S/32]
//   os16_dense             HSM path, projected per pixel                          [E, S/16, S/16]
//
// HSM (`clip.visual.modify_downsample.{0,2}`), applied to os16:
//   1. LN2d (eps of the trunk, 1e-6)                           modify_downsample.0
//   2. zero pad 1 on every side (after the norm: true zeros)   modify_downsample.1, no weights
//   3. Conv 2x2, stride 1 (+bias), d2 -> 2·d2                  modify_downsample.2   -> H16+1
//   4. bilinear (align_corners = False) back to H16 x W16
//   5. the blocks of stage 3 (not its downsample), at stride 16
//   6. per-pixel projection (trunk.head.norm, visual.head)
#pragma once
#include "../../core/cpu_instances.hpp"
#include "../../core.hpp"
#include "../../io/weights.hpp"
#include "../../ops.hpp"
#include "../convnext.hpp"
#include "common.hpp"
#include "dense_features.hpp"

namespace errseg::models {

template <class B>
class ErrSegImageEncoderOn {
public:
    using T = typename B::Tensor;

    // `visual` is scoped at "clip.visual.".
    ErrSegImageEncoderOn(const Weights& visual, const ConvNeXtConfig& cfg) : trunk_(visual, cfg) {
        const int64_t d2 = cfg.dims[2], d3 = cfg.dims[3];
        ERRSEG_CHECK(d3 == 2 * d2, "ERR-Seg HSM path needs stage 3 to have twice the channels of stage 2, got ",
                     d2, " and ", d3);
        hsm_norm_w_ = B::upload(visual.get("modify_downsample.0.weight", {d2}));
        hsm_norm_b_ = B::upload(visual.get("modify_downsample.0.bias", {d2}));
        hsm_conv_w_ = B::upload(visual.get("modify_downsample.2.weight", {d3, d2, 2, 2}));
        hsm_conv_b_ = B::upload(visual.get("modify_downsample.2.bias", {d3}));
    }

    const ConvNeXtOn<B>& trunk() const { return trunk_; }

    // x: normalised network input [1, 3, S, S]. Stage timings are appended to `timings`.
    DenseFeaturesOf<T> forward(const T& x, errseg_detail::StageTimer::Timings* timings = nullptr) const {
        errseg_detail::StageTimer timer(timings);
        DenseFeaturesOf<T> f;
        const std::vector<T> stages = trunk_.forward_stages(x);
        f.os4 = stages[0];
        f.os8 = stages[1];
        f.os16 = stages[2];
        f.os32 = stages[3];
        timer.lap("clip.trunk");
        f.os16_dense = trunk_.project_dense(hsm(f.os16));
        timer.lap("clip.hsm");
        f.clip_vis_dense = trunk_.project_dense(f.os32);
        timer.lap("clip.project");
        return f;
    }

    // The HSM stride-16 feature map before projection: [1, d2, H, W] -> [1, d3, H, W].
    T hsm(const T& os16) const {
        const int64_t H = os16.size(2), W = os16.size(3);
        T y = B::layer_norm2d(os16, hsm_norm_w_, hsm_norm_b_, trunk_.config().eps);
        y = B::pad2d(y, 1, 1, 1, 1, 0.f);
        y = B::conv2d(y, hsm_conv_w_, hsm_conv_b_, ops::Conv2dParams{});  // 2x2, stride 1 -> H+1
        y = B::resize_bilinear(y, H, W, /*align_corners=*/false);
        return trunk_.blocks(3, y);
    }

private:
    ConvNeXtOn<B> trunk_;
    T hsm_norm_w_, hsm_norm_b_, hsm_conv_w_, hsm_conv_b_;
};

using ErrSegImageEncoder = ErrSegImageEncoderOn<CpuBackend>;
ERRSEG_CPU_INSTANCE(class ErrSegImageEncoderOn<CpuBackend>)

}  // namespace errseg::models
