// errseg::Clip: a CLIP model (text and image towers, tokenizer) with the device chosen at run
// time (params.hpp); models::ClipOn<B> underneath. Inputs and results are host tensors.
//
//   errseg::Clip clip({"model.safetensors", errseg::Device::parse("cuda")});
//   Tensor t = clip.encode_text({"a photo of a cat"});                                  // [T, E]
//   Tensor i = clip.encode_image(models::clip_preprocess(load_image(p), clip.image_size()));  // [N, E]
//
// ViT image towers run on the CPU only for now (a CUDA device refuses them at open).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "../models/clip.hpp"
#include "params.hpp"

namespace errseg {

namespace front_detail {

class ClipImpl {
public:
    virtual ~ClipImpl() = default;
    virtual Tensor encode_text(const std::vector<std::string>& texts) const = 0;
    virtual Tensor encode_image(const Tensor& preprocessed) const = 0;
    virtual float logit_scale() const = 0;
    virtual int64_t image_size() const = 0;
    virtual const text::ClipTokenizer* tokenizer() const = 0;
};

template <class B>
class ClipFrontOn final : public ClipImpl {
public:
    // cpu_precision: as SegmenterOn's (segmenter.hpp).
    explicit ClipFrontOn(const std::string& path, DType cpu_precision = DType::F32)
        : clip_(models::ClipOn<B>::load(path)), cpu_precision_(cpu_precision) {}
    Tensor encode_text(const std::vector<std::string>& texts) const override {
        CpuPrecisionScope scope(cpu_precision_);
        return clip_.encode_text(texts);
    }
    Tensor encode_image(const Tensor& preprocessed) const override {
        CpuPrecisionScope scope(cpu_precision_);
        return clip_.encode_image(preprocessed);
    }
    float logit_scale() const override { return clip_.logit_scale(); }
    int64_t image_size() const override { return clip_.image_size(); }
    const text::ClipTokenizer* tokenizer() const override { return clip_.tokenizer(); }

private:
    models::ClipOn<B> clip_;
    DType cpu_precision_;
};

}  // namespace front_detail
ERRSEG_CPU_INSTANCE(class front_detail::ClipFrontOn<CpuBackend>)

#if defined(ERRSEG_WITH_CUDA)
namespace cuda {
// In errseg::cuda (cuda/src/front.cpp): checks the device, loads the towers in p.precision.
std::shared_ptr<const front_detail::ClipImpl> open_clip(const ModelParams& p);
}  // namespace cuda
#endif

class Clip {
public:
    explicit Clip(const ModelParams& p) : device_(p.device), precision_(p.precision), impl_(open(p)) {}

    const Device& device() const { return device_; }
    DType precision() const { return precision_; }
    // Tokenised with the file's CLIP BPE; [T, E], not normalised.
    Tensor encode_text(const std::vector<std::string>& texts) const { return impl_->encode_text(texts); }
    // Preprocessed images [N, 3, S, S] (models::clip_preprocess) -> [N, E], not normalised.
    Tensor encode_image(const Tensor& preprocessed) const { return impl_->encode_image(preprocessed); }
    float logit_scale() const { return impl_->logit_scale(); }
    int64_t image_size() const { return impl_->image_size(); }
    // The model file's CLIP BPE tokenizer; null when the file carries no merges.
    const text::ClipTokenizer* tokenizer() const { return impl_->tokenizer(); }

private:
    static std::shared_ptr<const front_detail::ClipImpl> open(const ModelParams& p) {
        p.apply();
        if (p.device.is_cpu()) return std::make_shared<front_detail::ClipFrontOn<CpuBackend>>(p.model, p.precision);
#if defined(ERRSEG_WITH_CUDA)
        return cuda::open_clip(p);
#else
        fail_no_cuda_backend();
#endif
    }

    Device device_;
    DType precision_;
    std::shared_ptr<const front_detail::ClipImpl> impl_;
};

}  // namespace errseg
