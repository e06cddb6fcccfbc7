// Matrix products on Eigen, parallelised over rows/batches with errseg::parallel_for.
#pragma once
#include "../core.hpp"
#include "detail/common.hpp"
#include "detail/gemm_kernel.hpp"
#include "detail/gemm_precision.hpp"

namespace errseg::ops {

namespace detail {

// Describes the last two dims of t as a GEMM operand without copying when one of them has
// stride 1 (row-major or a transposed view); otherwise `t` is replaced by a contiguous copy.
inline MatArg matrix_operand(Tensor& t, bool trans) {
    const int64_t nd = t.dim();
    const int64_t rows = t.size(nd - 2), cols = t.size(nd - 1);
    const int64_t sr = t.strides()[size_t(nd - 2)], sc = t.strides()[size_t(nd - 1)];
    if (sc == 1 || cols == 1) return {cdata(t), rows == 1 ? cols : sr, trans};
    if (sr == 1 || rows == 1) return {cdata(t), cols == 1 ? rows : sc, !trans};
    t = t.contiguous();
    return {cdata(t), cols, trans};
}

}  // namespace detail

// a [..., M, K] x b [..., K, N] -> [..., M, N]. b may be 2-D (shared by every batch) or have
// the same leading dims as a. trans_b: b is given as [..., N, K].
// Leading (batch) dims broadcast numpy-style.
inline Tensor matmul(const Tensor& a_in, const Tensor& b_in, bool trans_b = false) {
    ERRSEG_CHECK(a_in.defined() && b_in.defined(), "matmul: undefined input");
    ERRSEG_CHECK(a_in.dim() >= 2 && b_in.dim() >= 2, "matmul: inputs must be at least 2-d, got ",
                 shape_str(a_in.shape()), " and ", shape_str(b_in.shape()));
    Tensor a = a_in.dtype() == DType::F32 ? a_in : detail::f32_contig(a_in, "matmul", "a");
    Tensor b = b_in.dtype() == DType::F32 ? b_in : detail::f32_contig(b_in, "matmul", "b");
    const int64_t M = a.size(-2), K = a.size(-1);
    const int64_t bK = trans_b ? b.size(-1) : b.size(-2), N = trans_b ? b.size(-2) : b.size(-1);
    ERRSEG_CHECK(K == bK, "matmul: inner dimensions differ: a ", shape_str(a.shape()), " x b ",
                 shape_str(b.shape()), trans_b ? " (b transposed)" : "");

    // Broadcast the batch dims.
    const Shape abatch(a.shape().begin(), a.shape().end() - 2), bbatch(b.shape().begin(), b.shape().end() - 2);
    const size_t nb = std::max(abatch.size(), bbatch.size());
    Shape batch(nb), astr(nb, 0), bstr(nb, 0);
    for (size_t i = 0; i < nb; ++i) {
        int64_t ai = int64_t(i) - int64_t(nb - abatch.size()), bi = int64_t(i) - int64_t(nb - bbatch.size());
        int64_t da = ai >= 0 ? abatch[size_t(ai)] : 1, db = bi >= 0 ? bbatch[size_t(bi)] : 1;
        ERRSEG_CHECK(da == db || da == 1 || db == 1, "matmul: batch dims of ", shape_str(a.shape()),
                     " and ", shape_str(b.shape()), " do not broadcast");
        batch[i] = std::max(da, db);
        if (ai >= 0 && da != 1) astr[i] = a.strides()[size_t(ai)];
        if (bi >= 0 && db != 1) bstr[i] = b.strides()[size_t(bi)];
    }
    const int64_t nbatch = shape_numel(batch);
    Shape oshape = batch;
    oshape.push_back(M);
    oshape.push_back(N);
    Tensor out = Tensor::empty(oshape);
    float* o = out.data<float>();
    if (out.numel() == 0) return out;

    const bool bf16 = detail::gemms_in_bf16();  // both operands are activations here: nothing cached
    detail::MatArg bm = detail::matrix_operand(b, trans_b);
    // a's batch dims that b does not vary over fold into one tall GEMM (the linear-layer case).
    if (bbatch.empty() || shape_numel(bbatch) == 1) {
        Tensor ac = a.contiguous();
        detail::gemm_at(bf16, nbatch * M, N, K, {detail::cdata(ac), K, false}, bm, o, N);
        return out;
    }
    detail::MatArg am = detail::matrix_operand(a, false);
    if (a.strides() != a_in.strides() || a.raw() != a_in.raw()) {
        // a was copied to be contiguous: its batch strides changed.
        for (size_t i = 0; i < nb; ++i) {
            int64_t ai = int64_t(i) - int64_t(nb - abatch.size());
            astr[i] = (ai >= 0 && abatch[size_t(ai)] != 1) ? a.strides()[size_t(ai)] : 0;
        }
    }
    if (b.raw() != b_in.raw() || b.strides() != b_in.strides()) {
        for (size_t i = 0; i < nb; ++i) {
            int64_t bi = int64_t(i) - int64_t(nb - bbatch.size());
            bstr[i] = (bi >= 0 && bbatch[size_t(bi)] != 1) ? b.strides()[size_t(bi)] : 0;
        }
    }
    // Element offsets of every batch item (odometer over the broadcast batch shape).
    std::vector<int64_t> aoff(static_cast<size_t>(nbatch)), boff(static_cast<size_t>(nbatch));
    {
        Shape idx(nb, 0);
        for (int64_t t = 0; t < nbatch; ++t) {
            int64_t oa = 0, ob = 0;
            for (size_t i = 0; i < nb; ++i) {
                oa += idx[i] * astr[i];
                ob += idx[i] * bstr[i];
            }
            aoff[size_t(t)] = oa;
            boff[size_t(t)] = ob;
            for (size_t i = nb; i-- > 0;) {
                if (++idx[i] < batch[i]) break;
                idx[i] = 0;
            }
        }
    }
    auto one = [&](int64_t t) {
        detail::MatArg at = am, bt = bm;
        at.p += aoff[size_t(t)];
        bt.p += boff[size_t(t)];
        detail::gemm_at(bf16, M, N, K, at, bt, o + t * M * N, N);
    };
    if (nbatch >= 4 * int64_t(get_num_threads())) {
        parallel_for(nbatch, detail::min_chunk_for(M * N * K / 8), [&](int64_t t0, int64_t t1) {
            for (int64_t t = t0; t < t1; ++t) one(t);
        });
    } else {
        for (int64_t t = 0; t < nbatch; ++t) one(t);  // few large products: split each one
    }
    return out;
}

// PyTorch nn.Linear: x [..., in], weight [out, in], optional bias [out] -> [..., out].
// Fused: act(x W^T + b) + residual (residual [..., out], [...] without the first dim, or undefined), applied to each GEMM
// block as it is finished (the model's linear -> gelu and x + proj(y) in one pass).
inline Tensor linear(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias = Tensor(),
                     Activation act = Activation::None, const Tensor& residual = Tensor()) {
    ERRSEG_CHECK(x_in.defined() && weight_in.defined(), "linear: undefined input or weight");
    ERRSEG_CHECK(x_in.dim() >= 1 && weight_in.dim() == 2, "linear: expected x [..., in] and weight [out, in], got ",
                 shape_str(x_in.shape()), " and ", shape_str(weight_in.shape()));
    const int64_t in = x_in.size(-1), outf = weight_in.size(0);
    ERRSEG_CHECK(weight_in.size(1) == in, "linear: input ", shape_str(x_in.shape()),
                 " does not match weight ", shape_str(weight_in.shape()), " (in_features ",
                 weight_in.size(1), ")");
    Tensor x = detail::f32_contig(x_in, "linear", "input");
    Tensor w = weight_in.dtype() == DType::F32 ? weight_in : detail::f32_contig(weight_in, "linear", "weight");
    Tensor bkeep;
    const float* bp = detail::optional_vec(bias, outf, "linear", "bias", bkeep);
    Shape oshape = x.shape();
    oshape.back() = outf;
    Tensor out = Tensor::empty(oshape);
    const int64_t M = in > 0 ? x.numel() / in : shape_numel(Shape(x.shape().begin(), x.shape().end() - 1));
    Tensor rkeep;
    const detail::Epilogue epi = detail::make_epilogue(act, residual, out, "linear", rkeep);
    if (out.numel() == 0) return out;
    float* o = out.data<float>();
    detail::MatArg wm = detail::matrix_operand(w, true);
    const detail::Bf16Weight wb = detail::bf16_weight(w, wm, /*as_a=*/false, outf, in);
    detail::gemm_at(wb != nullptr, M, outf, in, {detail::cdata(x), in, false}, wm, o, outf, false, nullptr, wb.get(),
                    epi.empty() ? nullptr : &epi, {bp, /*per_row=*/false});
    return out;
}

}  // namespace errseg::ops
