// Process-wide state from several threads at once: the thread count (set_num_threads), the
// large-block cache (release_cached_memory) and a loaded model used concurrently, while ops run.
// Every result is compared with one computed alone; misuse is an errseg::Error, never a crash.
// scripts/test_tsan.sh runs this file under ThreadSanitizer.
#include <doctest/doctest.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "errseg/errseg.hpp"

using namespace errseg;

namespace {

const std::string kModel = std::string(ERRSEG_BUILD_DIR) + "/test_models/errseg_tiny.safetensors";

// Deterministic pseudo-random values (no global RNG state shared between threads).
Tensor filled(const Shape& shape, uint32_t seed) {
    Tensor t = Tensor::empty(shape);
    float* p = t.data<float>();
    uint32_t s = seed;
    for (int64_t i = 0; i < t.numel(); ++i) {
        s = s * 1664525u + 1013904223u;
        p[i] = float(s >> 8) / float(1u << 24) - 0.5f;
    }
    return t;
}

bool bit_identical(const Tensor& a, const Tensor& b) {
    return a.shape() == b.shape() && a.dtype() == b.dtype() &&
           std::memcmp(a.contiguous().raw(), b.contiguous().raw(), size_t(a.numel()) * dtype_size(a.dtype())) == 0;
}

// Restores the thread count a test started with.
struct ThreadCountGuard {
    int saved = get_num_threads();
    ~ThreadCountGuard() { set_num_threads(saved); }
};

}  // namespace

TEST_CASE("threads: set_num_threads, release_cached_memory and ops from several threads at once") {
    ThreadCountGuard guard;
    // Inputs large enough that the GEMM splits across the pool and its output (> 4 MiB) goes
    // through the block cache that release_cached_memory empties.
    const Tensor a = filled({1100, 96}, 1), b = filled({96, 1024}, 2);
    set_num_threads(1);
    const Tensor expected = ops::matmul(a, b);
    std::vector<int64_t> serial_sums(4);
    for (int64_t k = 0; k < 4; ++k) serial_sums[size_t(k)] = (100000 + k) * (100000 + k - 1) / 2;

    std::atomic<bool> stop{false};
    std::atomic<int> mismatches{0}, errors{0}, runs{0};
    std::vector<std::thread> threads;
    for (int w = 0; w < 3; ++w)
        threads.emplace_back([&, w] {
            for (int it = 0; it < 6; ++it) {
                try {
                    if (!bit_identical(ops::matmul(a, b), expected)) ++mismatches;
                    const int64_t n = 100000 + w;
                    std::atomic<int64_t> sum{0};
                    parallel_for(n, 1000, [&](int64_t begin, int64_t end) {
                        int64_t s = 0;
                        for (int64_t i = begin; i < end; ++i) s += i;
                        sum += s;
                    });
                    if (sum.load() != serial_sums[size_t(w)]) ++mismatches;
                    ++runs;
                } catch (...) {
                    ++errors;
                }
            }
        });
    threads.emplace_back([&] {  // the settings, changed while the ops run
        int n = 1;
        while (!stop) {
            set_num_threads(1 + n % 4);
            CHECK(get_num_threads() >= 1);
            release_cached_memory();
            ++n;
            std::this_thread::yield();
        }
    });
    threads.emplace_back([&] {
        while (!stop) {
            set_num_threads(3);
            release_cached_memory();
            std::this_thread::yield();
        }
    });
    for (int w = 0; w < 3; ++w) threads[size_t(w)].join();
    stop = true;
    for (size_t i = 3; i < threads.size(); ++i) threads[i].join();
    CHECK(runs == 18);
    CHECK(mismatches == 0);
    CHECK(errors == 0);
}

TEST_CASE("threads: misuse of set_num_threads is an error, not a crash or a deadlock") {
    ThreadCountGuard guard;
    CHECK_THROWS_WITH_AS(set_num_threads(0), doctest::Contains("must be in [1, 1024], got 0"), Error);
    CHECK_THROWS_WITH_AS(set_num_threads(-5), doctest::Contains("got -5"), Error);
    CHECK_THROWS_WITH_AS(set_num_threads(kMaxThreads + 1), doctest::Contains("must be in [1, 1024]"), Error);
    set_num_threads(2);
    // From inside a parallel region (it would wait for itself to finish): an Error, rethrown
    // in the caller; the pool keeps working afterwards.
    std::atomic<int> refused{0};
    CHECK_THROWS_WITH_AS(parallel_for(64, 1,
                                      [&](int64_t, int64_t) {
                                          try {
                                              set_num_threads(3);
                                          } catch (const Error&) {
                                              ++refused;
                                              throw;
                                          }
                                      }),
                         doctest::Contains("cannot be called from inside a parallel region"), Error);
    CHECK(refused >= 1);
    CHECK(get_num_threads() == 2);
    std::atomic<int64_t> count{0};
    parallel_for(1000, 1, [&](int64_t b, int64_t e) { count += e - b; });
    CHECK(count == 1000);
}

TEST_CASE("threads: one loaded model segments from several threads at once, with the same results") {
    ThreadCountGuard guard;
    const auto model = models::ErrSegModel::load(kModel);
    Image img;
    img.width = 96;
    img.height = 64;
    img.rgb.resize(size_t(img.width) * size_t(img.height) * 3);
    for (size_t i = 0; i < img.rgb.size(); ++i) img.rgb[i] = uint8_t((i * 37) % 251);
    const std::vector<std::string> names{"sky", "tree", "road", "car"};
    set_num_threads(2);
    const Tensor emb = model.encode_classes(names);
    const auto expected = model.segment(img, emb);

    std::atomic<int> mismatches{0}, errors{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int w = 0; w < 2; ++w)
        threads.emplace_back([&] {
            try {
                // encode_classes shares the model's embedding cache between the threads.
                const Tensor e = model.encode_classes(names);
                const auto r = model.segment(img, e);
                if (!bit_identical(r.labels, expected.labels) || !bit_identical(r.logits, expected.logits))
                    ++mismatches;
            } catch (...) {
                ++errors;
            }
        });
    std::thread settings([&] {
        int n = 0;
        while (!stop) {
            set_num_threads(1 + n++ % 3);
            release_cached_memory();
            std::this_thread::yield();
        }
    });
    for (auto& t : threads) t.join();
    stop = true;
    settings.join();
    CHECK(mismatches == 0);
    CHECK(errors == 0);
}
