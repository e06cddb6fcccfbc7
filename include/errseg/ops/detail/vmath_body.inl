// Vectorised exp / erf and the kernels built on them (softmax rows, GELU, sigmoid), compiled
// once per instruction set (included by isa_kernels.hpp inside each ISA namespace; no include
// guard). Plain vector-extension code: Eigen's exp/erf would stay at the TU's baseline ISA.

inline Vec vsplat(float v) { return Vec{} + v; }
// mask ? a : b, lane by lane (mask lanes all ones or all zeros, as comparisons give).
inline Vec vselect(IVec mask, Vec a, Vec b) { return (Vec)((mask & (IVec)a) | (~mask & (IVec)b)); }

// exp(x) to about 1 ulp over the whole float range: x = n ln2 + r (Cody-Waite, |r| <= ln2 / 2),
// exp(r) by Cephes' degree-6 polynomial, times 2^n applied as two halves so that results in
// the subnormal range round once, and overflow gives inf. NaN stays NaN (comparisons with NaN
// are false, so the clamps keep it).
inline Vec vexp(Vec x) {
    x = vselect(x < -104.f, vsplat(-104.f), x);  // exp(-104) rounds to 0
    x = vselect(x > 89.f, vsplat(89.f), x);      // exp(89) overflows to inf
    const Vec magic = vsplat(12582912.f);         // 1.5 * 2^23: adding it rounds to an integer
    const Vec t = x * 1.44269504088896341f + magic;
    const Vec n = t - magic;
    const Vec r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
    Vec p = vsplat(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const Vec y = p * (r * r) + r + 1.f;
    const IVec ni = (IVec)t - (IVec)magic;  // n as an integer, |n| <= 150
    const IVec n1 = ni >> 1, n2 = ni - n1;
    return y * (Vec)((n1 + 127) << 23) * (Vec)((n2 + 127) << 23);
}

// erf(x): the odd Taylor series (to x^15) for |x| < 0.5, where erf needs relative accuracy;
// above, 1 - (a1 t + ... + a5 t^5) exp(-x^2), t = 1 / (1 + p|x|) (Abramowitz & Stegun 7.1.26,
// absolute error <= 1.5e-7). Tested against std::erf (tests/test_cpu_isa.cpp).
inline Vec verf(Vec x) {
    const Vec ax = vselect(x < 0.f, -x, x), x2 = x * x;
    // 2/sqrt(pi) * (x - x^3/3 + x^5/10 - x^7/42 + x^9/216 - x^11/1320 + x^13/9360 - x^15/75600)
    Vec s = vsplat(-1.f / 75600.f);
    s = s * x2 + 1.f / 9360.f;
    s = s * x2 + -1.f / 1320.f;
    s = s * x2 + 1.f / 216.f;
    s = s * x2 + -1.f / 42.f;
    s = s * x2 + 1.f / 10.f;
    s = s * x2 + -1.f / 3.f;
    s = s * x2 + 1.f;
    const Vec small = s * x * 1.12837916709551257f;
    const Vec t = 1.f / (1.f + 0.3275911f * ax);
    Vec q = vsplat(1.061405429f);
    q = q * t + -1.453152027f;
    q = q * t + 1.421413741f;
    q = q * t + -0.284496736f;
    q = q * t + 0.254829592f;
    const Vec big = 1.f - q * t * vexp(-x2);  // erf(|x|)
    const Vec large = vselect(x < 0.f, -big, big);
    // |x| >= 0.5 takes `large`; NaN fails both tests and keeps `small` (NaN).
    return vselect(ax >= 0.5f, large, small);
}

// Applies f (Vec -> Vec) to n floats: whole vectors, then the tail through a padded buffer.
template <class F>
inline void map_block(const float* in, float* out, int64_t n, F f) {
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) vstore(out + i, f(vload(in + i)));
    if (i < n) {
        float tmp[kLanes] = {};
        std::copy(in + i, in + n, tmp);
        vstore(tmp, f(vload(tmp)));
        std::copy(tmp, tmp + (n - i), out + i);
    }
}

struct VexpFn {
    Vec operator()(Vec x) const { return vexp(x); }
};
struct VerfFn {
    Vec operator()(Vec x) const { return verf(x); }
};
// Exact GELU: 0.5 x (1 + erf(x / sqrt 2)).
struct GeluFn {
    Vec operator()(Vec x) const { return 0.5f * x * (1.f + verf(x * 0.70710678118654752f)); }
};
// Logistic of k x, accurate for large |x|: exp only sees -|k x| (no overflow), and the negative
// side is e / (1 + e) rather than 1 - 1 / (1 + e) (no cancellation).
struct SigmoidFn {
    float k;
    Vec operator()(Vec x) const {
        const Vec kx = k * x;
        const Vec e = vexp(vselect(kx < 0.f, kx, -kx));
        const Vec r = 1.f / (1.f + e);
        return vselect((IVec)x < 0, e * r, r);  // sign bit: x < 0 or -0
    }
};

// x * sigmoid(1.702 x) (OpenAI CLIP's QuickGELU).
struct QuickGeluFn {
    Vec operator()(Vec x) const { return x * SigmoidFn{1.702f}(x); }
};

inline void exp_block(Tag, const float* in, float* out, int64_t n) { map_block(in, out, n, VexpFn{}); }
inline void erf_block(Tag, const float* in, float* out, int64_t n) { map_block(in, out, n, VerfFn{}); }
inline void gelu_block(Tag, const float* in, float* out, int64_t n) { map_block(in, out, n, GeluFn{}); }
inline void sigmoid_block(Tag, const float* in, float* out, int64_t n, float k) {
    map_block(in, out, n, SigmoidFn{k});
}
inline void quick_gelu_block(Tag, const float* in, float* out, int64_t n) { map_block(in, out, n, QuickGeluFn{}); }

// In-place stable softmax of one contiguous row: exp(x - max) / sum. A row that is entirely
// -inf (fully masked) becomes NaN, as in PyTorch.
inline void softmax_row(Tag, float* x, int64_t n) {
    Vec mv = vsplat(-kInf);
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
        const Vec v = vload(x + i);
        mv = vselect(v > mv, v, mv);
    }
    float m = -kInf;
    for (int l = 0; l < kLanes; ++l) m = std::max(m, mv[l]);
    for (; i < n; ++i) m = std::max(m, x[i]);
    const Vec mm = vsplat(m);
    Vec sv = Vec{};
    i = 0;
    for (; i + kLanes <= n; i += kLanes) {
        const Vec e = vexp(vload(x + i) - mm);
        vstore(x + i, e);
        sv += e;
    }
    float sum = 0.f;
    if (i < n) {
        float tmp[kLanes];
        for (int l = 0; l < kLanes; ++l) tmp[l] = i + l < n ? x[i + l] - m : -kInf;
        vstore(tmp, vexp(vload(tmp)));
        for (int64_t l = 0; i + l < n; ++l) x[i + l] = tmp[l];
        for (int l = 0; l < kLanes; ++l) sum += tmp[l];  // exp(-inf) = 0 in the padding
    }
    for (int l = 0; l < kLanes; ++l) sum += sv[l];
    const Vec inv = vsplat(1.f / sum);
    i = 0;
    for (; i + kLanes <= n; i += kLanes) vstore(x + i, vload(x + i) * inv);
    for (; i < n; ++i) x[i] *= 1.f / sum;
}
