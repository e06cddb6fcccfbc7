// CRM — training-free class selection (spec §2.7.1, row H3).
//
// From the stride-16 cost map, every pixel votes for its three most similar classes. Votes are
// weighted by rank (1, 0.1, 0.01) and the K classes with the largest total weight are kept:
//
//   1. M = mean over the P prompt maps (identity for P = 1)                     -> T x H x W
//   2. r = 3 if T > 3 else T; per pixel the r classes with the largest M, best first
//   3. count_i[t] = number of pixels whose rank-i class is t
//   4. float32, in this order: w = 0; w += count_0·1; w += fl32(count_1·0.1f); w += fl32(count_2·0.01f)
//   5. the K = min(K, T) classes with the largest w, returned in ascending class order
//
// Ties — equal similarities in a pixel's ranking (e.g. ADE-847's duplicated first synonyms), equal
// weights at the top-K boundary (typically several classes with w = 0 competing for the last
// slots when fewer than K classes are ever voted for) — are resolved by torch.topk upstream, whose
// order is implementation-defined (spec §6.6). Two rules are offered:
//   * CrmTieRule::LowerIndex (the spec's recommendation): larger value first, then the
//     lower class index. This is also how CUDA's topk fills ties at the boundary, i.e. what the
//     released model did on GPU (spec §8 Q3: believed, not verified).
//   * CrmTieRule::TorchCpu (default: the CPU engine reproduces upstream run on CPU): torch.topk on CPU exactly (std::nth_element, then
//     std::sort of the first k − 1, on (value, index) pairs in index order, with PyTorch's
//     comparator — ATen's TopKImpl.h — or std::partial_sort when k·64 <= n). This is what the
//     CPU reference fixtures were produced with. It relies on the C++ standard library matching
//     PyTorch's (libstdc++), as it does for GCC builds on Linux.
//
// Upstream then shuffles the selected classes (torch.randperm). Everything downstream is per
// class or permutation-equivariant over classes, so we keep the ascending order.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "../../core.hpp"

