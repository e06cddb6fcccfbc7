// Spatial fusion block of the ERR-Seg aggregator (ESCF, spec §2.7.2;
// weights `aggregator_layers.{i}.spatial_fusion.sa.*`).
//
// A SegFormer-style transformer block with image guidance, run for every selected class
// independently over the positions of the stride-16 grid (tokens in row-major (h, w) order):
//
//   xn   = LN(x)                                            norm1, eps 1e-5
//   a    = [xn, g]                                          features first, guidance second
//   q    = Linear_q(a)                                      one query per position
//   k    = Linear_k(LN_k(Conv_sr,k(a)))                     keys on an sr-times coarser grid
//   v    = Linear_v(LN_v(Conv_sr,v(xn)))                    values from the features only
//   x    = x + proj(softmax(q·kᵀ / sqrt(d)) · v)            heads split channels contiguously
//   u    = fc3(ReLU6(fc1(LN(x))) ⊙ fc2(LN(x)))              gated MLP, norm2
//   x    = x + DWConv7x7(u)                                 depthwise conv on the token map
//
// With sr_ratio = 1 there is no reduction: k = Linear_k(a), v = Linear_v(xn).
// The guidance halves of Linear_q and Conv_sr,k (Linear_k when sr = 1) are evaluated once per
// image and shared by all classes.
#pragma once
#include <cmath>
#include <string>

#include "../../core/cpu_instances.hpp"
#include "common.hpp"

namespace errseg::models {

template <class B>
class SpatialFusionBlockOn {
public:
    using T = typename B::Tensor;
    static constexpr float kLayerNormEps = 1e-5f;

    SpatialFusionBlockOn() = default;
    // `w` is scoped at `aggregator_layers.{i}.spatial_fusion.sa.`.
    SpatialFusionBlockOn(const Weights& w, int64_t dim, int64_t heads, int64_t sr_ratio)
        : dim_(dim), heads_(heads), sr_ratio_(sr_ratio) {
        using errseg_detail::load_affine;
        using errseg_detail::load_host_affine;
        using errseg_detail::split_input_channels;
        const int64_t C = dim, hidden = 3 * dim;
        norm1_ = load_affine<B>(w, "norm1", {C});
        norm2_ = load_affine<B>(w, "norm2", {C});
        q_ = split_input_channels<B>(load_host_affine(w, "attention.q", {C, 2 * C}), C);
        // k acts on LN_k(sr_k([xn, g])) when sr > 1, on [xn, g] directly when sr = 1.
        const errseg_detail::HostAffine k = load_host_affine(w, "attention.k", {C, 2 * C});
        if (sr_ratio == 1)
            k_split_ = split_input_channels<B>(k, C);
        else
            k_ = errseg_detail::upload<B>(k);
        v_ = load_affine<B>(w, "attention.v", {C, C});
        proj_ = load_affine<B>(w, "attention.proj", {C, C});
        if (sr_ratio > 1) {
            const int64_t r = sr_ratio;
            sr_k_ = split_input_channels<B>(load_host_affine(w, "attention.sr_k", {2 * C, 2 * C, r, r}), C);
            norm_k_ = load_affine<B>(w, "attention.norm_k", {2 * C});
            sr_v_ = load_affine<B>(w, "attention.sr_v", {C, C, r, r});
            norm_v_ = load_affine<B>(w, "attention.norm_v", {C});
        }
        fc1_ = load_affine<B>(w, "mlp.fc1", {hidden, C});
        fc2_ = load_affine<B>(w, "mlp.fc2", {hidden, C});
        fc3_ = load_affine<B>(w, "mlp.fc3", {C, hidden});
        dwconv_ = load_affine<B>(w, "mlp.dwconv.dwconv", {C, 1, 7, 7});
    }

    // x [K, C, H, W] (one map per selected class), guidance [1, C, H, W] -> [K, C, H, W].
    // Classes are independent; `chunk` bounds how many are processed at once (memory). A caller
    // that moves x in lets the CPU write the result over it (map_rows_in_place).
    T forward(T x, const T& guidance, int64_t chunk = 8) const {
        ERRSEG_CHECK(x.dim() == 4 && x.size(1) == dim_, "spatial fusion: expected [K, ", dim_,
                     ", H, W], got ", shape_str(x.shape()));
        ERRSEG_CHECK(guidance.dim() == 4 && guidance.size(0) == 1 && guidance.size(1) == dim_ &&
                         guidance.size(2) == x.size(2) && guidance.size(3) == x.size(3),
                     "spatial fusion: guidance ", shape_str(guidance.shape()), " does not match features ",
                     shape_str(x.shape()));
        const GuidanceTerms g = guidance_terms(guidance);
        return errseg_detail::map_rows_in_place<B>(std::move(x), chunk,
                                                   [&](const T& rows) { return forward_classes(rows, g); });
    }

private:
    // The guidance contributions to q, k (or to the sr_k conv), bias included.
    struct GuidanceTerms {
        T q;  // [1, N, C]
        T k;  // [1, N, C] (sr = 1) or [1, 2C, H/sr, W/sr] (sr > 1)
    };

