// ProfilingBackend<Inner>: a Backend (include/errseg/backend/cpu_backend.hpp) that forwards every
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

template <class T>
void describe(std::string& key, const T& arg) {
    if constexpr (std::is_same_v<std::decay_t<T>, errseg::Tensor>) {
        key += ' ';
        key += arg.defined() ? shape_str(arg.shape()) : "-";
    }
}

}  // namespace profiling_detail

template <class Inner>
struct ProfilingBackend {
    using Tensor = typename Inner::Tensor;
    static constexpr const char* kName = Inner::kName;

#define ERRSEG_PROFILED_OP(op)                                                                         \
    template <class... Args>                                                                           \
    static decltype(auto) op(Args&&... args) {                                                         \
        std::string key = #op;                                                                         \
        (profiling_detail::describe(key, args), ...);                                                  \
        const auto t0 = std::chrono::steady_clock::now();                                              \
        if constexpr (std::is_void_v<decltype(Inner::op(std::forward<Args>(args)...))>) {              \
            Inner::op(std::forward<Args>(args)...);                                                    \
            OpProfile::get().add(key, ms_since(t0));                                                   \
        } else {                                                                                       \
            auto out = Inner::op(std::forward<Args>(args)...);                                         \
            OpProfile::get().add(key, ms_since(t0));                                                   \
            return out;                                                                                \
        }                                                                                              \
    }

    ERRSEG_PROFILED_OP(upload)
    ERRSEG_PROFILED_OP(download)
    ERRSEG_PROFILED_OP(contiguous)
    ERRSEG_PROFILED_OP(slice0)
    ERRSEG_PROFILED_OP(select0)
    ERRSEG_PROFILED_OP(pad2d)
    ERRSEG_PROFILED_OP(index_select)
    ERRSEG_PROFILED_OP(linear)
    ERRSEG_PROFILED_OP(matmul)
    ERRSEG_PROFILED_OP(conv2d)
    ERRSEG_PROFILED_OP(conv2d_depthwise_nhwc)
    ERRSEG_PROFILED_OP(conv_transpose2d)
    ERRSEG_PROFILED_OP(layer_norm)
    ERRSEG_PROFILED_OP(layer_norm2d)
    ERRSEG_PROFILED_OP(group_norm)
    ERRSEG_PROFILED_OP(l2_normalize)
    ERRSEG_PROFILED_OP(normalize_rows)
    ERRSEG_PROFILED_OP(gelu)
    ERRSEG_PROFILED_OP(quick_gelu)
    ERRSEG_PROFILED_OP(relu)
    ERRSEG_PROFILED_OP(relu6)
    ERRSEG_PROFILED_OP(clamp)
    ERRSEG_PROFILED_OP(scale)
    ERRSEG_PROFILED_OP(add)
    ERRSEG_PROFILED_OP(mul)
    ERRSEG_PROFILED_OP(add_)
    ERRSEG_PROFILED_OP(mean)
    ERRSEG_PROFILED_OP(resize_bilinear)
    ERRSEG_PROFILED_OP(avg_pool2d)
    ERRSEG_PROFILED_OP(attention_tokens)
    ERRSEG_PROFILED_OP(multi_head_self_attention)
#undef ERRSEG_PROFILED_OP

    // Called with braced lists, which a forwarding pack cannot take.
    static Tensor permute(const Tensor& x, const std::vector<int64_t>& order) {
        return timed("permute", x, [&] { return Inner::permute(x, order); });
    }
    static Tensor permute_copy(const Tensor& x, const std::vector<int64_t>& order) {
        return timed("permute_copy", x, [&] { return Inner::permute_copy(x, order); });
    }
    static Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
        return timed("concat", xs.empty() ? Tensor() : xs.front(), [&] { return Inner::concat(xs, dim); });
    }

private:
    template <class F>
    static Tensor timed(const char* op, const Tensor& x, F&& f) {
        std::string key = op;
        profiling_detail::describe(key, x);
        const auto t0 = std::chrono::steady_clock::now();
        Tensor out = f();
        OpProfile::get().add(key, ms_since(t0));
        return out;
    }
    static double ms_since(std::chrono::steady_clock::time_point t0) {
        return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    }
};

}  // namespace errseg::bench
