// Tensor views and copies, fp16/bf16 conversion, .npy I/O, atomic writes and the thread pool.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <random>
#include <cstdlib>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>
#include <unistd.h>

#include <errseg/core.hpp>
#include <errseg/io/atomic_file.hpp>
#include <errseg/io/npy.hpp>

using namespace errseg;

namespace {

Tensor iota(const Shape& s) {
    Tensor t = Tensor::empty(s);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = float(i);
    return t;
}

// Element at a multi-index, honouring strides.
float at(const Tensor& t, const std::vector<int64_t>& idx) {
    int64_t off = 0;
    for (size_t i = 0; i < idx.size(); ++i) off += idx[i] * t.strides()[i];
    return t.data<float>()[off];
}

std::string tmp_path(const std::string& name) {
    return std::string(ERRSEG_BUILD_DIR) + "/test_tensor_" + std::to_string(::getpid()) + "_" + name;
}

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary);
    f.write(bytes.data(), std::streamsize(bytes.size()));
}

// A .npy file with a hand-written header (padded to 64 bytes) and `data_bytes` zero bytes.
std::string npy_bytes(const std::string& dict, size_t data_bytes) {
    std::string h = dict;
    while ((10 + h.size() + 1) % 64) h += ' ';
    h += '\n';
    std::string out = std::string("\x93NUMPY\x01\x00", 8);
    out += char(h.size() & 0xff);
    out += char(h.size() >> 8);
    return out + h + std::string(data_bytes, '\0');
}

}  // namespace

TEST_CASE("views share storage and index correctly") {
    const Tensor t = iota({2, 3, 4});
    const Tensor r = t.reshape({6, 4});
    CHECK(r.raw() == t.raw());
    CHECK(at(r, {5, 3}) == 23.f);
    CHECK(t.reshape({-1, 2}).shape() == Shape{12, 2});
    const Tensor p = t.permute({2, 0, 1});
    CHECK(p.shape() == Shape{4, 2, 3});
    CHECK(at(p, {3, 1, 2}) == at(t, {1, 2, 3}));
    CHECK_FALSE(p.is_contiguous());
    const Tensor tr = t.transpose(0, 2);
    CHECK(at(tr, {1, 2, 0}) == at(t, {0, 2, 1}));
    const Tensor s = t.slice(2, 1, 3);
    CHECK(s.shape() == Shape{2, 3, 2});
    CHECK(at(s, {1, 1, 0}) == at(t, {1, 1, 1}));
    const Tensor sel = t.select(1, 2);
    CHECK(sel.shape() == Shape{2, 4});
    CHECK(at(sel, {1, 3}) == 23.f);
    CHECK(t.unsqueeze(1).shape() == Shape{2, 1, 3, 4});
    CHECK(t.unsqueeze(-1).shape() == Shape{2, 3, 4, 1});
    CHECK_THROWS_WITH_AS(t.reshape({5, 5}), doctest::Contains("[2, 3, 4]"), Error);
    CHECK_THROWS_WITH_AS(t.slice(1, 2, 4), doctest::Contains("out of range"), Error);
    CHECK_THROWS_WITH_AS(t.permute({0, 0, 1}), doctest::Contains("repeated"), Error);
    CHECK_THROWS_AS(t.select(3, 0), Error);
}

TEST_CASE("contiguous and clone copy strided views") {
    const Tensor t = iota({3, 4, 5});
    const Tensor v = t.permute({2, 0, 1}).slice(1, 1, 3);  // [5, 2, 4], strided with offset
    const Tensor c = v.contiguous();
    CHECK(c.is_contiguous());
    CHECK(c.raw() != t.raw());
    for (int64_t a = 0; a < 5; ++a)
        for (int64_t b = 0; b < 2; ++b)
            for (int64_t d = 0; d < 4; ++d) CHECK(at(c, {a, b, d}) == at(t, {b + 1, d, a}));
    // Reshape of a non-contiguous view copies.
    const Tensor r = v.reshape({10, 4});
    CHECK(at(r, {9, 3}) == at(t, {2, 3, 4}));
    // clone of a contiguous tensor is a deep copy.
    Tensor k = t.clone();
    k.data<float>()[0] = 99.f;
    CHECK(t.data<float>()[0] == 0.f);
    // 16-bit and 64-bit element types take the generic path.
    Tensor i64 = Tensor::from_vector<int64_t>({2, 3}, {0, 1, 2, 3, 4, 5});
    const Tensor i64t = i64.transpose(0, 1).contiguous();
    CHECK(i64t.data<int64_t>()[1] == 3);
    CHECK(i64t.data<int64_t>()[5] == 5);
}

