// ProfilingBackend<Inner>: a Backend (include/errseg/backend/backend_ops.hpp) that forwards every
// op to Inner and adds its wall time to a table keyed by (op, input shapes). The model code is
// templated over the backend, so `ErrSegModelOn<ProfilingBackend<CpuBackend>>` shows where a
// forward pass spends its time without touching the model code. Host backends only (GPU ops
// are asynchronous: their wall time here would be the launch time).
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <errseg/backend/backend_ops.hpp>
#include <errseg/backend/cpu_backend.hpp>

namespace errseg::bench {

struct OpStats {
    double ms = 0;
    int64_t calls = 0;
};

class OpProfile {
public:
    static OpProfile& get() {
        static OpProfile p;
        return p;
    }
    void add(const std::string& key, double ms) {
        std::lock_guard<std::mutex> lock(mu_);
        OpStats& s = stats_[key];
        s.ms += ms;
        ++s.calls;
    }
    void reset() {
        std::lock_guard<std::mutex> lock(mu_);
        stats_.clear();
    }
    // The rows with the most time first; `runs` divides the times (ms per run).
    void print(int64_t runs, size_t max_rows, double total_ms) const {
        std::vector<std::pair<std::string, OpStats>> rows(stats_.begin(), stats_.end());
        std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.ms > b.second.ms; });
        double all = 0;
        std::map<std::string, double> by_op;
        for (const auto& [key, s] : rows) {
            all += s.ms;
            by_op[key.substr(0, key.find(' '))] += s.ms;
        }
        std::printf("ops account for %.1f of %.1f ms per run\n\nper op:\n", all / double(runs), total_ms);
        std::vector<std::pair<std::string, double>> ops(by_op.begin(), by_op.end());
        std::sort(ops.begin(), ops.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
        for (const auto& [op, ms] : ops) std::printf("  %8.1f ms  %5.1f%%  %s\n", ms / double(runs), 100 * ms / all, op.c_str());
        std::printf("\nper op and shape (top %zu):\n", max_rows);
        for (size_t i = 0; i < rows.size() && i < max_rows; ++i)
            std::printf("  %8.1f ms  %5.1f%%  %5lld calls  %s\n", rows[i].second.ms / double(runs),
                        100 * rows[i].second.ms / all, (long long)(rows[i].second.calls / runs), rows[i].first.c_str());
    }

private:
    std::mutex mu_;
    std::map<std::string, OpStats> stats_;
};

namespace profiling_detail {

// The key of one call: op name, then the shape of every tensor argument ("-" if undefined).
inline void describe(std::string& key, const errseg::Tensor& t) {
    key += ' ';
    key += t.defined() ? shape_str(t.shape()) : "-";
}
inline void describe(std::string& key, const std::vector<errseg::Tensor>& ts) {
    if (!ts.empty()) describe(key, ts.front());
}
template <class A>
void describe(std::string&, const A&) {}  // scalars and parameter structs: not part of the key

// KeyOf{"op"}(args...): the key of one call.
struct KeyOf {
    const char* op;
    template <class... A>
    std::string operator()(const A&... args) const {
        std::string key = op;
        (describe(key, args), ...);
        return key;
    }
};

inline double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace profiling_detail

// Every op of ERRSEG_BACKEND_OPS, timed (generated from the list, so it cannot miss one).
template <class Inner>
struct ProfilingBackend {
    using Tensor = typename Inner::Tensor;
    static constexpr const char* kName = Inner::kName;

private:
    using T = Tensor;
    using HostTensor = errseg::Tensor;
    using Index = std::vector<int64_t>;
    using Act = errseg::Activation;

public:
#define ERRSEG_PROFILED_OP(Ret, name, params, args)                                           \
    static Ret name params {                                                                 \
        const std::string key = profiling_detail::KeyOf{#name} args;        \
        const auto t0 = std::chrono::steady_clock::now();                                    \
        struct Record {                                                                      \
            const std::string& key;                                                          \
            std::chrono::steady_clock::time_point t0;                                        \
            ~Record() { OpProfile::get().add(key, profiling_detail::ms_since(t0)); }         \
        } record{key, t0};                                                                   \
        return Inner::name args;                                                             \
    }
    ERRSEG_BACKEND_OPS(ERRSEG_PROFILED_OP)
#undef ERRSEG_PROFILED_OP
};

}  // namespace errseg::bench
