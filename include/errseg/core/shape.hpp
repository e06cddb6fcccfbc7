// Shapes and backend-neutral shape rules (what an output shape is, which shapes are refused),
// written once for the host Tensor, the DeviceTensor, the CPU ops and the CUDA facade.
#pragma once
#include <climits>
#include <cstdint>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "error.hpp"

namespace errseg {

using Shape = std::vector<int64_t>;

inline std::string shape_str(const Shape& s) {
    std::ostringstream os;
    os << '[';
    for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
    os << ']';
    return os.str();
}

// Element count; 0 when any dimension is 0 (whatever the others are: shapes read from files
// may pair a 0 with huge dimensions). A product beyond int64 is an error, not an overflow.
inline int64_t shape_numel(const Shape& s) {
    int64_t n = 1;
    bool zero = false;
    for (int64_t d : s) {
        ERRSEG_CHECK(d >= 0, "negative dimension in shape ", shape_str(s));
        zero = zero || d == 0;
    }
    if (zero) return 0;
    for (int64_t d : s) {
        ERRSEG_CHECK(n <= INT64_MAX / d, "shape ", shape_str(s), " has more than 2^63 elements");
        n *= d;
    }
    return n;
}

// Row-major strides. With a 0 dimension the product of the dimensions to its right can exceed
// int64 (no element is ever addressed then): it saturates instead of overflowing.
inline Shape contiguous_strides(const Shape& s) {
    Shape st(s.size());
    int64_t acc = 1;
    for (size_t i = s.size(); i-- > 0;) {
        st[i] = acc;
        acc = s[i] != 0 && acc > INT64_MAX / s[i] ? INT64_MAX : acc * s[i];
    }
    return st;
}

// reshape's target with its one -1 inferred from `numel`; refuses a target of another size.
inline Shape resolve_reshape(const Shape& from, Shape to, int64_t numel) {
    int64_t infer = -1, known = 1;
    for (size_t i = 0; i < to.size(); ++i) {
        if (to[i] == -1) {
            ERRSEG_CHECK(infer < 0, "reshape: more than one -1 in ", shape_str(to));
            infer = int64_t(i);
        } else {
            known *= to[i];
        }
    }
    if (infer >= 0) {
        ERRSEG_CHECK(known > 0 && numel % known == 0, "reshape: cannot infer -1 for ", shape_str(from), " -> ",
                     shape_str(to));
        to[size_t(infer)] = numel / known;
    }
    ERRSEG_CHECK(shape_numel(to) == numel, "reshape: ", shape_str(from), " has ", numel, " elements, ", shape_str(to),
                 " needs ", shape_numel(to));
    return to;
}

// A shape viewed as [outer, D, inner] around dimension `dim` (already wrapped), as reductions,
// softmax, argmax and index_select walk it; `reduced` is the shape without that dimension.
struct DimSplit {
    int64_t outer = 1, D = 1, inner = 1;
    Shape reduced;
};
inline DimSplit split_at(const Shape& shape, int64_t dim) {
    DimSplit s;
    for (int64_t d = 0; d < int64_t(shape.size()); ++d) {
        if (d < dim) s.outer *= shape[size_t(d)];
        if (d > dim) s.inner *= shape[size_t(d)];
        if (d != dim) s.reduced.push_back(shape[size_t(d)]);
    }
    s.D = shape.empty() ? 1 : shape[size_t(dim)];
    return s;
}

// The residual of a fused epilogue (linear / conv2d / group_norm, every backend): it must have the
// output's shape, or (leading 1s aside) the output's shape without the first dim, broadcast over
// it as the model's guidance terms are broadcast over classes. Returns the number of output
// values after which it repeats.
inline int64_t fused_residual_period(const Shape& residual, const Shape& out, const char* op) {
    size_t lead = 0;
    while (lead < residual.size() && residual[lead] == 1 && residual.size() - lead + 1 > out.size()) ++lead;
    const Shape r(residual.begin() + int64_t(lead), residual.end());
    const bool whole = r == out;
    const bool per_item = out.size() >= 2 && r == Shape(out.begin() + 1, out.end());
    ERRSEG_CHECK(whole || per_item, op, ": residual ", shape_str(residual), " does not match the output ",
                 shape_str(out), " (nor its shape without the first dim)");
    return shape_numel(r);
}

}  // namespace errseg
