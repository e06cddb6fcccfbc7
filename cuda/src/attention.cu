// Facade: attention ([B, H, L, D] and token layouts) and nn.MultiheadAttention self-attention.
#include <cmath>

#include "common.cuh"
#include "kernels/attention.cuh"

// Instantiated per dtype in attention_{f32,f16,bf16}.cu.
namespace errseg::cuda::kernels {
extern template void launch_flash_attention<float>(const AttentionParams<float>&, cudaStream_t);
extern template void launch_flash_attention<__half>(const AttentionParams<__half>&, cudaStream_t);
extern template void launch_flash_attention<__nv_bfloat16>(const AttentionParams<__nv_bfloat16>&, cudaStream_t);
}  // namespace errseg::cuda::kernels

namespace errseg::cuda::ops {

namespace {

// Strides of one operand: batch, head, sequence (elements).
struct View {
    const void* p;
    int64_t sb, sh, sl;
};

void run_attention(const View& q, const View& k, const View& v, const View& o, DType dt,
                           int B, int H, int Lq, int Lk, int D, bool causal, float scale, cudaStream_t stream) {
    const float s = scale > 0.f ? scale : 1.f / std::sqrt(float(D));
    detail::dispatch_float(dt, "attention", [&](auto tag) {
        using T = decltype(tag);
        kernels::AttentionParams<T> p{};
        p.q = static_cast<const T*>(q.p);
        p.k = static_cast<const T*>(k.p);
        p.v = static_cast<const T*>(v.p);
        p.o = static_cast<T*>(const_cast<void*>(o.p));
        p.q_sb = q.sb, p.q_sh = q.sh, p.q_sl = q.sl;
        p.k_sb = k.sb, p.k_sh = k.sh, p.k_sl = k.sl;
        p.v_sb = v.sb, p.v_sh = v.sh, p.v_sl = v.sl;
        p.o_sb = o.sb, p.o_sh = o.sh, p.o_sl = o.sl;
        p.B = B, p.H = H, p.Lq = Lq, p.Lk = Lk, p.D = D;
        p.scale = s;
        p.causal = causal;
        kernels::launch_flash_attention<T>(p, stream);
    });
    ERRSEG_CUDA_CHECK_LAUNCH();
}

}  // namespace

DeviceTensor attention(const DeviceTensor& q, const DeviceTensor& k, const DeviceTensor& v, bool causal, float scale) {
    const char* op = "attention";
    detail::check_input(q, op, "q");
    detail::check_input(k, op, "k");
    detail::check_input(v, op, "v");
    detail::check_dims(q, 4, op, "q", "[B, H, Lq, D]");
    detail::check_same_dtype(k, q.dtype(), op, "k");
    detail::check_same_dtype(v, q.dtype(), op, "v");
    const int64_t B = q.size(0), H = q.size(1), Lq = q.size(2), D = q.size(3), Lk = k.dim() == 4 ? k.size(2) : -1;
    ERRSEG_CHECK(k.shape() == Shape({B, H, Lk, D}) && v.shape() == k.shape(), op, ": k ", shape_str(k.shape()), " / v ",
                 shape_str(v.shape()), " do not match q ", shape_str(q.shape()), " (expected [", B, ", ", H, ", Lk, ", D,
                 "])");
    ERRSEG_CHECK(!causal || Lq <= Lk, op, ": causal attention needs Lq <= Lk");
    DeviceTensor out = DeviceTensor::empty(q.shape(), q.dtype(), q.stream());
    const View vq{q.data(), H * Lq * D, Lq * D, D}, vk{k.data(), H * Lk * D, Lk * D, D}, vv{v.data(), H * Lk * D, Lk * D, D};
    const View vo{out.data(), H * Lq * D, Lq * D, D};
    run_attention(vq, vk, vv, vo, q.dtype(), int(B), int(H), int(Lq), int(Lk), int(D), causal, scale, q.stream());
    return out;
}

DeviceTensor attention_tokens(const DeviceTensor& q, const DeviceTensor& k, const DeviceTensor& v, int heads,
                              bool causal, float scale) {
    const char* op = "attention_tokens";
    detail::check_input(q, op, "q");
    detail::check_input(k, op, "k");
    detail::check_input(v, op, "v");
    detail::check_dims(q, 3, op, "q", "[B, Lq, H*D]");
    detail::check_same_dtype(k, q.dtype(), op, "k");
    detail::check_same_dtype(v, q.dtype(), op, "v");
    const int64_t B = q.size(0), Lq = q.size(1), E = q.size(2), Lk = k.dim() == 3 ? k.size(1) : -1;
    ERRSEG_CHECK(heads > 0 && E % heads == 0, op, ": width ", E, " not divisible into ", heads, " heads");
    ERRSEG_CHECK(k.shape() == Shape({B, Lk, E}) && v.shape() == k.shape(), op, ": k ", shape_str(k.shape()), " / v ",
                 shape_str(v.shape()), " do not match q ", shape_str(q.shape()));
    ERRSEG_CHECK(!causal || Lq <= Lk, op, ": causal attention needs Lq <= Lk");
    const int64_t D = E / heads;
    DeviceTensor out = DeviceTensor::empty(q.shape(), q.dtype(), q.stream());
    const View vq{q.data(), Lq * E, D, E}, vk{k.data(), Lk * E, D, E}, vv{v.data(), Lk * E, D, E};
    const View vo{out.data(), Lq * E, D, E};
    run_attention(vq, vk, vv, vo, q.dtype(), int(B), heads, int(Lq), int(Lk), int(D), causal, scale, q.stream());
    return out;
}

DeviceTensor multi_head_self_attention(const DeviceTensor& x, const DeviceTensor& in_proj_weight,
                                       const DeviceTensor& in_proj_bias, const DeviceTensor& out_proj_weight,
                                       const DeviceTensor& out_proj_bias, int heads, bool causal) {
    const char* op = "multi_head_self_attention";
    detail::check_input(x, op, "x");
    detail::check_dims(x, 3, op, "x", "[B, L, E]");
    const int64_t B = x.size(0), L = x.size(1), E = x.size(2);
    ERRSEG_CHECK(in_proj_weight.shape() == Shape({3 * E, E}), op, ": in_proj_weight ", shape_str(in_proj_weight.shape()),
                 ", expected [", 3 * E, ", ", E, "]");
    ERRSEG_CHECK(heads > 0 && E % heads == 0, op, ": width ", E, " not divisible into ", heads, " heads");
    // Packed projection [B, L, 3E]: q, k, v are column slabs read in place through strides.
    const DeviceTensor qkv = linear(x, in_proj_weight, in_proj_bias);
    const int64_t D = E / heads;
    const size_t es = dtype_size(x.dtype());
    const uint8_t* base = static_cast<const uint8_t*>(qkv.data());
    const View vq{base, L * 3 * E, D, 3 * E}, vk{base + size_t(E) * es, L * 3 * E, D, 3 * E},
        vv{base + size_t(2 * E) * es, L * 3 * E, D, 3 * E};
    DeviceTensor ctx = DeviceTensor::empty({B, L, E}, x.dtype(), x.stream());
    const View vo{ctx.data(), L * E, D, E};
    run_attention(vq, vk, vv, vo, x.dtype(), int(B), heads, int(L), int(L), int(D), causal, 0.f, x.stream());
    return linear(ctx, out_proj_weight, out_proj_bias);
}

}  // namespace errseg::cuda::ops