TEST_CASE("clone of random permuted and sliced views matches element-by-element indexing") {
    // Every copy path (rows, tiled transpose, gather; threaded or not) against the definition.
    std::mt19937 rng(7);
    const DType dtypes[] = {DType::F32, DType::F16, DType::I64, DType::U8};
    for (int trial = 0; trial < 300; ++trial) {
        const int nd = 1 + int(rng() % 4);
        Shape shape;
        for (int i = 0; i < nd; ++i) {
            const int pick = int(rng() % 4);
            shape.push_back(pick == 0 ? 1 : pick == 1 ? 1 + int64_t(rng() % 5) : 20 + int64_t(rng() % 60));
        }
        const DType dt = dtypes[trial % 4];
        Tensor base = Tensor::empty(shape, dt);
        uint8_t* bytes = static_cast<uint8_t*>(const_cast<void*>(base.raw()));
        for (size_t i = 0; i < size_t(base.numel()) * dtype_size(dt); ++i) bytes[i] = uint8_t(rng());
        std::vector<int64_t> order(static_cast<size_t>(nd), 0);
        for (int i = 0; i < nd; ++i) order[size_t(i)] = i;
        std::shuffle(order.begin(), order.end(), rng);
        Tensor v = base.permute(order);
        if (rng() % 2) {  // and a slice along a random dim
            const int64_t d = int64_t(rng() % uint32_t(nd)), len = v.size(d);
            const int64_t b = len > 2 ? int64_t(rng() % uint32_t(len / 2)) : 0;
            v = v.slice(d, b, len);
        }
        const Tensor c = v.clone();
        REQUIRE(c.is_contiguous());
        REQUIRE(c.shape() == v.shape());
        const size_t es = dtype_size(dt);
        const uint8_t* src = static_cast<const uint8_t*>(v.raw());
        const uint8_t* dst = static_cast<const uint8_t*>(c.raw());
        std::vector<int64_t> idx(v.shape().size(), 0);
        int64_t bad = 0;
        for (int64_t e = 0; e < v.numel(); ++e) {
            int64_t off = 0;
            for (size_t i = 0; i < idx.size(); ++i) off += idx[i] * v.strides()[i];
            bad += std::memcmp(dst + size_t(e) * es, src + size_t(off) * es, es) != 0;
            for (size_t i = idx.size(); i-- > 0;) {
                if (++idx[i] < v.size(int64_t(i))) break;
                idx[i] = 0;
            }
        }
        CAPTURE(shape_str(v.shape()));
        CHECK(bad == 0);
    }
}

TEST_CASE("fp16 conversion: exact round trips and round-to-nearest-even") {
    // Every finite half value survives half -> float -> half.
    for (uint32_t h = 0; h < 0x10000; ++h) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue;  // NaN payloads
        REQUIRE(float_to_half(half_to_float(uint16_t(h))) == uint16_t(h));
    }
    CHECK(half_to_float(0x3c00) == 1.f);
    CHECK(half_to_float(0x0001) == std::ldexp(1.f, -24));  // smallest subnormal
    CHECK(half_to_float(0x7bff) == 65504.f);
    // Halfway cases round to even.
    const float one_ulp = std::ldexp(1.f, -10);
    CHECK(float_to_half(1.f + one_ulp / 2) == 0x3c00);                  // tie -> even (down)
    CHECK(float_to_half(1.f + 3 * one_ulp / 2) == 0x3c02);              // tie -> even (up)
    CHECK(float_to_half(1.f + one_ulp / 2 + one_ulp / 64) == 0x3c01);   // above the tie
    CHECK(float_to_half(65520.f) == 0x7c00);                            // overflow -> inf
    CHECK(float_to_half(std::ldexp(1.f, -25)) == 0x0000);               // tie at 0 -> even
    CHECK(float_to_half(std::ldexp(1.5f, -25)) == 0x0001);
    CHECK(std::isnan(half_to_float(float_to_half(NAN))));
    CHECK(float_to_half(-0.f) == 0x8000);
}

