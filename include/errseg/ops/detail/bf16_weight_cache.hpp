// Weights packed to bf16 once (--precision bf16), then reused by every call of linear / conv2d /
// matmul that multiplies by the same weight tensor.
//
// An entry is keyed by the tensor's storage (held weakly: an entry dies with its weight), data
// address, shape, strides and packing side. Weights must not be written while they are alive
// (model weights never are); entries whose storage has gone are dropped at the next insertion.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "sgemm_bf16.hpp"

#if defined(ERRSEG_HAVE_BF16_GEMM)

namespace errseg::ops::detail {

class Bf16WeightCache {
public:
    static Bf16WeightCache& instance() {
        static Bf16WeightCache* cache = new Bf16WeightCache();  // never destroyed (see LargeBlockCache)
        return *cache;
    }

    // The packed form of op(w) as a [outer, K] A operand or a [K, outer] B operand, where w is
    // an fp32 matrix described by `m` (element pointers into w's storage).
    std::shared_ptr<const Bf16Packed> get(const Tensor& w, const MatArg& m, Bf16Packed::Side side, int64_t outer,
                                          int64_t K) {
        const Key key{w.raw(), side, w.shape(), w.strides()};
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = entries_.find(key);
        if (it != entries_.end() && it->second.storage.lock() == w.storage()) return it->second.packed;
        for (auto e = entries_.begin(); e != entries_.end();) e = e->second.storage.expired() ? entries_.erase(e) : ++e;
        auto packed = std::make_shared<const Bf16Packed>(bf16_pack_weight(m, side, outer, K));
        entries_[key] = Entry{w.storage(), packed};
        return packed;
    }
    // Drops every packed weight (memory; the next bf16 call packs again).
    void clear() {
        std::lock_guard<std::mutex> lock(mutex_);
        entries_.clear();
    }
    size_t size() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return entries_.size();
    }

private:
    using Key = std::tuple<const void*, Bf16Packed::Side, Shape, Shape>;
    struct Entry {
        std::weak_ptr<Storage> storage;
        std::shared_ptr<const Bf16Packed> packed;
    };
    mutable std::mutex mutex_;
    std::map<Key, Entry> entries_;
};

}  // namespace errseg::ops::detail

#endif  // ERRSEG_HAVE_BF16_GEMM
