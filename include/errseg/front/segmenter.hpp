// errseg::Segmenter: ERR-Seg with the device chosen at run time (params.hpp). Underneath it is an
// ErrSegModelOn<B> for the backend the device needs; inputs and results are host data whatever
// the device, exactly as ErrSegModelOn<B>'s.
//
//   errseg::Segmenter seg({"errseg_b.safetensors", errseg::Device::parse(device_flag)});
//   auto result = seg.segment(errseg::load_image("room.png"), seg.encode_classes({"wall", "floor"}));
//
// A build without the CUDA backend refuses a CUDA device (fail_no_cuda_backend); a CUDA build
// (programs linking errseg::cuda, which defines ERRSEG_WITH_CUDA) checks the device at open.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "../core/cpu_instances.hpp"
#include "../models/errseg/errseg_model.hpp"
#include "params.hpp"

namespace errseg {

namespace front_detail {

class SegmenterImpl {
public:
    virtual ~SegmenterImpl() = default;
    virtual const models::ErrSegConfig& config() const = 0;
    virtual const text::ClipTokenizer& tokenizer() const = 0;
    virtual Tensor encode_classes(const std::vector<std::string>& class_names) const = 0;
    virtual std::vector<models::SegmentResult> segment_batch(const std::vector<const Image*>& images,
                                                             const Tensor& class_embeddings,
                                                             const models::SegmentOptions& opt) const = 0;
};

template <class B>
class SegmenterOn final : public SegmenterImpl {
public:
    // cpu_precision: the CPU GEMMs' precision during every call (CpuPrecisionScope); F32 on
    // other backends, whose host work stays fp32.
    explicit SegmenterOn(const std::string& path, DType cpu_precision = DType::F32)
        : model_(models::ErrSegModelOn<B>::load(path)), cpu_precision_(cpu_precision) {}
    const models::ErrSegConfig& config() const override { return model_.config(); }
    const text::ClipTokenizer& tokenizer() const override { return model_.tokenizer(); }
    Tensor encode_classes(const std::vector<std::string>& class_names) const override {
        CpuPrecisionScope scope(cpu_precision_);
        return model_.encode_classes(class_names);
    }
    std::vector<models::SegmentResult> segment_batch(const std::vector<const Image*>& images,
                                                     const Tensor& class_embeddings,
                                                     const models::SegmentOptions& opt) const override {
        CpuPrecisionScope scope(cpu_precision_);
        return model_.segment_batch(images, class_embeddings, opt);
    }

private:
    models::ErrSegModelOn<B> model_;
    DType cpu_precision_;
};

}  // namespace front_detail
ERRSEG_CPU_INSTANCE(class front_detail::SegmenterOn<CpuBackend>)

#if defined(ERRSEG_WITH_CUDA)
namespace cuda {
// In errseg::cuda (cuda/src/front.cpp): checks the device, loads the model in p.precision.
std::shared_ptr<const front_detail::SegmenterImpl> open_segmenter(const ModelParams& p);
}  // namespace cuda
#endif

class Segmenter {
public:
    explicit Segmenter(const ModelParams& p) : device_(p.device), precision_(p.precision), impl_(open(p)) {}

    const Device& device() const { return device_; }
    // What the networks compute in: F32, or F16 / BF16 (fp32 accumulation).
    DType precision() const { return precision_; }
    const models::ErrSegConfig& config() const { return impl_->config(); }
    // The model file's CLIP BPE tokenizer (the one encode_classes uses).
    const text::ClipTokenizer& tokenizer() const { return impl_->tokenizer(); }
    // L2-normalised prompt embeddings [T, E] of a vocabulary (host; cached per vocabulary).
    Tensor encode_classes(const std::vector<std::string>& class_names) const {
        return impl_->encode_classes(class_names);
    }
    models::SegmentResult segment(const Image& image, const Tensor& class_embeddings,
                                  const models::SegmentOptions& opt = {}) const {
        return std::move(segment_batch({&image}, class_embeddings, opt).front());
    }
    // The image encoder once on all images, the head per image (ErrSegModelOn::segment_batch).
    std::vector<models::SegmentResult> segment_batch(const std::vector<const Image*>& images,
                                                     const Tensor& class_embeddings,
                                                     const models::SegmentOptions& opt = {}) const {
        return impl_->segment_batch(images, class_embeddings, opt);
    }

private:
    static std::shared_ptr<const front_detail::SegmenterImpl> open(const ModelParams& p) {
        p.apply();
        if (p.device.is_cpu()) return std::make_shared<front_detail::SegmenterOn<CpuBackend>>(p.model, p.precision);
#if defined(ERRSEG_WITH_CUDA)
        return cuda::open_segmenter(p);
#else
        fail_no_cuda_backend();
#endif
    }

    Device device_;
    DType precision_;
    std::shared_ptr<const front_detail::SegmenterImpl> impl_;
};

}  // namespace errseg
