// How many bytes tensors hold on the heap, now and at most since the last reset: a cheap,
// always-on counter (two relaxed atomics per tensor allocation) that tests and benchmarks use to
// see which stage holds the most memory without a heap profiler.
#pragma once
#include <atomic>
#include <cstddef>

namespace errseg {

struct HeapUsage {
    size_t tensor_bytes = 0;       // bytes of heap tensors alive now (requested sizes)
    size_t peak_tensor_bytes = 0;  // the most alive at once since reset_heap_peak()
};

namespace detail {

class HeapCounter {
public:
    static HeapCounter& instance() {
        static HeapCounter* counter = new HeapCounter();  // never destroyed (see LargeBlockCache)
        return *counter;
    }
    void allocated(size_t bytes) {
        const size_t now = in_use_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
        size_t peak = peak_.load(std::memory_order_relaxed);
        while (now > peak && !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
        }
    }
    void freed(size_t bytes) { in_use_.fetch_sub(bytes, std::memory_order_relaxed); }
    HeapUsage usage() const {
        return {in_use_.load(std::memory_order_relaxed), peak_.load(std::memory_order_relaxed)};
    }
    void reset_peak() { peak_.store(in_use_.load(std::memory_order_relaxed), std::memory_order_relaxed); }

private:
    std::atomic<size_t> in_use_{0}, peak_{0};
};

}  // namespace detail

// Heap tensor bytes alive now and at most since the last reset_heap_peak() (all threads).
// Memory-mapped weights and the freed blocks kept for reuse are not counted.
inline HeapUsage heap_usage() { return detail::HeapCounter::instance().usage(); }
// Starts a new peak measurement from what is alive now.
inline void reset_heap_peak() { detail::HeapCounter::instance().reset_peak(); }

}  // namespace errseg
