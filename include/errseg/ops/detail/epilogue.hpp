// Activations on fp32 buffers, and the fused epilogue of linear / conv2d / group_norm:
//
//   out = act(out) + residual
//
// applied by the op to each block of its output right after computing it, while the block is in
// cache (the GPU kernels do the same in their epilogues).
//
// An element's activation never depends on where it sits: Eigen evaluates the start of an
// unaligned span and the last few elements of any span with scalar code, whose exp differs from
// the vectorised one in the last bit. activate() therefore runs every element through the vector
// path (the aligned body in place, head and tail through a padded aligned tile), so a fused
// activation on a block gives the same bits as the separate op on the whole tensor.
#pragma once
#include <unsupported/Eigen/SpecialFunctions>  // vectorised erf

#include <cstdint>
#include <cstring>

#include "common.hpp"

namespace errseg::ops::detail {

// Floats per tile: a multiple of every vector width (4, 8, 16).
constexpr int64_t kActTile = 256;

// Logistic function that stays accurate for large |x|: exp only ever sees -|k x| (no overflow),
// and the negative side is e / (1 + e) rather than 1 - 1 / (1 + e) (no cancellation). The blend
// (selected by the sign bit of x, k > 0) is branch-free so the compiler vectorises it.
// times_x: x * sigmoid(k x) (quick_gelu). n a multiple of the vector width; in may equal out.
inline void sigmoid_tile(const float* in, float* out, int64_t n, float k, bool times_x) {
    alignas(64) float ebuf[kActTile];
    for (int64_t s = 0; s < n; s += kActTile) {
        const int64_t m = std::min(kActTile, n - s);
        MapArr(ebuf, m) = (-(k * MapCArr(in + s, m)).abs()).exp();
        for (int64_t i = 0; i < m; ++i) {
            const float x = in[s + i], e = ebuf[i], r = 1.f / (1.f + e), er = e * r;
            uint32_t xb, rb, erb;
            std::memcpy(&xb, &x, 4);
            std::memcpy(&rb, &r, 4);
            std::memcpy(&erb, &er, 4);
            const uint32_t neg = uint32_t(int32_t(xb) >> 31);  // all ones when x < 0 (or -0)
            const uint32_t yb = (erb & neg) | (rb & ~neg);
            float y;
            std::memcpy(&y, &yb, 4);
            out[s + i] = times_x ? x * y : y;
        }
    }
}

// act on n values, n a multiple of the vector width, out 64-byte aligned (so Eigen runs its
// vector code on every element); in may equal out.
inline void activation_tile(const float* in, float* out, int64_t n, Activation act) {
    MapCArr a(in, n);
    MapArr o(out, n);
    switch (act) {
        case Activation::Gelu: o = 0.5f * a * (1.f + (a * 0.70710678118654752f).erf()); return;  // exact (erf) GELU
        case Activation::QuickGelu: sigmoid_tile(in, out, n, 1.702f, true); return;
        case Activation::Relu: o = a.max(0.f); return;
        case Activation::Relu6: o = a.max(0.f).min(6.f); return;
        case Activation::Sigmoid: sigmoid_tile(in, out, n, 1.f, false); return;
        case Activation::None: o = a; return;
    }
}

// out[i] = act(in[i]) for n values; in may equal out. The aligned body runs in place of the
// output; an unaligned head and the tail (< 16 values) go through an aligned tile, padded.
inline void activate(const float* in, float* out, int64_t n, Activation act) {
    if (act == Activation::None) {
        if (in != out) std::copy_n(in, n, out);
        return;
    }
    const auto through_tile = [act](const float* i, float* o, int64_t len) {  // len <= 16
        alignas(64) float t[16] = {};
        std::copy_n(i, len, t);
        activation_tile(t, t, 16, act);
        std::copy_n(t, len, o);
    };
    const int64_t misaligned = int64_t(reinterpret_cast<uintptr_t>(out) % 64) / int64_t(sizeof(float));
    const int64_t head = std::min(n, (16 - misaligned) % 16);  // values before the first aligned one
    if (head) through_tile(in, out, head);
    const int64_t body = (n - head) / 16 * 16;
    if (body) activation_tile(in + head, out + head, body, act);
    if (head + body < n) through_tile(in + head + body, out + head + body, n - head - body);
}

// The fused part of an op: act, then + residual, on output blocks. The residual repeats every
// `period` values of the output (its whole size, or one item of the leading dims it broadcasts
// over); a block row never straddles two periods (see fused_residual_period, core/shape.hpp).
struct Epilogue {
    Activation act = Activation::None;
    const float* residual = nullptr;
    int64_t period = 0;
    const float* out = nullptr;  // the output's first element: a block's offset from it indexes residual

    bool empty() const { return act == Activation::None && residual == nullptr; }

    // The block of `rows` x `cols` values at c (row stride ld) inside the output.
    void operator()(float* c, int64_t rows, int64_t cols, int64_t ld) const {
        for (int64_t r = 0; r < rows; ++r) {
            float* row = c + r * ld;
            activate(row, row, cols, act);
            if (residual) {
                const float* res = residual + (row - out) % period;
                for (int64_t j = 0; j < cols; ++j) row[j] += res[j];
            }
        }
    }
};

// The epilogue of op's output `out` (a fresh contiguous fp32 tensor); F16/BF16 residuals are
// widened into `keep`.
inline Epilogue make_epilogue(Activation act, const Tensor& residual, const Tensor& out, const char* op,
                              Tensor& keep) {
    Epilogue e;
    e.act = act;
    e.out = out.data<float>();
    if (residual.defined()) {
        e.period = fused_residual_period(residual.shape(), out.shape(), op);
        keep = f32_contig(residual, op, "residual");
        e.residual = cdata(keep);
    }
    return e;
}

}  // namespace errseg::ops::detail
