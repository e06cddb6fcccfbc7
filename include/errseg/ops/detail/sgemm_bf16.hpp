// A bf16 GEMM with fp32 accumulation for CPUs with AVX512-BF16 (--precision bf16).
//
// C (+)= op(A) op(B) where both operands are rounded to bf16 (round to nearest even, denormals
// to zero, like vcvtneps2bf16) and multiplied pairwise over k by vdpbf16ps into fp32 registers.
// An operand is either fp32 (rounded while it is packed, per cache block) or a weight packed
// once (Bf16Packed, cached per weight tensor by bf16_weight_cache.hpp).
//
// Layouts (a "pair" is two bf16 of consecutive k in one 32-bit word, the low half first; k pairs
// are zero padded to a multiple of kBfKp, the depth of one AMX tile):
//   A side: rows of pairs, row stride lda pairs; rows zero padded to a multiple of kBfRowPad.
//   B side: panels of kBfNr columns; panel = [k pairs][kBfNr] words.
// These are also the AMX tile layouts (A: 16 rows x 16 pairs; B, "VNNI": 16 pairs x 16 columns),
// so both micro-kernels read the same packed data:
//   * AMX (_tile_dpbf16ps), where the CPU and the kernel allow it: a 32 x 32 tile of C in four
//     tile registers;
//   * AVX512-BF16 (vdpbf16ps) otherwise: a kBfMr x kBfNr tile of C in 24 zmm registers, each step
//     broadcasting one A pair per row into four B vectors.
// Every element of C is summed over k in one fixed order whatever block a thread computes:
// results do not depend on the thread count (they differ between the two kernels in the last
// bits: AMX's order within a tile step is the hardware's).
//
// Compiled with target attributes (no -march flag needed); callers check cpu_bf16_supported()
// (core/cpu_precision.hpp) before calling anything here.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "../../core/cpu_precision.hpp"
#include "common.hpp"
#include "gemm_kernel.hpp"

#if defined(ERRSEG_HAVE_BF16_GEMM)
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

// GCC 12's AVX-512 intrinsics seed their results with _mm512_undefined_*(), which -Wall flags as
// "may be used uninitialized" in target-attribute functions of programs built without -march.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#define ERRSEG_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#define ERRSEG_AMX_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,amx-tile,amx-bf16")))

