// The one GEMM entry point every op uses: C (+)= op(A) * op(B) on raw row-major fp32 buffers,
// split across errseg::parallel_for; each block runs the serial kernel of sgemm_body.inl for the
// active instruction set (isa_kernels.hpp), or Eigen's, single-threaded, where that is unavailable.
#pragma once
#include "common.hpp"
#include "epilogue.hpp"
#include "isa_kernels.hpp"

namespace errseg::ops::detail {

// The bias joins a tile's first store, which an accumulating product does not have.
inline void check_fresh_for_bias(bool accumulate, GemmBias bias) {
    ERRSEG_CHECK(!(accumulate && bias.p), "gemm: a bias needs a fresh product (accumulate = false)");
}

// Fills the block with its bias (or zeros).
inline void fill_bias(float* c, int64_t m, int64_t n, int64_t ldc, int64_t r0, int64_t c0, GemmBias bias) {
    for (int64_t i = 0; i < m; ++i) {
        float* row = c + i * ldc;
        if (!bias.p)
            std::fill_n(row, n, 0.f);
        else if (bias.per_row)
            std::fill_n(row, n, bias.p[r0 + i]);
        else
            std::copy_n(bias.p + c0, n, row);
    }
}

// Serial kernel on a block of rows [r0, r1) and columns [c0, c1) of C.
inline void gemm_block(int64_t r0, int64_t r1, int64_t c0, int64_t c1, int64_t K, MatArg a, MatArg b,
                       float* c, int64_t ldc, bool accumulate, GemmBias bias = {}) {
    const int64_t m = r1 - r0, n = c1 - c0;
    if (m <= 0 || n <= 0) return;
    if (K == 0) {
        if (!accumulate) fill_bias(c + r0 * ldc + c0, m, n, ldc, r0, c0, bias);
        return;
    }
#if defined(ERRSEG_HAVE_SGEMM)
    on_cpu_isa([&](auto isa) { sgemm_serial(isa, m, n, K, a, r0, b, c0, c + r0 * ldc + c0, ldc, accumulate, bias); });
#else
    if (bias.p) {  // Eigen has no bias: fill, then accumulate (the same sums)
        fill_bias(c + r0 * ldc + c0, m, n, ldc, r0, c0, bias);
        accumulate = true;
    }
    // Portable fallback: Eigen's GEMM on op(A) rows r0..r1 and op(B) columns c0..c1.
    auto C = mat(c + r0 * ldc + c0, m, n, ldc);
    auto run = [&](const auto& A, const auto& B) {
        if (accumulate)
            C.noalias() += A * B;
        else
            C.noalias() = A * B;
    };
    if (!a.trans && !b.trans)
        run(cmat(a.p + r0 * a.ld, m, K, a.ld), cmat(b.p + c0, K, n, b.ld));
    else if (!a.trans && b.trans)
        run(cmat(a.p + r0 * a.ld, m, K, a.ld), cmat(b.p + c0 * b.ld, n, K, b.ld).transpose());
    else if (a.trans && !b.trans)
        run(cmat(a.p + r0, K, m, a.ld).transpose(), cmat(b.p + c0, K, n, b.ld));
    else
        run(cmat(a.p + r0, K, m, a.ld).transpose(), cmat(b.p + c0 * b.ld, n, K, b.ld).transpose());
#endif
}

// C[M, N] (+)= op(A)[M, K] * op(B)[K, N], then the epilogue `epi` (if any) on each block the
// moment it is done. With a bias (and accumulate = false): C = bias + op(A) op(B), the bias
// added as each tile is first stored. Splits the larger of M and N into one block per thread;
// nested inside another parallel_for it simply runs inline.
inline void gemm(int64_t M, int64_t N, int64_t K, MatArg a, MatArg b, float* c, int64_t ldc,
                 bool accumulate = false, const Epilogue* epi = nullptr, GemmBias bias = {}) {
    if (M <= 0 || N <= 0) return;
    check_fresh_for_bias(accumulate, bias);
    const auto block = [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
        gemm_block(r0, r1, c0, c1, K, a, b, c, ldc, accumulate, bias);
        if (epi) (*epi)(c + r0 * ldc + c0, r1 - r0, c1 - c0, ldc);
    };
    const int64_t flops = M * N * std::max<int64_t>(K, 1);
    const int threads = get_num_threads();
    if (threads <= 1 || flops < (1 << 18)) {
        block(0, M, 0, N);
        return;
    }
    // Results never depend on the thread count: the built-in kernel (sgemm_body.inl) sums every
    // element in the same order whatever block it computes. The boundaries (rows at multiples of
    // 24, columns at multiples of 48) also keep whole register tiles of every ISA (6x8, 6x16,
    // 8x48), and make Eigen's fallback route each element through the same micro-kernel as in
    // the unsplit product (Eigen evaluates a row-major C as C^T = B^T A^T: our rows are its
    // column panels of 4 or 8, our columns its rows peeled by 3 packets, 24 or 48 floats).
    if (M >= N) {
        const int64_t blocks = std::min<int64_t>(threads, (M + 23) / 24);
        parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
            for (int64_t i = b0; i < b1; ++i) {
                int64_t r0 = (M * i / blocks) / 24 * 24, r1 = i + 1 == blocks ? M : (M * (i + 1) / blocks) / 24 * 24;
                block(r0, r1, 0, N);
            }
        });
    } else {
        const int64_t blocks = std::min<int64_t>(threads, (N + 47) / 48);
        parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
            for (int64_t i = b0; i < b1; ++i) {
                int64_t c0 = (N * i / blocks) / 48 * 48, c1 = i + 1 == blocks ? N : (N * (i + 1) / blocks) / 48 * 48;
                block(0, M, c0, c1);
            }
        });
    }
}

}  // namespace errseg::ops::detail