    GuidanceTerms guidance_terms(const T& guidance) const {
        GuidanceTerms t;
        const T g_tokens = errseg_detail::map_to_tokens<B>(guidance);  // [1, N, C]
        t.q = B::linear(g_tokens, q_.guidance_weight, q_.bias);
        if (sr_ratio_ > 1)
            t.k = B::conv2d(guidance, sr_k_.guidance_weight, sr_k_.bias,
                            errseg_detail::conv_params(int(sr_ratio_), 0));
        else
            t.k = B::linear(g_tokens, k_split_.guidance_weight, k_split_.bias);
        return t;
    }

    T forward_classes(const T& x_map, const GuidanceTerms& g) const {
        const auto linear = [](const auto&... args) { return errseg_detail::linear<B>(args...); };
        const int64_t H = x_map.size(2), W = x_map.size(3);

        T x = errseg_detail::map_to_tokens<B>(x_map);  // [n, N, C]
        {  // attention; its intermediates are freed before the MLP's
            const T xn = B::layer_norm(x, norm1_.weight, norm1_.bias, kLayerNormEps);

            // Queries from [xn, g].
            const T q = B::linear(xn, q_.feature_weight, T(), Activation::None, g.q);  // [n, N, C]

            // Keys from [xn, g] and values from xn, on the reduced grid when sr > 1.
            T k, v;
            if (sr_ratio_ > 1) {
                const ops::Conv2dParams sr = errseg_detail::conv_params(int(sr_ratio_), 0);
                // [n, C, H, W], made dense once for both reduction convs.
                const T xn_map = B::contiguous(errseg_detail::tokens_as_map_view<B>(xn, H, W));
                const T k_map = B::conv2d(xn_map, sr_k_.feature_weight, T(), sr, Activation::None, g.k);
                const T k_tokens = B::layer_norm(errseg_detail::map_to_tokens<B>(k_map), norm_k_.weight,
                                                 norm_k_.bias, kLayerNormEps);
                k = linear(k_tokens, k_);
                const T v_map = B::conv2d(xn_map, sr_v_.weight, sr_v_.bias, sr);
                const T v_tokens = B::layer_norm(errseg_detail::map_to_tokens<B>(v_map), norm_v_.weight,
                                                 norm_v_.bias, kLayerNormEps);
                v = linear(v_tokens, v_);
            } else {
                k = B::linear(xn, k_split_.feature_weight, T(), Activation::None, g.k);
                v = linear(xn, v_);
            }

            // Multi-head softmax attention, heads = contiguous channel groups of size d.
            const float scale = float(1.0 / std::sqrt(double(dim_ / heads_)));
            x = linear(B::attention_tokens(q, k, v, heads_, scale), proj_, Activation::None, x);
        }

        // Gated MLP followed by a depthwise 7x7 conv on the token map.
        T u = errseg_detail::gated_mlp<B>(B::layer_norm(x, norm2_.weight, norm2_.bias, kLayerNormEps), fc1_,
                                          Activation::Relu6, fc2_, fc3_);
        const int64_t n = u.size(0);  // the depthwise conv runs on the token layout directly
        u = B::conv2d_depthwise_nhwc(u.reshape({n, H, W, dim_}), dwconv_.weight, dwconv_.bias, 3, 3);
        B::add_(x, u.reshape({n, H * W, dim_}));
        return errseg_detail::tokens_to_map<B>(x, H, W);
    }

    using Affine = errseg_detail::Affine<B>;
    int64_t dim_ = 0, heads_ = 0, sr_ratio_ = 1;
    Affine norm1_, norm2_, k_, v_, proj_, norm_k_, sr_v_, norm_v_, fc1_, fc2_, fc3_, dwconv_;
    errseg_detail::SplitAffine<B> q_, k_split_, sr_k_;
};

using SpatialFusionBlock = SpatialFusionBlockOn<CpuBackend>;
ERRSEG_CPU_INSTANCE(class SpatialFusionBlockOn<CpuBackend>)

}  // namespace errseg::models