namespace errseg::models {

enum class CrmTieRule { LowerIndex, TorchCpu };

namespace crm {
constexpr int64_t kRanks = 3;                                  // votes per pixel
constexpr float kRankWeights[kRanks] = {1.0f, 0.1f, 0.01f};    // float32, as torch multiplies them

// The indices of torch.topk(values, k, largest=True, sorted=True) as PyTorch computes them on
// CPU. `queue` is scratch space (reused across calls).
inline void torch_cpu_topk(const float* values, int64_t n, int64_t stride, int64_t k,
                           std::vector<std::pair<double, int64_t>>& queue, int64_t* out) {
    using Elem = std::pair<double, int64_t>;
    queue.resize(size_t(n));
    for (int64_t j = 0; j < n; ++j) queue[size_t(j)] = Elem(double(values[j * stride]), j);
    // NaN counts as the largest value (numpy compatibility), then plain ">".
    const auto greater = [](const Elem& x, const Elem& y) {
        return (std::isnan(x.first) && !std::isnan(y.first)) || x.first > y.first;
    };
    if (k * 64 <= n) {
        std::partial_sort(queue.begin(), queue.begin() + k, queue.end(), greater);
    } else {
        std::nth_element(queue.begin(), queue.begin() + (k - 1), queue.end(), greater);
        std::sort(queue.begin(), queue.begin() + (k - 1), greater);
    }
    for (int64_t j = 0; j < k; ++j) out[j] = queue[size_t(j)].second;
}

// Indices of the k largest of values[j * stride], j < n, best first: larger value, then lower index.
inline void lower_index_topk(const float* values, int64_t n, int64_t stride, int64_t k, int64_t* out) {
    int64_t filled = 0;
    for (int64_t t = 0; t < n; ++t) {
        const float v = values[t * stride];
        int64_t pos = filled;
        // Strictly greater only: an equal value never overtakes an earlier (lower) index.
        while (pos > 0 && v > values[out[pos - 1] * stride]) --pos;
        if (pos >= k) continue;
        for (int64_t j = std::min(filled, k - 1); j > pos; --j) out[j] = out[j - 1];
        out[pos] = t;
        filled = std::min(filled + 1, k);
    }
}
}  // namespace crm

// Per-class CRM weights w [T] from a cost map [T, H, W] (or [P, T, H, W], averaged over P).
inline std::vector<float> crm_class_weights(const Tensor& cost_in, CrmTieRule rule = CrmTieRule::LowerIndex) {
    ERRSEG_CHECK(cost_in.dim() == 3 || cost_in.dim() == 4, "CRM: cost map must be [T, H, W] or ",
                 "[P, T, H, W], got ", shape_str(cost_in.shape()));
    Tensor cost = cost_in.to_f32();
    if (cost.dim() == 4) {
        // Mean over the prompt axis (P = 1 in ERR-Seg: an exact identity).
        const int64_t P = cost.size(0);
        Tensor m = cost.select(0, 0).clone();
        float* md = m.data<float>();
        for (int64_t p = 1; p < P; ++p) {
            const Tensor cp = cost.select(0, p).contiguous();
            const float* cd = cp.data<float>();
            for (int64_t i = 0; i < m.numel(); ++i) md[i] += cd[i];
        }
        if (P > 1)
            for (int64_t i = 0; i < m.numel(); ++i) md[i] /= float(P);
        cost = m;
    }
    const int64_t T = cost.size(0), HW = cost.size(1) * cost.size(2);
    const int64_t ranks = T > crm::kRanks ? crm::kRanks : T;
    const float* c = cost.data<float>();

    // counts[i][t]: pixels whose rank-i class is t.
    std::vector<std::vector<int64_t>> counts(size_t(ranks), std::vector<int64_t>(size_t(T), 0));
    std::vector<int64_t> best(static_cast<size_t>(ranks));
    std::vector<std::pair<double, int64_t>> scratch;
    for (int64_t p = 0; p < HW; ++p) {
        if (rule == CrmTieRule::TorchCpu)
            crm::torch_cpu_topk(c + p, T, HW, ranks, scratch, best.data());
        else
            crm::lower_index_topk(c + p, T, HW, ranks, best.data());
        for (int64_t i = 0; i < ranks; ++i) ++counts[size_t(i)][size_t(best[size_t(i)])];
    }

    // Accumulate exactly like `freq_counts += histc(...) * freq_mapping[i]` in float32.
    std::vector<float> w(size_t(T), 0.f);
    for (int64_t i = 0; i < ranks; ++i)
        for (int64_t t = 0; t < T; ++t) {
            const float product = float(counts[size_t(i)][size_t(t)]) * crm::kRankWeights[i];
            w[size_t(t)] = w[size_t(t)] + product;
        }
    return w;
}

// Indices of the min(k, T) classes with the largest weights, ascending.
inline std::vector<int64_t> top_k_classes(const std::vector<float>& weights, int64_t k,
                                          CrmTieRule rule = CrmTieRule::LowerIndex) {
    const int64_t T = int64_t(weights.size());
    ERRSEG_CHECK(T >= 1, "CRM: no classes");
    ERRSEG_CHECK(k >= 1, "CRM: the number of classes to keep must be >= 1, got ", k);
    k = std::min(k, T);
    std::vector<int64_t> kept(static_cast<size_t>(k));
    if (rule == CrmTieRule::TorchCpu) {
        std::vector<std::pair<double, int64_t>> scratch;
        crm::torch_cpu_topk(weights.data(), T, 1, k, scratch, kept.data());
    } else {
        crm::lower_index_topk(weights.data(), T, 1, k, kept.data());
    }
    std::sort(kept.begin(), kept.end());
    return kept;
}

// CRM: the classes to keep, ascending, from the stride-16 cost map [T, H, W] or [P, T, H, W].
inline std::vector<int64_t> select_classes(const Tensor& cost, int64_t k,
                                           CrmTieRule rule = CrmTieRule::LowerIndex) {
    return top_k_classes(crm_class_weights(cost, rule), k, rule);
}

}  // namespace errseg::models
