// The gated MLP of ERR-Seg's fusion blocks as one op:
//
//   out = act3(fc3(act1(fc1(x)) ⊙ fc2(x))) + residual
//
// Run as separate ops it writes three hidden-sized tensors (fc1, fc2, their product: 3x the
// width of x) to memory and reads them back. Here each chunk of rows goes through fc1, fc2, the
// gate and fc3 while its hidden rows are still in L2. The GEMM sums every element in one fixed
// order whatever rows it is given, so the result has the bits of the separate linear and mul ops.
#pragma once
#include "../core.hpp"
#include "detail/common.hpp"
#include "detail/epilogue.hpp"
#include "detail/gemm_precision.hpp"
#include "gemm.hpp"

namespace errseg::ops {

namespace detail {

// Rows per chunk: two chunk x hidden buffers stay in L2 (2 x 128 x 384 floats = 384 KiB for
// ERR-Seg B's spatial MLP), and there are enough chunks to keep every thread busy.
constexpr int64_t kGatedMlpRows = 128;

// One fc of the MLP as a GEMM B operand: in fp32 w^T made row-major once per call (the kernel
// then packs it with row copies, or reads it in place), in bf16 the cached packed weight.
struct MlpWeight {
    Tensor keep;  // w^T (fp32) or w itself (bf16)
    bool transposed = false;
    MatArg m;
    Bf16Weight bf16;
    const float* bias = nullptr;
    Tensor bias_keep;

    MlpWeight(const Tensor& w_in, const Tensor& b, const char* name) {
        ERRSEG_CHECK(w_in.defined() && w_in.dim() == 2, "gated_mlp: ", name, " weight must be [out, in], got ",
                     w_in.defined() ? shape_str(w_in.shape()) : std::string("undefined"));
        keep = w_in.dtype() == DType::F32 ? w_in : f32_contig(w_in, "gated_mlp", name);
        if (gemms_in_bf16()) {
            m = matrix_operand(keep, true);
            bf16 = bf16_weight(keep, m, /*as_a=*/false, keep.size(0), keep.size(1));
        } else {
            keep = keep.transpose(0, 1).contiguous();  // [in, out]
            transposed = true;
            m = {cdata(keep), keep.size(1), false};
        }
        bias = optional_vec(b, out_features(), "gated_mlp", (std::string(name) + " bias").c_str(), bias_keep);
    }
    int64_t out_features() const { return keep.size(transposed ? 1 : 0); }
    int64_t in_features() const { return keep.size(transposed ? 0 : 1); }
    // C[rows, out] = A[rows, in] w^T + bias, then `epi`.
    void apply(int64_t rows, const float* a, int64_t lda, float* c, int64_t ldc, const Epilogue* epi) const {
        gemm_at(bf16 != nullptr, rows, out_features(), in_features(), {a, lda, false}, m, c, ldc, false, nullptr,
                bf16.get(), epi, {bias, /*per_row=*/false});
    }
};

}  // namespace detail

// x [..., C]; w1, w2 [hidden, C], b1, b2 [hidden] (or undefined); w3 [Cout, hidden], b3 [Cout];
// residual of the output's shape or undefined -> [..., Cout].
inline Tensor gated_mlp(const Tensor& x_in, const Tensor& w1, const Tensor& b1, Activation act1, const Tensor& w2,
                        const Tensor& b2, const Tensor& w3, const Tensor& b3, Activation act3 = Activation::None,
                        const Tensor& residual = Tensor()) {
    ERRSEG_CHECK(x_in.defined() && x_in.dim() >= 1, "gated_mlp: undefined or 0-d input");
    const detail::MlpWeight fc1(w1, b1, "fc1"), fc2(w2, b2, "fc2"), fc3(w3, b3, "fc3");
    const int64_t C = x_in.size(-1), hidden = fc1.out_features(), Cout = fc3.out_features();
    ERRSEG_CHECK(fc1.in_features() == C && fc2.in_features() == C && fc2.out_features() == hidden &&
                     fc3.in_features() == hidden,
                 "gated_mlp: weights fc1 ", shape_str(w1.shape()), ", fc2 ", shape_str(w2.shape()), ", fc3 ",
                 shape_str(w3.shape()), " do not fit an input ", shape_str(x_in.shape()));
    const Tensor x = detail::f32_contig(x_in, "gated_mlp", "input");
    Shape oshape = x.shape();
    oshape.back() = Cout;
    Tensor out = Tensor::empty(oshape);
    Tensor rkeep;
    const detail::Epilogue epi3 = detail::make_epilogue(act3, residual, out, "gated_mlp", rkeep);
    if (out.numel() == 0) return out;
    const int64_t M = x.numel() / std::max<int64_t>(C, 1), R = detail::kGatedMlpRows;
    const float* xp = detail::cdata(x);
    float* o = out.data<float>();
    parallel_for((M + R - 1) / R, 1, [&](int64_t c0, int64_t c1) {
        for (int64_t chunk = c0; chunk < c1; ++chunk) {
            const int64_t r0 = chunk * R, rows = std::min(R, M - r0);
            float* h1 = detail::scratch(size_t(2 * R * hidden), 2);  // [rows, hidden] twice
            float* h2 = h1 + R * hidden;
            const detail::Epilogue epi1{act1, nullptr, 0, h1};
            fc1.apply(rows, xp + r0 * C, C, h1, hidden, act1 == Activation::None ? nullptr : &epi1);
            fc2.apply(rows, xp + r0 * C, C, h2, hidden, nullptr);
            // The gate through the mul op's own dispatched kernel (vectorised whatever the
            // embedder's flags; the same bits as ops::mul).
            detail::on_cpu_isa([&](auto isa) { binary_row(isa, detail::BinaryOp::mul, h1, 1, h2, 1, h1, rows * hidden); });
            fc3.apply(rows, h1, hidden, o + r0 * Cout, Cout, epi3.empty() ? nullptr : &epi3);
        }
    });
    return out;
}

}  // namespace errseg::ops