namespace errseg::ops::detail {

constexpr int64_t kBfMr = 6, kBfNr = 64;  // AVX512-BF16 register tile
constexpr int64_t kAmxM = 32, kAmxN = 32;  // AMX: 2 x 2 tiles of 16 x 16 fp32
constexpr int64_t kBfKp = 16, kBfRowPad = kAmxM;
inline int64_t bf16_padded_pairs(int64_t k) { return ((k + 1) / 2 + kBfKp - 1) / kBfKp * kBfKp; }
inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// Whether the AMX kernel runs: the CPU has AMX-TILE and AMX-BF16 and the OS grants this process
// the tile state (arch_prctl ARCH_REQ_XCOMP_PERM). ERRSEG_NO_AMX=1 keeps the AVX512-BF16 kernel;
// tests switch it to check both.
inline bool& bf16_amx_enabled() {
    static bool enabled = [] {
        const char* off = std::getenv("ERRSEG_NO_AMX");
        if (off && *off && std::string(off) != "0") return false;
        unsigned a = 0, b = 0, c = 0, d = 0;
        if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
        if (!(d & (1u << 22)) || !(d & (1u << 24))) return false;  // AMX-BF16, AMX-TILE
#if defined(SYS_arch_prctl)
        constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
        return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
        return false;
#endif
    }();
    return enabled;
}
// k per block (a 64-column B panel of 256 k is 32 KiB: L1), rows per A block, columns per B block.
constexpr int64_t kBfKc = 256, kBfMc = 192, kBfNc = 1024;

// fp32 -> bf16 bits as vcvtneps2bf16 rounds (the packing's vector path): errseg::float_to_bf16
// (nearest even, NaN quiet) with denormal inputs to signed zero.
inline uint16_t bf16_bits(float x) {
    uint32_t u;
    std::memcpy(&u, &x, sizeof(u));
    return (u & 0x7f800000u) == 0 ? uint16_t((u >> 16) & 0x8000u) : float_to_bf16(x);
}
inline uint32_t bf16_pair(float lo, float hi) { return uint32_t(bf16_bits(lo)) | (uint32_t(bf16_bits(hi)) << 16); }

// n consecutive floats -> ceil(n / 2) pairs (an odd tail pairs with zero).
ERRSEG_BF16_TARGET inline void bf16_pairs_from_row(const float* src, int64_t n, uint32_t* dst) {
    for (int64_t i = 0; i < n; i += 32) {
        const int64_t left = std::min<int64_t>(32, n - i);
        const __mmask16 lo_mask = __mmask16(left >= 16 ? 0xffff : (1u << left) - 1);
        const __mmask16 hi_mask = __mmask16(left >= 32 ? 0xffff : left > 16 ? (1u << (left - 16)) - 1 : 0);
        const __m512 lo = _mm512_maskz_loadu_ps(lo_mask, src + i), hi = _mm512_maskz_loadu_ps(hi_mask, src + i + 16);
        const __m512i both = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
        const int64_t pairs = (left + 1) / 2;
        _mm512_mask_storeu_epi32(dst + i / 2, __mmask16(pairs >= 16 ? 0xffff : (1u << pairs) - 1), both);
    }
}

// A weight packed once: `rows` x `K` of op(X) on the A side (rows of pairs, lda = kp) or
// `K` x `cols` on the B side (panels of kBfNr columns).
struct Bf16Packed {
    enum class Side { A, B };
    Side side = Side::A;
    int64_t outer = 0;  // rows (A side) or columns (B side) of op(X)
    int64_t K = 0, kp = 0;  // k and k pairs
    std::vector<uint32_t> words;
};

// Rows [r0, r0 + m) x k [k0, k0 + kc) of op(A) (fp32) as rows of pairs, lda =
// bf16_padded_pairs(kc); rows up to the next multiple of kBfRowPad are zero.
ERRSEG_BF16_TARGET inline void bf16_pack_a(const MatArg& a, int64_t r0, int64_t m, int64_t k0, int64_t kc,
                                          uint32_t* dst) {
    const int64_t kp = bf16_padded_pairs(kc), used = (kc + 1) / 2, mp = round_up(m, kBfRowPad);
    for (int64_t r = 0; r < mp; ++r) {
        uint32_t* d = dst + r * kp;
        if (r >= m) {
            std::fill_n(d, kp, 0u);
            continue;
        }
        if (!a.trans) {
            bf16_pairs_from_row(a.p + (r0 + r) * a.ld + k0, kc, d);
        } else {
            const float* col = a.p + r0 + r;
            for (int64_t q = 0; q < used; ++q) {
                const int64_t k = k0 + 2 * q;
                d[q] = bf16_pair(col[k * a.ld], 2 * q + 1 < kc ? col[(k + 1) * a.ld] : 0.f);
            }
        }
        std::fill(d + used, d + kp, 0u);
    }
}

// k [k0, k0 + kc) x columns [c0, c0 + n) of op(B) (fp32) as panels of kBfNr columns (zero
// padded), each [bf16_padded_pairs(kc)][kBfNr].
ERRSEG_BF16_TARGET inline void bf16_pack_b(const MatArg& b, int64_t k0, int64_t kc, int64_t c0, int64_t n,
                                          uint32_t* dst) {
    const int64_t kp = bf16_padded_pairs(kc), used = (kc + 1) / 2;
    for (int64_t jp = 0; jp < n; jp += kBfNr, dst += kp * kBfNr) {
        const int64_t nr = std::min(kBfNr, n - jp);
        std::fill(dst + used * kBfNr, dst + kp * kBfNr, 0u);
        if (!b.trans) {
            // Two rows of B (k, k + 1) interleave into pairs, 16 columns at a time.
            for (int64_t q = 0; q < used; ++q) {
                const float* row0 = b.p + (k0 + 2 * q) * b.ld + c0 + jp;
                const bool has_row1 = 2 * q + 1 < kc;
                for (int64_t v = 0; v < kBfNr / 16; ++v) {
                    const int64_t left = std::clamp<int64_t>(nr - 16 * v, 0, 16);
                    const __mmask16 mask = __mmask16(left == 16 ? 0xffff : (1u << left) - 1);
                    const __m512i lo = _mm512_cvtepu16_epi32(
                        (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, row0 + 16 * v)));
                    __m512i pairs = lo;
                    if (has_row1) {
                        const __m512i hi = _mm512_cvtepu16_epi32(
                            (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, row0 + b.ld + 16 * v)));
                        pairs = _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16));
                    }
                    _mm512_storeu_si512(dst + q * kBfNr + 16 * v, pairs);
                }
            }
        } else {
            // Column j of op(B) is row j of the stored matrix: pair it up, then scatter.
            uint32_t column[kBfKc / 2];
            for (int64_t c = 0; c < kBfNr; ++c) {
                for (int64_t q0 = 0; q0 < used; q0 += kBfKc / 2) {
                    const int64_t qn = std::min(kBfKc / 2, used - q0);
                    if (c < nr)
                        bf16_pairs_from_row(b.p + (c0 + jp + c) * b.ld + k0 + 2 * q0, std::min(2 * qn, kc - 2 * q0),
                                            column);
                    else
                        std::fill_n(column, qn, 0u);
                    for (int64_t q = 0; q < qn; ++q) dst[(q0 + q) * kBfNr + c] = column[q];
                }
            }
        }
    }
}

