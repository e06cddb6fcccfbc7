// Facade: gemm / matmul / linear on DeviceTensors. The kernels are instantiated once per dtype
// in gemm_f32.cu / gemm_f16.cu / gemm_bf16.cu (parallel, smaller translation units).
#include "common.cuh"
#include "kernels/gemm.cuh"

namespace errseg::cuda::kernels {
extern template void launch_gemm<float>(const GemmArgs&, cudaStream_t);
extern template void launch_gemm<__half>(const GemmArgs&, cudaStream_t);
extern template void launch_gemm<__nv_bfloat16>(const GemmArgs&, cudaStream_t);
}  // namespace errseg::cuda::kernels

namespace errseg::cuda::ops {

void gemm(const GemmArgs& args, DType dtype, cudaStream_t stream) {
    detail::dispatch_float(dtype, "gemm", [&](auto tag) {
        using T = decltype(tag);
        kernels::launch_gemm<T>(args, stream);
    });
}

DeviceTensor matmul(const DeviceTensor& a, const DeviceTensor& b, bool trans_b) {
    const char* op = "matmul";
    detail::check_input(a, op, "a");
    detail::check_input(b, op, "b");
    detail::check_same_dtype(b, a.dtype(), op, "b");
    ERRSEG_CHECK(a.dim() >= 2 && b.dim() >= 2, op, ": operands must be at least 2-d, got ", shape_str(a.shape()),
                 " and ", shape_str(b.shape()));
    const int64_t M = a.size(-2), K = a.size(-1);
    const int64_t bK = trans_b ? b.size(-1) : b.size(-2), N = trans_b ? b.size(-2) : b.size(-1);
    ERRSEG_CHECK(bK == K, op, ": inner dimensions differ: a ", shape_str(a.shape()), ", b ", shape_str(b.shape()),
                 trans_b ? " (trans_b)" : "");
    Shape lead(a.shape().begin(), a.shape().end() - 2);
    const int64_t batch = shape_numel(lead);
    const bool shared_b = b.dim() == 2;
    if (!shared_b)
        ERRSEG_CHECK(Shape(b.shape().begin(), b.shape().end() - 2) == lead, op, ": batch dims differ: a ",
                     shape_str(a.shape()), ", b ", shape_str(b.shape()));
    Shape out_shape = lead;
    out_shape.push_back(M);
    out_shape.push_back(N);
    DeviceTensor out = DeviceTensor::empty(out_shape, a.dtype(), a.stream());
    GemmArgs g;
    // A shared B lets the batch fold into M: one larger GEMM instead of many small ones.
    g.M = shared_b ? batch * M : M;
    g.N = N;
    g.K = K;
    g.batch = shared_b ? 1 : batch;
    g.a = a.data();
    g.lda = K;
    g.batch_stride_a = M * K;
    g.b = b.data();
    g.ldb = trans_b ? K : N;
    g.batch_stride_b = shared_b ? 0 : K * N;
    g.trans_b = trans_b;
    g.c = out.data();
    g.ldc = N;
    g.batch_stride_c = M * N;
    gemm(g, a.dtype(), a.stream());
    return out;
}

DeviceTensor linear(const DeviceTensor& x, const DeviceTensor& weight, const DeviceTensor& bias, Activation act,
                    const DeviceTensor& residual) {
    const char* op = "linear";
    detail::check_input(x, op, "x");
    detail::check_input(weight, op, "weight");
    detail::check_same_dtype(weight, x.dtype(), op, "weight");
    ERRSEG_CHECK(weight.dim() == 2 && x.dim() >= 1 && x.size(-1) == weight.size(1), op, ": x ", shape_str(x.shape()),
                 " does not match weight ", shape_str(weight.shape()), " ([out, in])");
    const int64_t in = weight.size(1), outf = weight.size(0);
    const int64_t rows = in ? x.numel() / in : 0;
    Shape out_shape = x.shape();
    out_shape.back() = outf;
    if (bias.defined()) {
        ERRSEG_CHECK(bias.numel() == outf && bias.dim() <= 1, op, ": bias ", shape_str(bias.shape()), ", expected [",
                     outf, "]");
        detail::check_same_dtype(bias, x.dtype(), op, "bias");
    }
    const detail::Residual res = detail::optional_residual(residual, out_shape, x.dtype(), op);
    DeviceTensor out = DeviceTensor::empty(out_shape, x.dtype(), x.stream());
    GemmArgs g;
    g.M = rows;
    g.N = outf;
    g.K = in;
    g.a = x.data();
    g.lda = in;
    g.b = weight.data();
    g.ldb = in;
    g.trans_b = true;
    g.c = out.data();
    g.ldc = outf;
    if (bias.defined()) {
        g.bias = bias.data();
        g.bias_mode = BiasMode::PerColumn;
    }
    if (res.data) {
        g.residual = res.data;
        g.ldr = outf;
        // A residual repeating every `period` values: one GEMM per repetition, the residual shared.
        const int64_t rows_per = res.period / std::max<int64_t>(outf, 1);
        if (rows_per > 0 && rows_per < rows) {
            g.M = rows_per;
            g.batch = rows / rows_per;
            g.batch_stride_a = rows_per * in;
            g.batch_stride_c = rows_per * outf;
            g.batch_stride_r = 0;
        }
    }
    g.act = act;
    gemm(g, x.dtype(), x.stream());
    return out;
}

}  // namespace errseg::cuda::ops
