// The GPU backend of the model code: the Backend interface (include/errseg/backend/backend_ops.hpp)
// on DeviceTensors, forwarding to our kernels (errseg::cuda::ops). Host-only header; link
// errseg::cuda.
//
//   errseg::cuda::PrecisionScope fp16(errseg::DType::F16);   // weights and activations in fp16
//   auto model = errseg::models::ErrSegModelOn<errseg::cuda::CudaBackend>::load("errseg_b.safetensors");
//   auto result = model.segment(image, model.encode_classes(names));  // host results
//
// Precision: tensors are uploaded in the compute dtype current at upload time (F32 by default;
// F16 / BF16 under a PrecisionScope), so a model keeps the precision it was loaded with. Every
// kernel accumulates in fp32. Differences from the CPU backend, all in layout only: permute and
// permute_copy are dense copies, contiguous is the identity, add_ rebinds its first argument.
#pragma once
#include <cstdint>
#include <vector>

#include "../backend/backend_ops.hpp"
#include "../backend/cpu_backend.hpp"
#include "../core.hpp"
#include "../ops/conv_params.hpp"
#include "device_tensor.hpp"
#include "ops.hpp"
#include "upload.hpp"

namespace errseg::cuda {

struct CudaBackend {
    using Tensor = DeviceTensor;
    static constexpr const char* kName = "cuda";

    // concat, pad2d, linear, matmul, conv2d, conv_transpose2d, the norms, the activations,
    // clamp, scale, add, mul, mean, resize_bilinear, avg_pool2d, multi_head_self_attention:
    // errseg::cuda::ops of the same name (backend_ops.hpp).
    ERRSEG_FORWARD_BACKEND_OPS()

    // The dtype float tensors are uploaded in (this thread).
    static DType& compute_dtype() {
        thread_local DType dtype = DType::F32;
        return dtype;
    }

    static Tensor upload(const errseg::Tensor& host) {
        return to_device(host, is_float_dtype(host.dtype()) ? std::optional<DType>(compute_dtype()) : std::nullopt);
    }
    static errseg::Tensor download(const Tensor& t) {
        return to_host(t.dtype() == DType::F32 ? t : ops::cast(t, DType::F32));
    }

    // ---- layout ----
    static Tensor permute(const Tensor& x, const std::vector<int64_t>& order) { return ops::permute(x, order); }
    static Tensor permute_copy(const Tensor& x, const std::vector<int64_t>& order) { return ops::permute(x, order); }
    static Tensor contiguous(const Tensor& x) { return x; }
    static Tensor slice0(const Tensor& x, int64_t begin, int64_t end) { return x.slice0(begin, end); }
    static Tensor select0(const Tensor& x, int64_t i) { return x.select0(i); }
    static Tensor index_select(const Tensor& x, int64_t dim, const std::vector<int64_t>& idx) {
        const errseg::Tensor host_idx = errseg::Tensor::from_vector<int64_t>({int64_t(idx.size())}, idx);
        return ops::index_select(x, dim, to_device(host_idx, std::nullopt, x.stream()));
    }

    // ---- convolutions, normalisations, elementwise, attention ----
    // Channels-last depthwise conv through the NCHW kernel (two transposing copies; a
    // channels-last kernel would save them).
    static Tensor conv2d_depthwise_nhwc(const Tensor& x, const Tensor& w, const Tensor& b, int pad_h, int pad_w) {
        errseg::ops::Conv2dParams p;
        p.pad_h = pad_h;
        p.pad_w = pad_w;
        p.groups = int(x.size(3));
        return ops::permute(ops::conv2d(ops::permute(x, {0, 3, 1, 2}), w, b, p), {0, 2, 3, 1});
    }
    // x / ‖x‖ per row, no epsilon: F.normalize's x / max(‖x‖, eps) with eps = 0.
    static Tensor normalize_rows(const Tensor& x) { return ops::l2_normalize(x, 0.f); }
    static void add_(Tensor& a, const Tensor& b) { a = ops::add(a, b); }
    // Heads read in place from the token layout: no permutes.
    static Tensor attention_tokens(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads, float scale) {
        return ops::attention_tokens(q, k, v, int(heads), /*causal=*/false, scale);
    }
};
static_assert(BackendConformance<CudaBackend>::value);

// Sets the compute dtype (F32, F16 or BF16) for uploads on this thread until destroyed.
class PrecisionScope {
public:
    explicit PrecisionScope(DType dtype) : previous_(CudaBackend::compute_dtype()) {
        ERRSEG_CHECK(dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16,
                     "GPU precision must be F32, F16 or BF16, got ", dtype_name(dtype));
        CudaBackend::compute_dtype() = dtype;
    }
    ~PrecisionScope() { CudaBackend::compute_dtype() = previous_; }
    PrecisionScope(const PrecisionScope&) = delete;
    PrecisionScope& operator=(const PrecisionScope&) = delete;

private:
    DType previous_;
};

}  // namespace errseg::cuda
