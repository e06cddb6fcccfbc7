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
