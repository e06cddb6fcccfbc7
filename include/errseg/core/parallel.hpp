// A small persistent thread pool: parallel_for splits [0, n) into contiguous chunks.
// The thread count is process-wide and configurable (set_num_threads); 1 = no threads.
//
// Thread safety: every function here may be called from any thread at any time.
// parallel_for from several threads at once is safe: the pool runs one parallel region at a
// time, a second caller waits for it (a parallel_for nested inside a parallel region runs
// inline on the calling thread). set_num_threads waits for the running region to finish
// before it resizes the pool; calling it from inside a parallel region is an errseg::Error
// (it would wait for itself), as is a count outside [1, kMaxThreads].
#pragma once
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <system_error>
#include <vector>

#include "error.hpp"

namespace errseg {

// More threads than this is a typo or an overflow, not a machine.
inline constexpr int kMaxThreads = 1024;

class ThreadPool {
public:
    explicit ThreadPool(int threads) { resize(threads); }
    ~ThreadPool() { stop(); }

    int size() const { return threads_.load(); }  // the caller works too

    void resize(int threads) {
        ERRSEG_CHECK(threads >= 1 && threads <= kMaxThreads, "the number of threads must be in [1, ", kMaxThreads,
                     "], got ", threads);
        ERRSEG_CHECK(!in_worker(), "set_num_threads cannot be called from inside a parallel region");
        std::lock_guard<std::mutex> job_lock(job_mutex_);  // no job runs while workers change
        if (threads == size()) return;
        stop();
        stopping_ = false;
        try {
            for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
        } catch (const std::system_error& e) {
            const int started = int(workers_.size()) + 1;
            stop();
            threads_ = 1;
            fail("cannot start ", threads, " threads (the system refused after ", started, "): ", e.what());
        }
        threads_ = threads;
    }

    // Runs fn(begin, end) on chunks covering [0, n); returns when all chunks are done.
    // Exceptions thrown by fn are rethrown in the caller.
    void run(int64_t n, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& fn) {
        if (n <= 0) return;
        const int64_t step = std::max<int64_t>(min_chunk, 1);
        if (in_worker() || size() <= 1 || n <= step) {
            fn(0, n);
            return;
        }
        std::unique_lock<std::mutex> job_lock(job_mutex_);  // one parallel region at a time
        // The count is read again under the lock: set_num_threads may have changed it.
        const int64_t chunks = std::min<int64_t>(int64_t(workers_.size()) + 1, (n + step - 1) / step);
        if (chunks <= 1) {
            job_lock.unlock();
            fn(0, n);
            return;
        }
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

    std::vector<std::thread> workers_;  // changed only under job_mutex_
    std::atomic<int> threads_{1};       // workers + the caller
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
    static ThreadPool pool(std::min(default_num_threads(), kMaxThreads));
    return pool;
}

// Any thread; not from inside a parallel_for body (see the top of this file).
inline void set_num_threads(int n) { thread_pool().resize(n); }
inline int get_num_threads() { return thread_pool().size(); }

// fn(begin, end) over [0, n); chunks of at least min_chunk items so tiny loops stay serial.
template <class F>
void parallel_for(int64_t n, int64_t min_chunk, F&& fn) {
    std::function<void(int64_t, int64_t)> f = std::forward<F>(fn);
    thread_pool().run(n, min_chunk, f);
}

}  // namespace errseg
