// Resampling inner loops (ops/resize.hpp), compiled once per instruction set (included by
// isa_kernels.hpp inside each ISA namespace; no include guard). Taps are planar: tap t of
// output o reads idx[t * len + o] with weight w[t * len + o]. Sums run in tap order, as
// PyTorch's CPU kernel does. A row's tail is one vector overlapping the one before (it rewrites
// the same values), so short rows stay vectorised; outputs never alias inputs here.

// base[idx[l]] in each lane: the hardware gather where the ISA has one.
inline Vec vgather(const float* base, const int32_t* idx) {
#if ERRSEG_ISA_LANES == 16 && defined(ERRSEG_HAVE_X86_TARGETS)
    return (Vec)_mm512_i32gather_ps(_mm512_loadu_si512(idx), base, 4);
#elif ERRSEG_ISA_LANES == 8 && defined(ERRSEG_HAVE_X86_TARGETS)
    return (Vec)_mm256_i32gather_ps(base, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx)), 4);
#else
    Vec v;
    for (int l = 0; l < kLanes; ++l) v[l] = base[idx[l]];
    return v;
#endif
}

// Horizontal pass of one input row: h[o] = sum_t row[idx[t len + o]] * w[t len + o], o < len.
inline void resample_row(Tag, const float* row, const int32_t* idx, const float* w, int n, int64_t len,
                         float* h) {
    auto at = [&](int64_t o) {
        Vec acc = vgather(row, idx + o) * vload(w + o);
        for (int t = 1; t < n; ++t) acc += vgather(row, idx + t * len + o) * vload(w + t * len + o);
        vstore(h + o, acc);
    };
    if (len < kLanes) {
        for (int64_t o = 0; o < len; ++o) {
            float v = row[idx[o]] * w[o];
            for (int t = 1; t < n; ++t) v += row[idx[t * len + o]] * w[t * len + o];
            h[o] = v;
        }
        return;
    }
    int64_t o = 0;
    for (; o + kLanes <= len; o += kLanes) at(o);
    if (o < len) at(len - kLanes);
}

// Vertical pass: out[x] = sum_t rows[t][x] * w[t] over len values (n taps, n >= 1).
inline void resample_blend(Tag, const float* const* rows, const float* w, int n, int64_t len, float* out) {
    auto at = [&](int64_t x) {
        Vec acc = vload(rows[0] + x) * w[0];
        for (int t = 1; t < n; ++t) acc += vload(rows[t] + x) * w[t];
        vstore(out + x, acc);
    };
    if (len < kLanes) {
        for (int64_t x = 0; x < len; ++x) {
            float v = rows[0][x] * w[0];
            for (int t = 1; t < n; ++t) v += rows[t][x] * w[t];
            out[x] = v;
        }
        return;
    }
    int64_t x = 0;
    for (; x + kLanes <= len; x += kLanes) at(x);
    if (x < len) at(len - kLanes);
}
