// Activations on fp32 buffers, and the fused epilogue of linear / conv2d / group_norm:
//
//   out = act(out) + residual
//
// applied by the op to each block of its output right after computing it, while the block is in
// cache (the GPU kernels do the same in their epilogues).
//
// An element's activation never depends on where it sits: the exp/erf kernels of the active
// instruction set (vmath_body.inl) map whole vectors and pad the tail, and relu/relu6 are exact,
// so a fused activation on a block gives the same bits as the separate op on the whole tensor.
#pragma once
#include <algorithm>
#include <cstdint>

#include "common.hpp"
#include "isa_kernels.hpp"

namespace errseg::ops::detail {

// out[i] = act(in[i]) for n values; in may equal out.
inline void activate(const float* in, float* out, int64_t n, Activation act) {
    switch (act) {
        case Activation::Gelu: on_cpu_isa([&](auto isa) { gelu_block(isa, in, out, n); }); return;  // exact (erf)
        case Activation::QuickGelu: on_cpu_isa([&](auto isa) { quick_gelu_block(isa, in, out, n); }); return;
        case Activation::Sigmoid: on_cpu_isa([&](auto isa) { sigmoid_block(isa, in, out, n, 1.f); }); return;
        case Activation::Relu: MapArr(out, n) = MapCArr(in, n).max(0.f); return;
        case Activation::Relu6: MapArr(out, n) = MapCArr(in, n).max(0.f).min(6.f); return;
        case Activation::None:
            if (in != out) std::copy_n(in, n, out);
            return;
    }
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
