// Normalisation inner loops (ops/norm.hpp), compiled once per instruction set (included by
// isa_kernels.hpp inside each ISA namespace; no include guard). Statistics: short vector fp32
// partial sums (kStatBlock values) combined in double, as norm.hpp describes.

// Horizontal sum of a vector, in double.
inline double vsum_d(Vec v) {
    double s = 0;
    for (int l = 0; l < kLanes; ++l) s += double(v[l]);
    return s;
}

// sum(p[i] - shift) over n values.
inline double shifted_sum(Tag, const float* p, int64_t n, float shift) {
    double s = 0;
    for (int64_t b = 0; b < n; b += kStatBlock) {
        const int64_t e = std::min(kStatBlock, n - b);
        Vec acc = Vec{};
        int64_t i = 0;
        for (; i + kLanes <= e; i += kLanes) acc += vload(p + b + i) - shift;
        float tail = 0.f;
        for (; i < e; ++i) tail += p[b + i] - shift;
        s += vsum_d(acc) + double(tail);
    }
    return s;
}

// sum(((p[i] - shift) - m)^2) over n values.
inline double shifted_sq_dev(Tag, const float* p, int64_t n, float shift, float m) {
    double s = 0;
    for (int64_t b = 0; b < n; b += kStatBlock) {
        const int64_t e = std::min(kStatBlock, n - b);
        Vec acc = Vec{};
        int64_t i = 0;
        for (; i + kLanes <= e; i += kLanes) {
            const Vec d = (vload(p + b + i) - shift) - m;
            acc += d * d;
        }
        float tail = 0.f;
        for (; i < e; ++i) {
            const float d = (p[b + i] - shift) - m;
            tail += d * d;
        }
        s += vsum_d(acc) + double(tail);
    }
    return s;
}

// out = ((in - shift) - m) * rstd [* w] [+ b] over n values (w, b may be null).
inline void norm_affine(Tag, const float* in, float* out, int64_t n, float shift, float m, float rstd,
                        const float* w, const float* b) {
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
        Vec y = ((vload(in + i) - shift) - m) * rstd;
        if (w) y *= vload(w + i);
        if (b) y += vload(b + i);
        vstore(out + i, y);
    }
    for (; i < n; ++i) {
        float y = ((in[i] - shift) - m) * rstd;
        if (w) y *= w[i];
        if (b) y += b[i];
        out[i] = y;
    }
}

// out = ((in - shift) - m) * scale + offset over n values: one GroupNorm plane, its channel's
// weight folded into scale and its bias in offset.
inline void plane_affine(Tag, const float* in, float* out, int64_t n, float shift, float m, float scale,
                         float offset) {
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) vstore(out + i, ((vload(in + i) - shift) - m) * scale + offset);
    for (; i < n; ++i) out[i] = ((in[i] - shift) - m) * scale + offset;
}

// LayerNorm2d (normalised over channels) of len <= kLn2dTile pixels whose channel c is at
// in[c * P]: mean summed in double and kept as its float rounding m plus the error lo, variance
// of d = (x - m) - lo summed in float over c in order, out = d * rstd * w[c] + b[c] (w, b may be
// null). Each pass walks the channels with the tile's pixels contiguous (vectorised) inside, so
// memory is read and written in runs of the tile's length.
inline void layer_norm2d_pixels(Tag, const float* in, float* out, int64_t C, int64_t P, int64_t len,
                                const float* w, const float* b, float eps) {
    double acc[kLn2dTile];
    float m[kLn2dTile], lo[kLn2dTile], r[kLn2dTile];
    const int64_t vl = len - len % kLanes;  // pixels in whole vectors; the rest are scalar
    std::fill(acc, acc + len, 0.0);
    std::fill(r, r + len, 0.f);
    for (int64_t c = 0; c < C; ++c) {
        const float* x = in + c * P;
        for (int64_t p = 0; p < vl; p += kLanes) vadd_widened(acc + p, vload(x + p));
        for (int64_t p = vl; p < len; ++p) acc[p] += double(x[p]);
    }
    for (int64_t p = 0; p < len; ++p) {
        const double mean = acc[p] * (1.0 / double(C));
        m[p] = float(mean);
        lo[p] = float(mean - double(m[p]));
    }
    for (int64_t c = 0; c < C; ++c) {
        const float* x = in + c * P;
        for (int64_t p = 0; p < vl; p += kLanes) {
            const Vec d = (vload(x + p) - vload(m + p)) - vload(lo + p);
            vstore(r + p, vload(r + p) + d * d);
        }
        for (int64_t p = vl; p < len; ++p) {
            const float d = (x[p] - m[p]) - lo[p];
            r[p] += d * d;
        }
    }
    const float inv_c = 1.f / float(C);
    for (int64_t p = 0; p < len; ++p) r[p] = 1.f / std::sqrt(r[p] * inv_c + eps);
    for (int64_t c = 0; c < C; ++c) {
        const float* x = in + c * P;
        float* o = out + c * P;
        const float wc = w ? w[c] : 1.f, bc = b ? b[c] : 0.f;
        for (int64_t p = 0; p < vl; p += kLanes)
            vstore(o + p, ((vload(x + p) - vload(m + p)) - vload(lo + p)) * vload(r + p) * wc + bc);
        for (int64_t p = vl; p < len; ++p) o[p] = ((x[p] - m[p]) - lo[p]) * r[p] * wc + bc;
    }
}
