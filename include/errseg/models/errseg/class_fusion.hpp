// Class fusion block of the ERR-Seg aggregator (ESCF, spec §2.7.3;
// weights `aggregator_layers.{i}.class_fusion.sa.*`).
//
// Attention across the selected classes at every position of a 2x2-pooled grid, guided by the
// projected text embeddings, added back at full resolution:
//
//   X0  = X                                               [K, C, H, W]
//   z   = AvgPool2x2(X)  as one sequence of K class tokens per pooled position
//   zn  = LN(z)                                           norm1, eps 1e-5
//   q,k = Linear_q,k([zn, Gt])                            text guidance Gt [K, C] (same everywhere)
//   v   = Linear_v(zn)
//   z   = z + proj(softmax over the K classes(q·kᵀ / sqrt(d)) · v)
//   z   = z + ReLU6(fc3(ReLU6(fc1(LN(z))) ⊙ fc2(LN(z))))   note the ReLU6 after fc3, no dwconv
//   X   = X0 + bilinear(align_corners = True)(z -> H x W)
//
// There is no positional information over the class axis: permuting the classes permutes the
// output the same way (see the permutation test), which is why the ascending CRM order can
// replace upstream's random shuffle.
#pragma once
#include <cmath>
#include <string>

#include "../../core/cpu_instances.hpp"
#include "common.hpp"

namespace errseg::models {

template <class B>
class ClassFusionBlockOn {
public:
    using T = typename B::Tensor;
    static constexpr float kLayerNormEps = 1e-5f;
    static constexpr int kPool = 2;  // AvgPool2d(2, 2)
    static constexpr int64_t kMlpPositions = 64;  // pooled positions per MLP chunk (memory bound)

    ClassFusionBlockOn() = default;
    // `w` is scoped at `aggregator_layers.{i}.class_fusion.sa.`.
    ClassFusionBlockOn(const Weights& w, int64_t dim, int64_t heads) : dim_(dim), heads_(heads) {
        using errseg_detail::load_affine;
        using errseg_detail::load_host_affine;
        using errseg_detail::split_input_channels;
        const int64_t C = dim, hidden = 3 * dim;
        norm1_ = load_affine<B>(w, "norm1", {C});
        norm2_ = load_affine<B>(w, "norm2", {C});
        q_ = split_input_channels<B>(load_host_affine(w, "attention.q", {C, 2 * C}), C);
        k_ = split_input_channels<B>(load_host_affine(w, "attention.k", {C, 2 * C}), C);
        v_ = load_affine<B>(w, "attention.v", {C, C});
        proj_ = load_affine<B>(w, "attention.proj", {C, C});
        fc1_ = load_affine<B>(w, "mlp.fc1", {hidden, C});
        fc2_ = load_affine<B>(w, "mlp.fc2", {hidden, C});
        fc3_ = load_affine<B>(w, "mlp.fc3", {C, hidden});
    }

    // x [K, C, H, W], text_guidance [K, C] (row k belongs to class map k) -> [K, C, H, W].
    T forward(const T& x, const T& text_guidance) const {
        const auto linear = [](const auto&... args) { return errseg_detail::linear<B>(args...); };
        ERRSEG_CHECK(x.dim() == 4 && x.size(1) == dim_, "class fusion: expected [K, ", dim_, ", H, W], got ",
                     shape_str(x.shape()));
        ERRSEG_CHECK(text_guidance.dim() == 2 && text_guidance.size(0) == x.size(0) &&
                         text_guidance.size(1) == dim_,
                     "class fusion: text guidance ", shape_str(text_guidance.shape()), " does not match ",
                     shape_str(x.shape()));
        const int64_t K = x.size(0), C = dim_, H = x.size(2), W = x.size(3);

        // One sequence of K class tokens per pooled position: [h*w, K, C].
        T z = B::avg_pool2d(x, kPool, kPool);  // [K, C, h, w]
        const int64_t h = z.size(2), w = z.size(3), L = h * w;
        z = B::permute_copy(z, {2, 3, 0, 1}).reshape({L, K, C});

        {  // attention; its intermediates are freed before the MLP's
            const T zn = B::layer_norm(z, norm1_.weight, norm1_.bias, kLayerNormEps);
            // The text-guidance halves of q and k (bias included) are the same at every position.
            const T q_text = B::linear(text_guidance, q_.guidance_weight, q_.bias);  // [K, C]
            const T k_text = B::linear(text_guidance, k_.guidance_weight, k_.bias);
            const T q = B::linear(zn, q_.feature_weight, T(), Activation::None, q_text);  // [L, K, C]
            const T k = B::linear(zn, k_.feature_weight, T(), Activation::None, k_text);
            const T v = linear(zn, v_);
            const float scale = float(1.0 / std::sqrt(double(C / heads_)));
            z = linear(B::attention_tokens(q, k, v, heads_, scale), proj_, Activation::None, z);
        }

        // Gated MLP with a ReLU6 after fc3, kMlpPositions positions at a time: every row is
        // independent (the same bits as all at once) and its normalised copy then stays small.
        z = errseg_detail::map_class_chunks<B>(L, kMlpPositions, [&](int64_t b, int64_t e) {
            const T zc = B::slice0(z, b, e);
            const T hn = B::layer_norm(zc, norm2_.weight, norm2_.bias, kLayerNormEps);
            return errseg_detail::gated_mlp<B>(hn, fc1_, Activation::Relu6, fc2_, fc3_, Activation::Relu6, zc);
        });

        // Back to [K, C, h, w], upsampled with align_corners = True, residual at full resolution.
        // The sum goes into the upsampled tensor (float addition commutes: the same bits as
        // x + up) so no third K x C x H x W tensor is allocated.
        const T z_map = B::permute(z.reshape({h, w, K, C}), {2, 3, 0, 1});
        T up = B::resize_bilinear(z_map, H, W, /*align_corners=*/true);
        B::add_(up, x);
        return up;
    }

private:
    using Affine = errseg_detail::Affine<B>;
    int64_t dim_ = 0, heads_ = 0;
    Affine norm1_, norm2_, v_, proj_, fc1_, fc2_, fc3_;
    errseg_detail::SplitAffine<B> q_, k_;
};

using ClassFusionBlock = ClassFusionBlockOn<CpuBackend>;
ERRSEG_CPU_INSTANCE(class ClassFusionBlockOn<CpuBackend>)

}  // namespace errseg::models