// Packs a weight once: op(X) on the A side ([rows, K]) or the B side ([K, cols]).
inline Bf16Packed bf16_pack_weight(const MatArg& x, Bf16Packed::Side side, int64_t outer, int64_t K) {
    Bf16Packed p;
    p.side = side;
    p.outer = outer;
    p.K = K;
    p.kp = bf16_padded_pairs(K);
    const int64_t padded = round_up(outer, side == Bf16Packed::Side::A ? kBfRowPad : kBfNr);
    p.words.assign(size_t(padded * p.kp), 0u);
    if (outer == 0 || K == 0) return p;
    if (side == Bf16Packed::Side::A)
        bf16_pack_a(x, 0, outer, 0, K, p.words.data());
    else
        bf16_pack_b(x, 0, K, 0, outer, p.words.data());
    return p;
}

// C[6 x 64] (+)= A[6 rows of kp pairs, stride lda] . B[kp pairs x 64]; only mr x nr is stored
// (rows past mr re-read row 0: the A block need not hold them).
ERRSEG_BF16_TARGET inline void bf16_kernel(int64_t kp, const uint32_t* ap, int64_t lda, const uint32_t* bp,
                                          float* c, int64_t ldc, int64_t mr, int64_t nr, bool overwrite) {
    const uint32_t* rows[kBfMr];
    for (int64_t r = 0; r < kBfMr; ++r) rows[r] = ap + (r < mr ? r : 0) * lda;
    __m512 acc[kBfMr][4];
#pragma GCC unroll 6
    for (int r = 0; r < kBfMr; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < 4; ++v) acc[r][v] = _mm512_setzero_ps();
    for (int64_t q = 0; q < kp; ++q, bp += kBfNr) {
        __m512bh b[4];
#pragma GCC unroll 4
        for (int v = 0; v < 4; ++v) b[v] = (__m512bh)_mm512_loadu_si512(bp + 16 * v);
#pragma GCC unroll 6
        for (int r = 0; r < kBfMr; ++r) {
            const __m512bh a = (__m512bh)_mm512_set1_epi32(int(rows[r][q]));
#pragma GCC unroll 4
            for (int v = 0; v < 4; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], a, b[v]);
        }
    }
    for (int64_t r = 0; r < mr; ++r) {
        float* cr = c + r * ldc;
        for (int v = 0; v < 4; ++v) {
            const int64_t left = std::clamp<int64_t>(nr - 16 * v, 0, 16);
            if (left == 0) break;
            const __mmask16 mask = __mmask16(left == 16 ? 0xffff : (1u << left) - 1);
            const __m512 sum = overwrite ? acc[r][v] : _mm512_add_ps(_mm512_maskz_loadu_ps(mask, cr + 16 * v), acc[r][v]);
            _mm512_mask_storeu_ps(cr + 16 * v, mask, sum);
        }
    }
}