TEST_CASE("bf16 conversion: exact round trips and round-to-nearest-even") {
    for (uint32_t b = 0; b < 0x10000; ++b) {
        if ((b & 0x7f80) == 0x7f80 && (b & 0x7f)) continue;  // NaN
        REQUIRE(float_to_bf16(bf16_to_float(uint16_t(b))) == uint16_t(b));
    }
    const float ulp = std::ldexp(1.f, -7);
    CHECK(float_to_bf16(1.f + ulp / 2) == 0x3f80);      // tie -> even
    CHECK(float_to_bf16(1.f + 3 * ulp / 2) == 0x3f82);  // tie -> even
    CHECK(std::isnan(bf16_to_float(float_to_bf16(NAN))));
    // to_f32 of a strided fp16 view.
    Tensor h = Tensor::empty({2, 3}, DType::F16);
    auto* p = static_cast<uint16_t*>(const_cast<void*>(h.raw()));
    for (int i = 0; i < 6; ++i) p[i] = float_to_half(float(i) * 0.5f);
    const Tensor f = h.transpose(0, 1).to_f32();
    CHECK(f.shape() == Shape{3, 2});
    CHECK(f.data<float>()[1] == 1.5f);
    CHECK(f.data<float>()[5] == 2.5f);
}

TEST_CASE("npy round trip for every supported dtype") {
    const std::string path = tmp_path("rt.npy");
    const Tensor f = iota({3, 5, 2});
    write_npy(path, f.permute({2, 0, 1}));  // strided input is written in logical C order
    const Tensor g = read_npy(path);
    CHECK(g.shape() == Shape{2, 3, 5});
    CHECK(at(g, {1, 2, 4}) == at(f, {2, 4, 1}));

    write_npy(path, Tensor::from_vector<int32_t>({4}, {1, -2, 3, -4}));
    Tensor i = read_npy(path);
    CHECK(i.dtype() == DType::I32);
    CHECK(i.shape() == Shape{4});
    CHECK(i.data<int32_t>()[1] == -2);

    write_npy(path, Tensor::from_vector<int64_t>({}, {42}));  // 0-d
    Tensor s = read_npy(path);
    CHECK(s.dim() == 0);
    CHECK(s.data<int64_t>()[0] == 42);

    write_npy(path, Tensor::from_vector<uint8_t>({2, 2}, {0, 1, 254, 255}));
    CHECK(read_npy(path).data<uint8_t>()[3] == 255);

    Tensor h = Tensor::empty({3}, DType::F16);
    write_npy(path, h);
    CHECK(read_npy(path).dtype() == DType::F16);

    write_npy(path, Tensor::zeros({0, 4}));
    CHECK(read_npy(path).shape() == Shape{0, 4});

    CHECK_THROWS_WITH_AS(write_npy(path, Tensor::empty({2}, DType::BF16)), doctest::Contains("BF16"), Error);
    std::remove(path.c_str());
}

TEST_CASE("npy files written by numpy load") {
    // tests/data/ops holds numpy-written files (gen_ops.py).
    const Tensor t = read_npy(std::string(ERRSEG_TEST_DATA) + "/ops/reduce.topk_indices.npy");
    CHECK(t.dtype() == DType::I64);
    CHECK(t.shape() == Shape{4, 6, 4});
}

