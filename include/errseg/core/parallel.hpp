// A small persistent thread pool: parallel_for splits [0, n) into contiguous chunks.
// The thread count is process-wide and configurable (set_num_threads); 1 = no threads.
#pragma once
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace errseg {

class ThreadPool {
public:
    explicit ThreadPool(int threads) { resize(threads); }
    ~ThreadPool() { stop(); }

    int size() const { return int(workers_.size()) + 1; }  // the caller works too

    void resize(int threads) {
        threads = std::max(1, threads);
        if (threads == size() && !workers_.empty()) return;
        stop();
        stopping_ = false;
        for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
    }

    // Runs fn(begin, end) on chunks covering [0, n); returns when all chunks are done.
    // Exceptions thrown by fn are rethrown in the caller.
    void run(int64_t n, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& fn) {
        if (n <= 0) return;
        int64_t chunks = std::min<int64_t>(size(), (n + std::max<int64_t>(min_chunk, 1) - 1) /
                                                       std::max<int64_t>(min_chunk, 1));
        if (chunks <= 1 || in_worker()) {
            fn(0, n);
            return;
        }
        std::unique_lock<std::mutex> job_lock(job_mutex_);  // one parallel region at a time
        {
            std::lock_guard<std::mutex> lk(mutex_);
            job_ = &fn;
            job_n_ = n;
            job_chunks_ = chunks;
            next_chunk_ = 0;
            pending_ = chunks;
            error_ = nullptr;
            ++generation_;
        }
        cv_.notify_all();
        work_on_chunks();
        std::unique_lock<std::mutex> lk(mutex_);
        // Also wait for workers still inside work_on_chunks: they must not see the next job's
        // counters while holding this job's chunk index.
        done_cv_.wait(lk, [this] { return pending_ == 0 && active_ == 0; });
        job_ = nullptr;
        if (error_) std::rethrow_exception(error_);
    }

private:
    static bool& in_worker() {
        static thread_local bool flag = false;
        return flag;
    }

    void work_on_chunks() {
        for (;;) {
            int64_t c = next_chunk_.fetch_add(1);
            if (c >= job_chunks_) return;
            int64_t begin = job_n_ * c / job_chunks_, end = job_n_ * (c + 1) / job_chunks_;
            const bool was = in_worker();
            in_worker() = true;  // nested parallel_for runs inline
            try {
                (*job_)(begin, end);
            } catch (...) {
                std::lock_guard<std::mutex> lk(mutex_);
                if (!error_) error_ = std::current_exception();
            }
            in_worker() = was;  // restored on exceptions too (else the caller stays serial)
            std::lock_guard<std::mutex> lk(mutex_);
            if (--pending_ == 0) done_cv_.notify_all();
        }
    }

    void worker_loop() {
        in_worker() = true;
        uint64_t seen = 0;
        for (;;) {
            {
                std::unique_lock<std::mutex> lk(mutex_);
                cv_.wait(lk, [&] { return stopping_ || (generation_ != seen && job_ != nullptr); });
                if (stopping_) return;
                seen = generation_;
                ++active_;
            }
            in_worker() = false;
            work_on_chunks();
            in_worker() = true;
            std::lock_guard<std::mutex> lk(mutex_);
            if (--active_ == 0) done_cv_.notify_all();
        }
    }

    void stop() {
        {
            std::lock_guard<std::mutex> lk(mutex_);
            stopping_ = true;
        }
        cv_.notify_all();
        for (auto& w : workers_) w.join();
        workers_.clear();
    }

    std::vector<std::thread> workers_;
    std::mutex mutex_, job_mutex_;
    std::condition_variable cv_, done_cv_;
    const std::function<void(int64_t, int64_t)>* job_ = nullptr;
    int64_t job_n_ = 0, job_chunks_ = 0, pending_ = 0, active_ = 0;
    std::atomic<int64_t> next_chunk_{0};
    uint64_t generation_ = 0;
    bool stopping_ = false;
    std::exception_ptr error_;
};

inline int default_num_threads() {
    unsigned hw = std::thread::hardware_concurrency();
    return hw ? int(hw) : 1;
}

inline ThreadPool& thread_pool() {
    static ThreadPool pool(default_num_threads());
    return pool;
}

inline void set_num_threads(int n) { thread_pool().resize(n); }
inline int get_num_threads() { return thread_pool().size(); }

// fn(begin, end) over [0, n); chunks of at least min_chunk items so tiny loops stay serial.
template <class F>
void parallel_for(int64_t n, int64_t min_chunk, F&& fn) {
    std::function<void(int64_t, int64_t)> f = std::forward<F>(fn);
    thread_pool().run(n, min_chunk, f);
}

}  // namespace errseg
