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
// kNc: the most columns of one packed kKc x kNc B block (kept in L2), whole tiles only.
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

// The A operand of one register tile: a packed panel (row r of step k at p[k * kMr + r]) or,
// when op(A) is row-major, the rows in place (row r of step k at p[r * ld + k]; rows past the
// tile's end repeat its last row, whose results the partial-tile store drops). Reading rows in
// place saves packing A, which costs most where N is small (the head's 128- and 384-wide GEMMs).
template <bool kPackedA>
struct SgATile {
    const float* p;
    int64_t ld;
};

// The B operand of one register tile: step k's columns at p + k * step (a packed panel, step
// kNr, or op(B)'s rows in place, step ld).
struct SgBTile {
    const float* p;
    int64_t step;
};

// How a tile's sums reach C: added to C, or (first k block, no accumulation) stored, plus the
// bias of the tile's columns (bias_col) or rows (bias_row) if any. bias + sum is what filling C
// with the bias and then adding gave, without the extra pass over C.
struct SgStore {
    bool overwrite;
    const float* bias_col;
    const float* bias_row;
};

// C[kMr x NV vectors] (+)= A[kMr x kc] B[kc x NV vectors]: kMr x NV accumulators stay in
// registers. NV is the ISA's full tile width, or fewer vectors for the last panel of a narrow
// product (N = 32 in attention, 128 = 48 + 48 + 32 in the head), which then skips the padding
// instead of multiplying it. `st` says how the sums reach C (SgStore). Partial tiles
// (mr < kMr or nr < NV vectors) go through a small buffer. Every variant sums each element over
// k in the same order.
template <bool kPackedA, int NV>
ERRSEG_KERNEL_NOINLINE inline void sg_kernel(int64_t kc, SgATile<kPackedA> a, SgBTile b, float* c, int64_t ldc, int64_t mr, int64_t nr,
                      SgStore st) {
    constexpr int MR = int(kMr);
    constexpr int64_t kNt = NV * kLanes;  // tile width
    const float* rows[MR];
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) rows[r] = kPackedA ? a.p + r : a.p + std::min<int64_t>(r, mr - 1) * a.ld;
    constexpr int64_t kStep = kPackedA ? kMr : 1;  // floats between steps k and k + 1 of one row
    Vec acc[MR][NV];
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[r][v] = Vec{};
    const float* bp = b.p;
    for (int64_t k = 0; k < kc; ++k) {
        Vec bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) bv[v] = vload(bp + v * kLanes);
#pragma GCC unroll 16
        for (int r = 0; r < MR; ++r) {
            const float av = rows[r][k * kStep];
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) acc[r][v] += av * bv[v];
        }
        bp += b.step;
    }
    const bool biased = st.overwrite && (st.bias_col || st.bias_row);
    if (mr == kMr && nr == kNt) {
#pragma GCC unroll 16
        for (int r = 0; r < MR; ++r) {
            float* cr = c + r * ldc;
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) {
                float* p = cr + v * kLanes;
                if (!st.overwrite)
                    vstore(p, vload(p) + acc[r][v]);
                else if (!biased)
                    vstore(p, acc[r][v]);
                else if (st.bias_col)
                    vstore(p, vload(st.bias_col + v * kLanes) + acc[r][v]);
                else
                    vstore(p, st.bias_row[r] + acc[r][v]);
            }
        }
        return;
    }
    float tile[kMr * kNt];
    for (int r = 0; r < MR; ++r)
        for (int v = 0; v < NV; ++v) vstore(tile + r * kNt + v * kLanes, acc[r][v]);
    for (int64_t r = 0; r < mr; ++r)
        for (int64_t j = 0; j < nr; ++j) {
            float& dst = c[r * ldc + j];
            const float sum = tile[r * kNt + j];
            if (!st.overwrite)
                dst = dst + sum;
            else if (!biased)
                dst = sum;
            else
                dst = (st.bias_col ? st.bias_col[j] : st.bias_row[r]) + sum;
        }
}