TEST_CASE("npy error cases") {
    const std::string path = tmp_path("bad.npy");
    CHECK_THROWS_WITH_AS(read_npy(path + ".missing"), doctest::Contains("cannot open"), Error);
    write_bytes(path, "not a numpy file at all");
    CHECK_THROWS_WITH_AS(read_npy(path), doctest::Contains("bad magic"), Error);
    write_bytes(path, npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24));
    CHECK_THROWS_WITH_AS(read_npy(path), doctest::Contains("Fortran"), Error);
    write_bytes(path, npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", 24));
    CHECK_THROWS_WITH_AS(read_npy(path), doctest::Contains("big-endian"), Error);
    write_bytes(path, npy_bytes("{'descr': '<c8', 'fortran_order': False, 'shape': (2, 3), }", 48));
    CHECK_THROWS_WITH_AS(read_npy(path), doctest::Contains("unsupported dtype"), Error);
    write_bytes(path, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20));
    CHECK_THROWS_WITH_AS(read_npy(path), doctest::Contains("truncated"), Error);
    write_bytes(path, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4000000000, 4000000000, 9), }", 8));
    CHECK_THROWS_WITH_AS(read_npy(path), doctest::Contains("truncated"), Error);
    write_bytes(path, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999, ), }", 8));
    CHECK_THROWS_WITH_AS(read_npy(path), doctest::Contains("shape"), Error);
    write_bytes(path, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", 8));
    CHECK_THROWS_WITH_AS(read_npy(path), doctest::Contains("malformed shape"), Error);
    write_bytes(path, npy_bytes("{'descr': '<f4', 'shape': (2,), }", 8));
    CHECK_THROWS_WITH_AS(read_npy(path), doctest::Contains("malformed header"), Error);
    std::string truncated_header = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8);
    write_bytes(path, truncated_header.substr(0, 30));
    CHECK_THROWS_WITH_AS(read_npy(path), doctest::Contains("truncated in its header"), Error);
    std::remove(path.c_str());
}

TEST_CASE("write_file_atomic replaces files and cleans up") {
    const std::string path = tmp_path("atomic.bin");
    write_file_atomic(path, "hello", 5);
    write_file_atomic(path, "hi", 2);
    std::ifstream f(path, std::ios::binary);
    std::string got((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    CHECK(got == "hi");
    CHECK_FALSE(std::ifstream(path + ".tmp." + std::to_string(::getpid())).good());
    {  // an uncommitted writer leaves the old file alone and removes its temp file
        AtomicFileWriter w(path);
        w.write("zzz", 3);
    }
    std::ifstream f2(path, std::ios::binary);
    std::string got2((std::istreambuf_iterator<char>(f2)), std::istreambuf_iterator<char>());
    CHECK(got2 == "hi");
    CHECK_FALSE(std::ifstream(path + ".tmp." + std::to_string(::getpid())).good());
    CHECK_THROWS_WITH_AS(write_file_atomic("/nonexistent-dir/x.bin", "a", 1), doctest::Contains("/nonexistent-dir"),
                         Error);
    std::remove(path.c_str());
}

TEST_CASE("thread pool: coverage, exceptions, nesting") {
    const int before = get_num_threads();
    for (int threads : {1, 2, 3, 8}) {
        set_num_threads(threads);
        CHECK(get_num_threads() == threads);
        for (int64_t n : {0, 1, 7, 1000, 100003}) {
            std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
            std::atomic<int64_t> sum{0};
            parallel_for(n, 1, [&](int64_t b, int64_t e) {
                int64_t s = 0;
                for (int64_t i = b; i < e; ++i) {
                    hits[size_t(i)]++;
                    s += i;
                }
                sum += s;
            });
            CHECK(sum.load() == n * (n - 1) / 2);
            bool once = true;
            for (auto& h : hits) once = once && h.load() == 1;
            CHECK(once);
        }
        // Exceptions propagate to the caller, and the pool keeps working afterwards.
        CHECK_THROWS_WITH_AS(parallel_for(100, 1,
                                          [](int64_t b, int64_t) {
                                              if (b == 0) fail("chunk failed");
                                          }),
                             "chunk failed", Error);
        std::atomic<int> chunks{0};
        parallel_for(64, 1, [&](int64_t, int64_t) { chunks++; });
        CHECK(chunks.load() == std::min(threads, 64));
        // Nested parallel_for runs inline in the calling chunk.
        std::atomic<int64_t> total{0};
        parallel_for(8, 1, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) {
                const auto outer = std::this_thread::get_id();
                parallel_for(50, 1, [&](int64_t bb, int64_t ee) {
                    CHECK(std::this_thread::get_id() == outer);
                    total += ee - bb;
                });
            }
        });
        CHECK(total.load() == 8 * 50);
        // min_chunk keeps small loops serial.
        std::atomic<int> calls{0};
        parallel_for(10, 100, [&](int64_t b, int64_t e) {
            calls++;
            CHECK(b == 0);
            CHECK(e == 10);
        });
        CHECK(calls.load() == 1);
    }
    set_num_threads(before);
}

