// Copying a strided view into dense row-major memory (Tensor::clone / contiguous).
//
// Dims that are contiguous in the source are merged first. Then one of three paths:
//   rows       the innermost dim has stride 1: row copies
//   transpose  another dim has stride 1 (a permuted view such as NHWC seen as NCHW): tiles of
//              kTile x kTile elements so that both the reads and the writes stay in cache lines
//              already fetched; this is the layout change between token-major and map-major
//              data that the models do all the time
//   gather     anything else: element by element
// Large copies are split across the thread pool; every element is written exactly once from
// the same source, so the result does not depend on the split.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

#include "dtype.hpp"
#include "error.hpp"
#include "parallel.hpp"

namespace errseg::detail {

struct StridedDims {
    std::vector<int64_t> shape, strides;  // source strides in elements, merged, no size-1 dims
};

inline StridedDims merge_dims(const std::vector<int64_t>& shape, const std::vector<int64_t>& strides) {
    StridedDims m;
    for (size_t i = 0; i < shape.size(); ++i) {
        if (shape[i] == 1) continue;
        if (!m.shape.empty() && m.strides.back() == strides[i] * shape[i]) {
            m.shape.back() *= shape[i];
            m.strides.back() = strides[i];
        } else {
            m.shape.push_back(shape[i]);
            m.strides.push_back(strides[i]);
        }
    }
    return m;
}

// Source and destination element offsets of the `index`-th combination of the dims in `dims`
// (row-major over them).
inline void outer_offsets(int64_t index, const std::vector<size_t>& dims, const StridedDims& m,
                          const std::vector<int64_t>& dst_strides, int64_t& src, int64_t& dst) {
    src = dst = 0;
    for (size_t k = dims.size(); k-- > 0;) {
        const size_t d = dims[k];
        const int64_t i = index % m.shape[d];
        index /= m.shape[d];
        src += i * m.strides[d];
        dst += i * dst_strides[d];
    }
}

template <class E>
void copy_strided_as(const E* src, const StridedDims& m, E* dst) {
    const size_t nd = m.shape.size();
    int64_t n = 1;
    for (int64_t s : m.shape) n *= s;
    if (nd == 0) {
        dst[0] = src[0];
        return;
    }
    std::vector<int64_t> dst_strides(nd, 1);
    for (size_t i = nd - 1; i-- > 0;) dst_strides[i] = dst_strides[i + 1] * m.shape[i + 1];
    const size_t d = nd - 1;
    constexpr int64_t kMinChunkBytes = 1 << 16;  // below this, one thread

    if (m.strides[d] == 1) {  // rows
        const int64_t row = m.shape[d], rows = n / row;
        std::vector<size_t> outer;
        for (size_t i = 0; i < d; ++i) outer.push_back(i);
        parallel_for(rows, std::max<int64_t>(1, kMinChunkBytes / int64_t(sizeof(E)) / row), [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r) {
                int64_t s, o;
                outer_offsets(r, outer, m, dst_strides, s, o);
                std::memcpy(dst + o, src + s, size_t(row) * sizeof(E));
            }
        });
        return;
    }
    size_t a = nd;  // a dim with source stride 1
    for (size_t i = 0; i < d; ++i)
        if (m.strides[i] == 1) a = i;
    if (a < nd) {  // transpose
        constexpr int64_t kTile = 32;
        const int64_t na = m.shape[a], nd_ = m.shape[d], sd = m.strides[d], da = dst_strides[a];
        const int64_t a_tiles = (na + kTile - 1) / kTile, d_tiles = (nd_ + kTile - 1) / kTile;
        std::vector<size_t> outer;
        for (size_t i = 0; i < d; ++i)
            if (i != a) outer.push_back(i);
        const int64_t combos = n / (na * nd_), items = combos * a_tiles;
        const int64_t per_item = kTile * nd_ * int64_t(sizeof(E));
        parallel_for(items, std::max<int64_t>(1, kMinChunkBytes / per_item), [&](int64_t i0, int64_t i1) {
            for (int64_t it = i0; it < i1; ++it) {
                int64_t s, o;
                outer_offsets(it / a_tiles, outer, m, dst_strides, s, o);
                const int64_t ia0 = (it % a_tiles) * kTile, ia1 = std::min(na, ia0 + kTile);
                for (int64_t t = 0; t < d_tiles; ++t) {
                    const int64_t j0 = t * kTile, j1 = std::min(nd_, j0 + kTile);
                    for (int64_t ia = ia0; ia < ia1; ++ia) {
                        const E* sp = src + s + ia;
                        E* dp = dst + o + ia * da;
                        for (int64_t j = j0; j < j1; ++j) dp[j] = sp[j * sd];
                    }
                }
            }
        });
        return;
    }
    // gather
    std::vector<int64_t> idx(nd, 0);
    for (int64_t done = 0; done < n; done += m.shape[d]) {
        int64_t off = 0;
        for (size_t i = 0; i < d; ++i) off += idx[i] * m.strides[i];
        for (int64_t j = 0; j < m.shape[d]; ++j) dst[done + j] = src[off + j * m.strides[d]];
        for (size_t i = d; i-- > 0;) {
            if (++idx[i] < m.shape[i]) break;
            idx[i] = 0;
        }
    }
}

// Dense row-major copy of a strided view: `src` points at its first element, element size `es`.
inline void copy_strided(const uint8_t* src, const std::vector<int64_t>& shape, const std::vector<int64_t>& strides,
                         size_t es, uint8_t* dst) {
    for (int64_t s : shape)
        if (s == 0) return;
    const StridedDims m = merge_dims(shape, strides);
    dispatch_element_size(es, [&](auto tag) {
        using E = decltype(tag);
        copy_strided_as(reinterpret_cast<const E*>(src), m, reinterpret_cast<E*>(dst));
    });
}

}  // namespace errseg::detail
