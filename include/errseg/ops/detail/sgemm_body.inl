// The fp32 GEMM's packing and register-tile micro-kernel, compiled once per instruction set.
// No include guard: isa_kernels.hpp includes this file once inside each ISA namespace (and
// target region), with ERRSEG_ISA_MR (tile rows) and ERRSEG_ISA_NV (vectors per tile row)
// defined. Plain loops and vector extensions only: Eigen would stay at the TU's baseline ISA.
//
// A packed, cache-blocked GEMM (the BLIS loop structure). Every element of C is accumulated
// over k in one fixed order (k blocks of kKc in sequence, each summed in one register lane),
// whatever the block of C being computed and whatever the tile size: results do not depend on
// how callers split M or N across threads.

constexpr int64_t kMr = ERRSEG_ISA_MR, kNr = ERRSEG_ISA_NV * kLanes;  // register tile
// kNc: the kKc x kNc B block in L3, whole tiles only.
constexpr int64_t kKc = ERRSEG_SGEMM_KC, kMc = ERRSEG_SGEMM_MC, kNc = ERRSEG_SGEMM_NC / kNr * kNr;
static_assert(kMc % kMr == 0, "the A block holds whole register tiles");

// Packs rows [i0, i0 + m) x k-range [k0, k0 + kc) of op(A) into panels of kMr rows:
// panel-major, then k, then the kMr rows (zero padded).
inline void sg_pack_a(const MatArg& a, int64_t i0, int64_t m, int64_t k0, int64_t kc, float* dst) {
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
inline void sg_pack_b(const MatArg& b, int64_t k0, int64_t kc, int64_t j0, int64_t n, float* dst) {
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

// C[kMr x kNr] (+)= Ap[kc x kMr]^T Bp[kc x kNr]: kMr x NV accumulators stay in registers.
// `overwrite` stores the sums, else adds them to C. Partial tiles (mr < kMr or nr < kNr) go
// through a small buffer.
inline void sg_kernel(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, int64_t mr, int64_t nr,
                      bool overwrite) {
    constexpr int MR = int(kMr), NV = ERRSEG_ISA_NV;
    Vec acc[MR][NV];
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[r][v] = Vec{};
    for (int64_t k = 0; k < kc; ++k) {
        Vec b[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) b[v] = vload(bp + v * kLanes);
#pragma GCC unroll 16
        for (int r = 0; r < MR; ++r) {
            const float a = ap[r];
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) acc[r][v] += a * b[v];
        }
        ap += kMr;
        bp += kNr;
    }
    if (mr == kMr && nr == kNr) {
#pragma GCC unroll 16
        for (int r = 0; r < MR; ++r) {
            float* cr = c + r * ldc;
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) {
                float* p = cr + v * kLanes;
                vstore(p, overwrite ? acc[r][v] : vload(p) + acc[r][v]);
            }
        }
        return;
    }
    float tile[kMr * kNr];
    for (int r = 0; r < MR; ++r)
        for (int v = 0; v < NV; ++v) vstore(tile + r * kNr + v * kLanes, acc[r][v]);
    for (int64_t r = 0; r < mr; ++r)
        for (int64_t j = 0; j < nr; ++j) {
            float& dst = c[r * ldc + j];
            dst = overwrite ? tile[r * kNr + j] : dst + tile[r * kNr + j];
        }
}

// C[m x n] (+)= op(A)[m x K] op(B)[K x n] where A's rows start at row i0 and B's columns at
// j0; c points at C(i0, j0). Serial: callers split the work.
inline void sgemm_serial(Tag, int64_t m, int64_t n, int64_t K, MatArg a, int64_t i0, MatArg b, int64_t j0, float* c,
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
