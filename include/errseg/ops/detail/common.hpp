// Shared helpers for the CPU ops: input checking, Eigen matrix maps and chunked loops.
#pragma once
// Parallelism comes from errseg::parallel_for; Eigen must not add OpenMP threads of its own
// inside our chunks (it would if a program is built with -fopenmp).
#ifndef EIGEN_DONT_PARALLELIZE
#define EIGEN_DONT_PARALLELIZE
#endif
#include <Eigen/Core>
#include <algorithm>
#include <cstdlib>
#include <cstdint>
#include <string>
#include <vector>

#include "../../core.hpp"

namespace errseg::ops::detail {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Stride2 = Eigen::OuterStride<>;
// Row-major matrix views with an arbitrary row stride (inner stride 1).
using MapMat = Eigen::Map<RowMat, Eigen::Unaligned, Stride2>;
using MapCMat = Eigen::Map<const RowMat, Eigen::Unaligned, Stride2>;
using MapArr = Eigen::Map<Eigen::ArrayXf>;
using MapCArr = Eigen::Map<const Eigen::ArrayXf>;

inline MapCMat cmat(const float* p, int64_t rows, int64_t cols, int64_t ld) {
    return MapCMat(p, Eigen::Index(rows), Eigen::Index(cols), Stride2(Eigen::Index(ld)));
}
inline MapMat mat(float* p, int64_t rows, int64_t cols, int64_t ld) {
    return MapMat(p, Eigen::Index(rows), Eigen::Index(cols), Stride2(Eigen::Index(ld)));
}

// Read-only element pointer (works for memory-mapped, read-only storage too).
inline const float* cdata(const Tensor& t) { return t.data<float>(); }

// Ops compute in fp32. F16/BF16 inputs (storage formats) are widened; other dtypes are an error.
// The result is contiguous (no copy when the input already is).
inline Tensor f32_contig(const Tensor& x, const char* op, const char* what = "input") {
    ERRSEG_CHECK(x.defined(), op, ": ", what, " is an undefined tensor");
    if (x.dtype() == DType::F32) return x.contiguous();
    ERRSEG_CHECK(x.dtype() == DType::F16 || x.dtype() == DType::BF16, op, ": ", what,
                 " must be float32 (got ", dtype_name(x.dtype()), ", shape ", shape_str(x.shape()), ")");
    return x.to_f32();
}

// Optional 1-D parameter (bias, norm weight) of length n; returns nullptr when undefined.
// `keep` holds the contiguous copy alive.
inline const float* optional_vec(const Tensor& t, int64_t n, const char* op, const char* what,
                                 Tensor& keep) {
    if (!t.defined()) return nullptr;
    ERRSEG_CHECK(t.numel() == n && t.dim() <= 1, op, ": ", what, " has shape ", shape_str(t.shape()),
                 ", expected [", n, "]");
    keep = f32_contig(t, op, what);
    return cdata(keep);
}

inline void check_dim(const Tensor& x, int64_t nd, const char* op, const char* what,
                      const char* layout) {
    ERRSEG_CHECK(x.dim() == nd, op, ": ", what, " must be ", nd, "-d ", layout, ", got shape ",
                 shape_str(x.shape()));
}

// Element-count threshold below which a loop is not worth splitting across threads.
constexpr int64_t kMinParallelWork = 1 << 14;

// Chunk size (in items of `work_per_item` elements) so each task has at least kMinParallelWork.
inline int64_t min_chunk_for(int64_t work_per_item) {
    return std::max<int64_t>(1, kMinParallelWork / std::max<int64_t>(work_per_item, 1));
}

// Per-thread scratch buffer reused across calls (im2col tiles, attention scores...). 64-byte
// aligned: Eigen's vectorised reductions peel by address, so a buffer whose alignment varied
// from thread to thread would make results depend on which thread ran a task.
inline float* scratch(size_t n, int slot = 0) {
    struct Buf {
        float* p = nullptr;
        size_t cap = 0;
        ~Buf() { std::free(p); }
    };
    thread_local Buf buf[8];  // slots 0-3: ops; 4-5: the GEMM's packing buffers; 6-7: the bf16 GEMM's
    Buf& b = buf[slot];
    if (b.cap < n) {
        std::free(b.p);
        b.cap = std::max<size_t>(n, 2 * b.cap);
        b.p = static_cast<float*>(std::aligned_alloc(64, (b.cap * sizeof(float) + 63) / 64 * 64));
        if (!b.p) {
            b.cap = 0;
            fail("out of memory allocating a ", n * sizeof(float), "-byte scratch buffer");
        }
    }
    return b.p;
}

}  // namespace errseg::ops::detail