// The AMX tile configuration of amx_kernel: tiles 0-3 C (16 x 16 fp32), 4-5 A (16 rows x 16
// pairs), 6-7 B (16 pairs x 16 columns); every tile 16 rows of 64 bytes.
ERRSEG_AMX_TARGET inline void amx_configure() {
    alignas(64) uint8_t cfg[64] = {};
    cfg[0] = 1;  // palette 1
    for (int t = 0; t < 8; ++t) {
        cfg[16 + 2 * t] = 64;  // bytes per row
        cfg[48 + t] = 16;      // rows
    }
    _tile_loadconfig(cfg);
}
ERRSEG_AMX_TARGET inline void amx_release() { _tile_release(); }

// C[32 x 32] (+)= A[32 rows of kp pairs, stride lda] . B[kp pairs x 32 of a kBfNr-wide panel];
// kp is a multiple of kBfKp; only mr x nr is stored. Needs amx_configure() on this thread.
ERRSEG_AMX_TARGET inline void amx_kernel(int64_t kp, const uint32_t* ap, int64_t lda, const uint32_t* bp, float* c,
                                        int64_t ldc, int64_t mr, int64_t nr, bool overwrite) {
    const bool whole = mr == kAmxM && nr == kAmxN;
    alignas(64) float tile[kAmxM * kAmxN];
    float* dst = whole ? c : tile;
    const int64_t ldd = whole ? ldc : kAmxN;
    if (overwrite) {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
    } else {
        if (!whole) {
            std::fill_n(tile, kAmxM * kAmxN, 0.f);
            for (int64_t r = 0; r < mr; ++r) std::copy_n(c + r * ldc, nr, tile + r * kAmxN);
        }
        _tile_loadd(0, dst, ldd * 4);
        _tile_loadd(1, dst + 16, ldd * 4);
        _tile_loadd(2, dst + 16 * ldd, ldd * 4);
        _tile_loadd(3, dst + 16 * ldd + 16, ldd * 4);
    }
    for (int64_t q = 0; q < kp; q += kBfKp) {
        _tile_loadd(4, ap + q, lda * 4);
        _tile_loadd(5, ap + 16 * lda + q, lda * 4);
        _tile_loadd(6, bp + q * kBfNr, kBfNr * 4);
        _tile_loadd(7, bp + q * kBfNr + 16, kBfNr * 4);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    _tile_stored(0, dst, ldd * 4);
    _tile_stored(1, dst + 16, ldd * 4);
    _tile_stored(2, dst + 16 * ldd, ldd * 4);
    _tile_stored(3, dst + 16 * ldd + 16, ldd * 4);
    if (!whole)
        for (int64_t r = 0; r < mr; ++r) std::copy_n(tile + r * kAmxN, nr, c + r * ldc);
}

// An operand of the bf16 GEMM: fp32 (packed per block) or packed once (a cached weight).
struct Bf16Operand {
    MatArg f32{nullptr, 0, false};
    const Bf16Packed* packed = nullptr;
};

// Serial bf16 GEMM on rows [r0, r0 + m) and columns [c0, c0 + n) of C (c points at C(r0, c0)).
// A packed A needs r0 % kBfRowPad == 0, a packed B c0 % kBfNr == 0.
ERRSEG_AMX_TARGET inline void bf16_gemm_block(int64_t r0, int64_t m, int64_t c0, int64_t n, int64_t K,
                                              const Bf16Operand& a, const Bf16Operand& b, float* c, int64_t ldc,
                                              bool accumulate) {
    if (m <= 0 || n <= 0) return;
    if (K == 0) {
        if (!accumulate)
            for (int64_t r = 0; r < m; ++r) std::fill_n(c + r * ldc, n, 0.f);
        return;
    }
    // Packing buffers: scratch slots 6 (A) and 7 (B), 32-bit words stored in float-sized slots.
    uint32_t* bbuf = b.packed ? nullptr
                              : reinterpret_cast<uint32_t*>(
                                    scratch(size_t(kBfKc / 2 * std::min(kBfNc, round_up(n, kBfNr))), 7));
    const bool amx = bf16_amx_enabled();
    if (amx) amx_configure();
    uint32_t* abuf = a.packed ? nullptr
                              : reinterpret_cast<uint32_t*>(
                                    scratch(size_t(kBfKc / 2 * std::min(kBfMc, round_up(m, kBfRowPad))), 6));
    for (int64_t jc = 0; jc < n; jc += kBfNc) {
        const int64_t nc = std::min(kBfNc, n - jc);
        for (int64_t pc = 0; pc < K; pc += kBfKc) {
            const int64_t kc = std::min(kBfKc, K - pc), kp = bf16_padded_pairs(kc);
            const bool overwrite = pc == 0 && !accumulate;
            if (!b.packed) bf16_pack_b(b.f32, pc, kc, c0 + jc, nc, bbuf);
            for (int64_t ic = 0; ic < m; ic += kBfMc) {
                const int64_t mc = std::min(kBfMc, m - ic);
                const uint32_t* ablock;
                int64_t lda;
                if (a.packed) {
                    lda = a.packed->kp;
                    ablock = a.packed->words.data() + (r0 + ic) * lda + pc / 2;
                } else {
                    bf16_pack_a(a.f32, r0 + ic, mc, pc, kc, abuf);
                    lda = kp;
                    ablock = abuf;
                }
                for (int64_t jr = 0; jr < nc; jr += kBfNr) {
                    const uint32_t* bp = b.packed ? b.packed->words.data() +
                                                        (c0 + jc + jr) / kBfNr * b.packed->kp * kBfNr + pc / 2 * kBfNr
                                                  : bbuf + jr / kBfNr * kp * kBfNr;
                    float* cblock = c + ic * ldc + jc + jr;
                    if (amx) {
                        for (int64_t jt = 0; jt < std::min(kBfNr, nc - jr); jt += kAmxN)
                            for (int64_t ir = 0; ir < mc; ir += kAmxM)
                                amx_kernel(kp, ablock + ir * lda, lda, bp + jt, cblock + ir * ldc + jt, ldc,
                                           std::min(kAmxM, mc - ir), std::min(kAmxN, nc - jr - jt), overwrite);
                    } else {
                        for (int64_t ir = 0; ir < mc; ir += kBfMr)
                            bf16_kernel(kp, ablock + ir * lda, lda, bp, cblock + ir * ldc, ldc, std::min(kBfMr, mc - ir),
                                        std::min(kBfNr, nc - jr), overwrite);
                    }
                }
            }
        }
    }
    if (amx) amx_release();
}

// C[M, N] (+)= op(A)[M, K] op(B)[K, N] in bf16 with fp32 accumulation, split across threads
// like gemm() (gemm_kernel.hpp) at boundaries that keep whole register tiles and packed panels.
inline void gemm_bf16(int64_t M, int64_t N, int64_t K, const Bf16Operand& a, const Bf16Operand& b, float* c,
                      int64_t ldc, bool accumulate = false) {
    if (M <= 0 || N <= 0) return;
    constexpr int64_t kRowStep = 2 * kBfRowPad, kColStep = kBfNr;
    const int threads = get_num_threads();
    const bool split_rows = M >= N;
    const int64_t step = split_rows ? kRowStep : kColStep, extent = split_rows ? M : N;
    const int64_t blocks = M * N * std::max<int64_t>(K, 1) < (1 << 18)
                               ? 1
                               : std::min<int64_t>(threads, (extent + step - 1) / step);
    auto run = [&](int64_t i) {
        const int64_t s0 = (extent * i / blocks) / step * step;
        const int64_t s1 = i + 1 == blocks ? extent : (extent * (i + 1) / blocks) / step * step;
        if (split_rows)
            bf16_gemm_block(s0, s1 - s0, 0, N, K, a, b, c + s0 * ldc, ldc, accumulate);
        else
            bf16_gemm_block(0, M, s0, s1 - s0, K, a, b, c + s0, ldc, accumulate);
    };
    if (blocks <= 1) {
        run(0);
        return;
    }
    parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
        for (int64_t i = b0; i < b1; ++i) run(i);
    });
}

}  // namespace errseg::ops::detail

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif  // ERRSEG_HAVE_BF16_GEMM
