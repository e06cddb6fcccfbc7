// A packed, cache-blocked fp32 GEMM (the BLIS loop structure) with a 6x16 register-tile
// micro-kernel written with GCC/Clang vector extensions (AVX2/FMA or AVX-512 with -march=native).
//
// Every element of C is accumulated over k in one fixed order (k blocks of kKc in sequence, each
// summed in one register), whatever the block of C being computed: results do not depend on how
// callers split M or N across threads.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "common.hpp"

// Define ERRSEG_NO_SGEMM to use Eigen's GEMM instead (also the fallback for other compilers).
#if defined(__GNUC__) && !defined(ERRSEG_NO_SGEMM)
#define ERRSEG_HAVE_SGEMM 1

namespace errseg::ops::detail {

typedef float SgVec __attribute__((vector_size(32)));

// Cache blocking (overridable for tuning): a kKc x kNr B micro-panel stays in L1, the
// kMc x kKc A block in L2, the kKc x kNc B block in L3.
#ifndef ERRSEG_SGEMM_KC
#define ERRSEG_SGEMM_KC 256
#endif
#ifndef ERRSEG_SGEMM_MC
#define ERRSEG_SGEMM_MC 96
#endif
#ifndef ERRSEG_SGEMM_NC
#define ERRSEG_SGEMM_NC 2048
#endif
constexpr int64_t kMr = 6, kNr = 16;  // register tile
constexpr int64_t kKc = ERRSEG_SGEMM_KC, kMc = ERRSEG_SGEMM_MC, kNc = ERRSEG_SGEMM_NC;

inline SgVec sg_load(const float* p) {
    SgVec v;
    std::memcpy(&v, p, sizeof(v));
    return v;
}
inline void sg_store(float* p, SgVec v) { std::memcpy(p, &v, sizeof(v)); }

// Element (i, k) of op(A), element (k, j) of op(B).
struct SgOperand {
    const float* p;
    int64_t ld;
    bool trans;
    float at(int64_t r, int64_t c) const { return trans ? p[c * ld + r] : p[r * ld + c]; }
};

// Packs rows [i0, i0 + m) x k-range [k0, k0 + kc) of op(A) into panels of kMr rows:
// panel-major, then k, then the kMr rows (zero padded).
inline void sg_pack_a(const SgOperand& a, int64_t i0, int64_t m, int64_t k0, int64_t kc, float* dst) {
    for (int64_t ip = 0; ip < m; ip += kMr) {
        const int64_t mr = std::min(kMr, m - ip);
        if (!a.trans) {
            for (int64_t r = 0; r < kMr; ++r) {
                if (r < mr) {
                    const float* src = a.p + (i0 + ip + r) * a.ld + k0;
                    for (int64_t k = 0; k < kc; ++k) dst[k * kMr + r] = src[k];
                } else {
                    for (int64_t k = 0; k < kc; ++k) dst[k * kMr + r] = 0.f;
                }
            }
        } else {
            for (int64_t k = 0; k < kc; ++k) {
                const float* src = a.p + (k0 + k) * a.ld + i0 + ip;
                for (int64_t r = 0; r < kMr; ++r) dst[k * kMr + r] = r < mr ? src[r] : 0.f;
            }
        }
        dst += kMr * kc;
    }
}

// Packs k-range [k0, k0 + kc) x columns [j0, j0 + n) of op(B) into panels of kNr columns.
inline void sg_pack_b(const SgOperand& b, int64_t k0, int64_t kc, int64_t j0, int64_t n, float* dst) {
    for (int64_t jp = 0; jp < n; jp += kNr) {
        const int64_t nr = std::min(kNr, n - jp);
        if (!b.trans) {
            for (int64_t k = 0; k < kc; ++k) {
                const float* src = b.p + (k0 + k) * b.ld + j0 + jp;
                float* d = dst + k * kNr;
                if (nr == kNr) {
                    std::memcpy(d, src, sizeof(float) * kNr);
                } else {
                    for (int64_t c = 0; c < kNr; ++c) d[c] = c < nr ? src[c] : 0.f;
                }
            }
        } else {
            for (int64_t c = 0; c < kNr; ++c) {
                if (c < nr) {
                    const float* src = b.p + (j0 + jp + c) * b.ld + k0;
                    for (int64_t k = 0; k < kc; ++k) dst[k * kNr + c] = src[k];
                } else {
                    for (int64_t k = 0; k < kc; ++k) dst[k * kNr + c] = 0.f;
                }
            }
        }
        dst += kNr * kc;
    }
}

// C[6 x 16] (+)= Ap[kc x 6]^T Bp[kc x 16]; `first` overwrites C (unless accumulate), else adds.
// Partial tiles (mr < 6 or nr < 16) go through a small buffer.
inline void sg_kernel(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, int64_t mr, int64_t nr,
                      bool overwrite) {
    SgVec c00 = {}, c01 = {}, c10 = {}, c11 = {}, c20 = {}, c21 = {};
    SgVec c30 = {}, c31 = {}, c40 = {}, c41 = {}, c50 = {}, c51 = {};
    for (int64_t k = 0; k < kc; ++k) {
        const SgVec b0 = sg_load(bp), b1 = sg_load(bp + 8);
        float a = ap[0];
        c00 += a * b0, c01 += a * b1;
        a = ap[1];
        c10 += a * b0, c11 += a * b1;
        a = ap[2];
        c20 += a * b0, c21 += a * b1;
        a = ap[3];
        c30 += a * b0, c31 += a * b1;
        a = ap[4];
        c40 += a * b0, c41 += a * b1;
        a = ap[5];
        c50 += a * b0, c51 += a * b1;
        ap += kMr;
        bp += kNr;
    }
    const SgVec acc[kMr][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    if (mr == kMr && nr == kNr) {
        for (int64_t r = 0; r < kMr; ++r) {
            float* cr = c + r * ldc;
            if (overwrite) {
                sg_store(cr, acc[r][0]);
                sg_store(cr + 8, acc[r][1]);
            } else {
                sg_store(cr, sg_load(cr) + acc[r][0]);
                sg_store(cr + 8, sg_load(cr + 8) + acc[r][1]);
            }
        }
        return;
    }
    float tile[kMr * kNr];
    for (int64_t r = 0; r < kMr; ++r) {
        sg_store(tile + r * kNr, acc[r][0]);
        sg_store(tile + r * kNr + 8, acc[r][1]);
    }
    for (int64_t r = 0; r < mr; ++r)
        for (int64_t j = 0; j < nr; ++j) {
            float& dst = c[r * ldc + j];
            dst = overwrite ? tile[r * kNr + j] : dst + tile[r * kNr + j];
        }
}

// C[m x n] (+)= op(A)[m x K] op(B)[K x n] where A's rows start at row i0 and B's columns at
// j0; c points at C(i0, j0). Serial: callers split the work.
inline void sgemm_serial(int64_t m, int64_t n, int64_t K, SgOperand a, int64_t i0, SgOperand b, int64_t j0, float* c,
                         int64_t ldc, bool accumulate) {
    float* bpack = scratch(size_t(kKc * std::min(kNc, (n + kNr - 1) / kNr * kNr)), 5);
    float* apack = scratch(size_t(kKc * kMc), 4);
    for (int64_t jc = 0; jc < n; jc += kNc) {
        const int64_t nc = std::min(kNc, n - jc);
        for (int64_t pc = 0; pc < K; pc += kKc) {
            const int64_t kc = std::min(kKc, K - pc);
            const bool overwrite = pc == 0 && !accumulate;
            sg_pack_b(b, pc, kc, j0 + jc, nc, bpack);
            for (int64_t ic = 0; ic < m; ic += kMc) {
                const int64_t mc = std::min(kMc, m - ic);
                sg_pack_a(a, i0 + ic, mc, pc, kc, apack);
                for (int64_t jr = 0; jr < nc; jr += kNr) {
                    const float* bp = bpack + (jr / kNr) * kNr * kc;
                    for (int64_t ir = 0; ir < mc; ir += kMr) {
                        sg_kernel(kc, apack + (ir / kMr) * kMr * kc, bp, c + (ic + ir) * ldc + jc + jr, ldc,
                                  std::min(kMr, mc - ir), std::min(kNr, nc - jr), overwrite);
                    }
                }
            }
        }
    }
}

}  // namespace errseg::ops::detail

#endif  // __GNUC__
