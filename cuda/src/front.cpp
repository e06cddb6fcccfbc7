// The CUDA side of the run-time fronts (include/errseg/front/): the device is checked and made
// current, then the model is loaded with its weights uploaded in the requested precision.
#include <memory>

#include "errseg/cuda/cuda_backend.hpp"
#include "errseg/cuda/device.hpp"
#include "errseg/front.hpp"

namespace errseg::cuda {

namespace {
// The CI check greps "--device cuda: no usable CUDA device" (a CUDA build on a machine without a GPU).
void use_device(const Device& device) {
    const int count = cuda_device_count();
    ERRSEG_CHECK(count > 0, "--device cuda: no usable CUDA device (", cuda_unavailable_reason(), ")");
    ERRSEG_CHECK(device.index < count, "--device ", device.name(), ": there are only ", count, " CUDA device(s)");
    ERRSEG_CUDA_CHECK(cudaSetDevice(device.index));
}
}  // namespace

std::shared_ptr<const front_detail::SegmenterImpl> open_segmenter(const ModelParams& p) {
    use_device(p.device);
    PrecisionScope scope(p.precision);  // weights are uploaded in this dtype at load
    return std::make_shared<front_detail::SegmenterOn<CudaBackend>>(p.model);
}

std::shared_ptr<const front_detail::ClipImpl> open_clip(const ModelParams& p) {
    use_device(p.device);
    PrecisionScope scope(p.precision);
    return std::make_shared<front_detail::ClipFrontOn<CudaBackend>>(p.model);
}

}  // namespace errseg::cuda