TEST_CASE("thread pool stress: many small jobs back to back") {
    const int before = get_num_threads();
    set_num_threads(3);
    int64_t grand = 0;
    for (int rep = 0; rep < 2000; ++rep) {
        std::atomic<int64_t> s{0};
        parallel_for(3 + rep % 5, 1, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) s += i + 1;
        });
        const int64_t n = 3 + rep % 5;
        REQUIRE(s.load() == n * (n + 1) / 2);
        grand += s.load();
    }
    CHECK(grand > 0);
    set_num_threads(before);
}

TEST_CASE("storage: large blocks are reused after release, and the cache can be emptied") {
    errseg::release_cached_memory();
    const int64_t n = (int64_t(5) << 20) / 4;  // 5 MiB of floats: a "large" block
    const void* first = nullptr;
    {
        Tensor a = Tensor::empty({n});
        first = a.raw();
    }
    auto& cache = errseg::detail::LargeBlockCache::instance();
    const char* off = std::getenv("ERRSEG_NO_BLOCK_CACHE");
    if (off && off[0] == '1') {
        CHECK(cache.cached_bytes() == 0);
        return;
    }
    CHECK(cache.cached_bytes() == (size_t(6) << 20));  // rounded up to whole 2 MiB pages
    const auto before = cache.hits_and_misses();
    {
        Tensor b = Tensor::empty({n});
        CHECK(b.raw() == first);  // the same block, no new pages from the OS
        CHECK(cache.hits_and_misses().first == before.first + 1);
        CHECK(cache.cached_bytes() == 0);
        Tensor c = Tensor::empty({n + 1024});  // same rounded size: a second block
        CHECK(c.raw() != first);
        CHECK(cache.hits_and_misses().second == before.second + 1);
    }
    CHECK(cache.cached_bytes() == (size_t(12) << 20));
    errseg::release_cached_memory();
    CHECK(cache.cached_bytes() == 0);
    // Small tensors never go through the cache.
    { Tensor s = Tensor::empty({16}); }
    CHECK(cache.cached_bytes() == 0);
}

TEST_CASE("storage: cached blocks never raise the peak; they go back to the OS first") {
    auto& cache = errseg::detail::LargeBlockCache::instance();
    errseg::release_cached_memory();
    const char* off = std::getenv("ERRSEG_NO_BLOCK_CACHE");
    if (off && off[0] == '1') return;
    const size_t mib = size_t(1) << 20;
    // A block larger than everything held so far sets a new high-water mark, then is cached.
    const size_t big = (cache.held_and_high_water().second / mib + 12) / 2 * 2 * mib;
    { Tensor a = Tensor::empty({int64_t(big / 4)}); }
    CHECK(cache.cached_bytes() == big);
    const auto [held0, high0] = cache.held_and_high_water();
    CHECK(high0 == held0);
    {
        // Another size: keeping the cached block as well would exceed the peak, so it is freed
        // before the new block is taken from the OS.
        Tensor b = Tensor::empty({int64_t((big - 6 * mib) / 4)});
        CHECK(cache.cached_bytes() == 0);
        CHECK(cache.held_and_high_water().first == held0 - 6 * mib);
        CHECK(cache.held_and_high_water().second == high0);
    }
    {
        // A smaller block fits under the peak next to the cached one: both are kept.
        Tensor c = Tensor::empty({int64_t(mib)});  // 4 MiB
        CHECK(cache.cached_bytes() == big - 6 * mib);
        CHECK(cache.held_and_high_water().second == high0);
    }
    CHECK(cache.cached_bytes() == big - 2 * mib);
    errseg::release_cached_memory();
    CHECK(cache.held_and_high_water().first == held0 - big);
}

TEST_CASE("heap usage: live tensor bytes and their peak") {
    errseg::reset_heap_peak();
    const size_t base = errseg::heap_usage().tensor_bytes;
    {
        Tensor a = Tensor::empty({1000});
        Tensor b = Tensor::empty({3, 500}, errseg::DType::I32);
        CHECK(errseg::heap_usage().tensor_bytes == base + 4000 + 6000);
    }
    CHECK(errseg::heap_usage().tensor_bytes == base);
    CHECK(errseg::heap_usage().peak_tensor_bytes == base + 10000);
    errseg::reset_heap_peak();
    CHECK(errseg::heap_usage().peak_tensor_bytes == base);
}