// One tile with as many vectors as its nr columns need (see sg_kernel).
template <bool kPackedA>
inline void sg_tile(int64_t kc, SgATile<kPackedA> a, SgBTile bp, float* c, int64_t ldc, int64_t mr, int64_t nr,
                    SgStore store) {
    constexpr int NV = ERRSEG_ISA_NV;
    static_assert(NV >= 1 && NV <= 3, "tile widths of 1 to 3 vectors");
    if (NV >= 3 && nr > 2 * kLanes)
        sg_kernel<kPackedA, NV>(kc, a, bp, c, ldc, mr, nr, store);
    else if (NV >= 2 && nr > kLanes)
        sg_kernel<kPackedA, (NV >= 2 ? 2 : NV)>(kc, a, bp, c, ldc, mr, nr, store);
    else
        sg_kernel<kPackedA, 1>(kc, a, bp, c, ldc, mr, nr, store);
}

// C[m x n] (+)= op(A)[m x K] op(B)[K x n] (+ bias, see GemmBias) where A's rows start at row
// i0 and B's columns at j0; c points at C(i0, j0). Serial: callers split the work.
inline void sgemm_serial(Tag, int64_t m, int64_t n, int64_t K, MatArg a, int64_t i0, MatArg b, int64_t j0, float* c,
                         int64_t ldc, bool accumulate, GemmBias bias = {}) {
    float* bpack = scratch(size_t(kKc * std::min(kNc, (n + kNr - 1) / kNr * kNr)), 5);
    // A row-major A is read in place; a transposed one is packed (its rows are strided). A
    // row-major B is read in place too when few row tiles reuse it (the head's convolutions with
    // 8 to 32 output channels, attention's P·V), where packing it cost as much as the products.
    const bool pack_a = a.trans, pack_b = b.trans || m > 4 * kMr;
    float* apack = pack_a ? scratch(size_t(kKc * kMc), 4) : nullptr;
    // Column chunks of at most kNc, as equal as whole tiles allow (1,600 columns: 2 x 816, not
    // 1,152 + 448): the chunk's packed B stays in L2 and no thin chunk re-reads all of A.
    const int64_t chunks = (n + kNc - 1) / kNc;
    const int64_t chunk_cols = ((n + chunks - 1) / chunks + kNr - 1) / kNr * kNr;
    for (int64_t jc = 0; jc < n; jc += chunk_cols) {
        const int64_t nc = std::min(chunk_cols, n - jc);
        for (int64_t pc = 0; pc < K; pc += kKc) {
            const int64_t kc = std::min(kKc, K - pc);
            const bool first_block = pc == 0 && !accumulate;
            if (pack_b) sg_pack_b(b, pc, kc, j0 + jc, nc, bpack);
            // In place, a ragged last panel (not whole vectors) is packed: loads would read past it.
            const int64_t last_jr = (nc - 1) / kNr * kNr, last_nr = nc - last_jr;
            const bool pack_last = !pack_b && last_nr % kLanes != 0;
            if (pack_last) sg_pack_b(b, pc, kc, j0 + jc + last_jr, last_nr, bpack);
            const auto b_tile = [&](int64_t jr) -> SgBTile {
                if (pack_b) return {bpack + (jr / kNr) * kNr * kc, kNr};
                if (pack_last && jr == last_jr) return {bpack, kNr};
                return {b.p + pc * b.ld + j0 + jc + jr, b.ld};
            };
            for (int64_t ic = 0; ic < m; ic += kMc) {
                const int64_t mc = std::min(kMc, m - ic);
                if (pack_a) sg_pack_a(a, i0 + ic, mc, pc, kc, apack);
                // Row tiles outer: the tile's A rows (kMr x kc, broadcast) stay in L1 while the
                // B panels stream from L2 (BLIS keeps its broadcast operand resident the same way).
                for (int64_t ir = 0; ir < mc; ir += kMr) {
                    const int64_t mr = std::min(kMr, mc - ir);
                    for (int64_t jr = 0; jr < nc; jr += kNr) {
                        const int64_t nr = std::min(kNr, nc - jr);
                        float* ct = c + (ic + ir) * ldc + jc + jr;
                        const SgStore store{first_block, bias.per_row ? nullptr : bias.at(j0 + jc + jr),
                                            bias.per_row ? bias.at(i0 + ic + ir) : nullptr};
                        if (pack_a)
                            sg_tile(kc, SgATile<true>{apack + (ir / kMr) * kMr * kc, 0}, b_tile(jr), ct, ldc, mr, nr,
                                    store);
                        else
                            sg_tile(kc, SgATile<false>{a.p + (i0 + ic + ir) * a.ld + pc, a.ld}, b_tile(jr), ct, ldc,
                                    mr, nr, store);
                    }
                }
            }
        }
    }
}
