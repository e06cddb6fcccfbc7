#pragma once
#include "../core.hpp"
#include "conv_params.hpp"
#include "detail/common.hpp"

namespace errseg::ops {

// nn.AvgPool2d(kernel, stride) without padding (count_include_pad irrelevant), floor mode:
// [N, C, H, W] -> [N, C, (H - k) / s + 1, (W - k) / s + 1].
inline Tensor avg_pool2d(const Tensor& x_in, int kernel, int stride) {
    detail::check_dim(x_in, 4, "avg_pool2d", "input", "[N, C, H, W]");
    ERRSEG_CHECK(kernel > 0 && stride > 0, "avg_pool2d: kernel (", kernel, ") and stride (", stride,
                 ") must be positive");
    const int64_t N = x_in.size(0), C = x_in.size(1), H = x_in.size(2), W = x_in.size(3);
    ERRSEG_CHECK(H >= kernel && W >= kernel, "avg_pool2d: input ", shape_str(x_in.shape()),
                 " is smaller than the ", kernel, "x", kernel, " kernel");
    const int64_t Ho = pool_output_size(H, kernel, stride), Wo = pool_output_size(W, kernel, stride);
    Tensor x = detail::f32_contig(x_in, "avg_pool2d");
    Tensor out = Tensor::empty({N, C, Ho, Wo});
    if (out.numel() == 0) return out;
    const float* src = detail::cdata(x);
    float* dst = out.data<float>();
    const float area = float(kernel * kernel);  // PyTorch divides the window sum by this
    parallel_for(N * C, detail::min_chunk_for(Ho * Wo * kernel * kernel), [&](int64_t p0, int64_t p1) {
        for (int64_t pl = p0; pl < p1; ++pl) {
            const float* in = src + pl * H * W;
            float* o = dst + pl * Ho * Wo;
            for (int64_t oh = 0; oh < Ho; ++oh)
                for (int64_t ow = 0; ow < Wo; ++ow) {
                    float s = 0.f;
                    for (int64_t i = 0; i < kernel; ++i) {
                        const float* r = in + (oh * stride + i) * W + ow * stride;
                        for (int64_t j = 0; j < kernel; ++j) s += r[j];
                    }
                    o[oh * Wo + ow] = s / area;
                }
        }
    });
    return out;
}

}  // namespace errseg::ops
