// Elementwise inner loops (broadcast binary ops of ops/detail/broadcast.hpp, scaling), compiled
// once per instruction set (included by isa_kernels.hpp inside each ISA namespace; no include
// guard). One operation per element, so every path gives the same bits.

template <BinaryOp kOp, class T>
inline T binary_apply(T x, T y) {
    if constexpr (kOp == BinaryOp::add) return x + y;
    else if constexpr (kOp == BinaryOp::sub) return x - y;
    else if constexpr (kOp == BinaryOp::mul) return x * y;
    else return x / y;
}

// o[j] = a[j * ia] op b[j * ib], j < n; strides 0 (a broadcast value) and 1 are vectorised.
template <BinaryOp kOp>
inline void binary_row_op(const float* a, int64_t ia, const float* b, int64_t ib, float* o, int64_t n) {
    int64_t j = 0;
    if (ia == 1 && ib == 1) {
        for (; j + kLanes <= n; j += kLanes) vstore(o + j, binary_apply<kOp>(vload(a + j), vload(b + j)));
    } else if (ia == 1 && ib == 0) {
        const Vec y = Vec{} + *b;
        for (; j + kLanes <= n; j += kLanes) vstore(o + j, binary_apply<kOp>(vload(a + j), y));
    } else if (ia == 0 && ib == 1) {
        const Vec x = Vec{} + *a;
        for (; j + kLanes <= n; j += kLanes) vstore(o + j, binary_apply<kOp>(x, vload(b + j)));
    }
    for (; j < n; ++j) o[j] = binary_apply<kOp>(a[j * ia], b[j * ib]);
}

inline void binary_row(Tag, BinaryOp op, const float* a, int64_t ia, const float* b, int64_t ib, float* o,
                       int64_t n) {
    switch (op) {
        case BinaryOp::add: return binary_row_op<BinaryOp::add>(a, ia, b, ib, o, n);
        case BinaryOp::sub: return binary_row_op<BinaryOp::sub>(a, ia, b, ib, o, n);
        case BinaryOp::mul: return binary_row_op<BinaryOp::mul>(a, ia, b, ib, o, n);
        case BinaryOp::div: return binary_row_op<BinaryOp::div>(a, ia, b, ib, o, n);
    }
}

// out[i] = in[i] * s over n values.
inline void scale_block(Tag, const float* in, float* out, int64_t n, float s) {
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) vstore(out + i, vload(in + i) * s);
    for (; i < n; ++i) out[i] = in[i] * s;
}
