// A plain-C++ stand-in for GCC/Clang vector extensions (`float __attribute__((vector_size))`),
// for compilers without them (MSVC): the kernel bodies (isa_kernels.hpp) then compile
// unchanged, as the baseline copy only. Semantics follow the extensions: lane-wise arithmetic
// with vectors or scalars, comparisons giving all-ones / zero integer lanes, and casts between
// vectors of equal lane size reinterpreting the bits. GCC builds can use it with
// -DERRSEG_PORTABLE_VEC (that is how it is tested).
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace errseg::ops::detail {

template <class T, int N>
struct PortableVec {
    T lane[N];
    using Mask = PortableVec<std::conditional_t<sizeof(T) == 8, int64_t, int32_t>, N>;

    T& operator[](int i) { return lane[i]; }
    T operator[](int i) const { return lane[i]; }
    // (OtherVec)v: the same bits as another lane type of equal size, as vector casts do.
    template <class U, std::enable_if_t<sizeof(U) == sizeof(T) && !std::is_same_v<U, T>, int> = 0>
    explicit operator PortableVec<U, N>() const {
        PortableVec<U, N> r;
        std::memcpy(&r, this, sizeof(r));
        return r;
    }
};

template <class T>
struct is_portable_vec : std::false_type {};
template <class T, int N>
struct is_portable_vec<PortableVec<T, N>> : std::true_type {};

// Lane-wise f(a, b), where either side may be a scalar (broadcast).
template <class T, int N, class A, class B, class F>
PortableVec<T, N> portable_map(const A& a, const B& b, F f) {
    PortableVec<T, N> r;
    for (int i = 0; i < N; ++i) {
        T x, y;
        if constexpr (is_portable_vec<A>::value) x = a[i]; else x = T(a);
        if constexpr (is_portable_vec<B>::value) y = b[i]; else y = T(b);
        r[i] = f(x, y);
    }
    return r;
}

// Integer lanes wrap, as in hardware and GCC's vector extensions: +, -, * and << are computed on
// the unsigned type (signed overflow is undefined in scalar C++); >> stays arithmetic.
template <class T, bool = std::is_integral_v<T>>
struct LaneWrap {
    using type = T;
};
template <class T>
struct LaneWrap<T, true> {
    using type = std::make_unsigned_t<T>;
};
template <class T>
using lane_wrap_t = typename LaneWrap<T>::type;

#define ERRSEG_PORTABLE_BINARY_AS(op, U)                                                             \
    template <class T, int N>                                                                        \
    PortableVec<T, N> operator op(const PortableVec<T, N>& a, const PortableVec<T, N>& b) {          \
        return portable_map<T, N>(a, b, [](T x, T y) { return T(U(x) op U(y)); });                         \
    }                                                                                                \
    template <class T, int N, class S, std::enable_if_t<std::is_arithmetic_v<S>, int> = 0>          \
    PortableVec<T, N> operator op(const PortableVec<T, N>& a, S b) {                                 \
        return portable_map<T, N>(a, b, [](T x, T y) { return T(U(x) op U(y)); });                         \
    }                                                                                                \
    template <class T, int N, class S, std::enable_if_t<std::is_arithmetic_v<S>, int> = 0>          \
    PortableVec<T, N> operator op(S a, const PortableVec<T, N>& b) {                                 \
        return portable_map<T, N>(a, b, [](T x, T y) { return T(U(x) op U(y)); });                         \
    }                                                                                                \
    template <class T, int N, class B>                                                               \
    PortableVec<T, N>& operator op##=(PortableVec<T, N>& a, const B& b) {                            \
        return a = a op b;                                                                           \
    }
ERRSEG_PORTABLE_BINARY_AS(+, lane_wrap_t<T>)
ERRSEG_PORTABLE_BINARY_AS(-, lane_wrap_t<T>)
ERRSEG_PORTABLE_BINARY_AS(*, lane_wrap_t<T>)
ERRSEG_PORTABLE_BINARY_AS(/, T)
ERRSEG_PORTABLE_BINARY_AS(&, T)
ERRSEG_PORTABLE_BINARY_AS(|, T)
ERRSEG_PORTABLE_BINARY_AS(^, T)
ERRSEG_PORTABLE_BINARY_AS(<<, lane_wrap_t<T>)
ERRSEG_PORTABLE_BINARY_AS(>>, T)
#undef ERRSEG_PORTABLE_BINARY_AS

// Comparisons: lanes of all ones (true) or zero, as an integer vector.
#define ERRSEG_PORTABLE_COMPARE(op)                                                                  \
    template <class T, int N, class B>                                                               \
    typename PortableVec<T, N>::Mask operator op(const PortableVec<T, N>& a, const B& b) {           \
        typename PortableVec<T, N>::Mask r;                                                          \
        const PortableVec<T, N> bv = portable_map<T, N>(a, b, [](T, T y) { return y; });             \
        for (int i = 0; i < N; ++i) r[i] = a[i] op bv[i] ? -1 : 0;                                   \
        return r;                                                                                    \
    }
ERRSEG_PORTABLE_COMPARE(<)
ERRSEG_PORTABLE_COMPARE(>)
ERRSEG_PORTABLE_COMPARE(<=)
ERRSEG_PORTABLE_COMPARE(>=)
ERRSEG_PORTABLE_COMPARE(==)
ERRSEG_PORTABLE_COMPARE(!=)
#undef ERRSEG_PORTABLE_COMPARE

template <class T, int N>
PortableVec<T, N> operator-(const PortableVec<T, N>& a) {
    return T(0) - a;
}
template <class T, int N>
PortableVec<T, N> operator~(const PortableVec<T, N>& a) {
    PortableVec<T, N> r;
    for (int i = 0; i < N; ++i) r[i] = ~a[i];
    return r;
}

// Lane-wise value conversion (__builtin_convertvector).
template <class To, class T, int N>
To portable_convert(const PortableVec<T, N>& a) {
    To r;
    for (int i = 0; i < N; ++i) r[i] = decltype(r[0] + 0)(a[i]);
    return r;
}

}  // namespace errseg::ops::detail
