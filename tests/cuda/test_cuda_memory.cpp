// Device memory: allocator size classes and reuse, DeviceTensor views, uploads with dtype
// conversion, pinned staging, error reporting.
#include "cuda_test_util.hpp"

using namespace cuda_test;
namespace ec = errseg::cuda;

TEST_CASE("size classes are 256-aligned, monotone and waste at most 25%") {
    size_t prev = 0;
    for (size_t n : {size_t(1), size_t(255), size_t(256), size_t(257), size_t(1000), size_t(4097),
                     size_t(1) << 20, (size_t(1) << 20) + 1, size_t(123456789)}) {
        const size_t c = ec::DeviceAllocator::size_class(n);
        CHECK(c >= n);
        CHECK(c % 256 == 0);
        CHECK(c >= prev);
        if (n > 256) CHECK(double(c) <= 1.25 * double(n) + 256);
        prev = c;
    }
}

TEST_CASE("freed blocks are reused on the same stream") {
    auto& a = ec::DeviceAllocator::instance();
    if (!a.caching()) return;  // ERRSEG_CUDA_NO_CACHE set
    const auto s0 = a.stats();
    void* p1 = nullptr;
    {
        DeviceTensor t = DeviceTensor::empty({1000, 3}, DType::F32);
        p1 = t.data();
    }
    DeviceTensor u = DeviceTensor::empty({3000}, DType::F32);  // same size class
    CHECK(u.data() == p1);
    const auto s1 = a.stats();
    CHECK(s1.cache_hits >= s0.cache_hits + 1);
    CHECK(s1.bytes_in_use >= 12000);
    CHECK(s1.peak_bytes_in_use >= s1.bytes_in_use);
}

TEST_CASE("upload / download round trip with dtype conversion") {
    const Tensor x = rand_tensor({3, 5, 7}, 1, -4.f, 4.f);
    for (DType dt : float_types()) {
        const Tensor back = down(up(x, dt));
        check_close(back, quantize(x, dt), {0, 0}, "round trip " + dtype_label(dt));
    }
    // Non-contiguous host input (a transpose) and a large tensor that needs several chunks.
    const Tensor xt = x.transpose(0, 2);
    check_close(down(up(xt, DType::F32)), xt.contiguous(), {0, 0}, "transposed host tensor");
    const Tensor big = rand_tensor({3, 1 << 20}, 2);
    ec::Uploader uploader(ec::current_stream(), 1 << 20);  // 1 MiB chunks -> 12+ chunks
    DeviceTensor dbig = uploader.upload(big, DType::F16);
    uploader.finish();
    check_close(down(dbig), quantize(big, DType::F16), {0, 0}, "chunked upload");
    // Integer tensors keep their values.
    const Tensor ints = Tensor::from_vector<int64_t>({4}, {1, -2, 3, 1LL << 40});
    const Tensor ib = ec::to_host(ec::to_device(ints));
    CHECK(ib.dtype() == DType::I64);
    CHECK(ib.data<int64_t>()[3] == (1LL << 40));
}

TEST_CASE("upload_weights converts float tensors only") {
    std::vector<std::pair<std::string, Tensor>> named{{"w", rand_tensor({4, 4}, 3)},
                                                      {"ids", Tensor::from_vector<int32_t>({2}, {7, 9})}};
    auto dev = ec::upload_weights(named, DType::BF16);
    CHECK(dev.at("w").dtype() == DType::BF16);
    CHECK(dev.at("ids").dtype() == DType::I32);
}

TEST_CASE("views share the block") {
    const Tensor x = rand_tensor({4, 6}, 4);
    DeviceTensor d = up(x, DType::F32);
    DeviceTensor r = d.reshape({2, -1});
    CHECK(r.shape() == Shape{2, 12});
    CHECK(r.data() == d.data());
    check_close(down(d.select0(2)), x.select(0, 2).contiguous(), {0, 0}, "select0");
    check_close(down(d.slice0(1, 3)), x.slice(0, 1, 3).contiguous(), {0, 0}, "slice0");
    CHECK_THROWS_AS(d.reshape({5, 5}), errseg::Error);
}

TEST_CASE("CUDA errors become errseg::Error with the call and location") {
    try {
        ERRSEG_CUDA_CHECK(cudaSetDevice(10000));
        FAIL("expected an exception");
    } catch (const errseg::Error& e) {
        const std::string msg = e.what();
        CHECK(msg.find("cudaSetDevice") != std::string::npos);
        CHECK(msg.find("test_cuda_memory.cpp") != std::string::npos);
    }
}

TEST_CASE("pinned buffers") {
    ec::PinnedBuffer b(1000);
    CHECK(b.bytes() >= 1000);
    b.reserve(10);
    CHECK(b.bytes() >= 1000);
    ec::PinnedBuffer c = std::move(b);
    CHECK(c.data() != nullptr);
    CHECK(b.data() == nullptr);
}
