// What a run-time front (errseg::Segmenter, errseg::Clip) is made from, in the manner of
// whisper.h's context params: the model file, the device, the precision and the CPU threads.
// The device is chosen at run time; the model templates (ErrSegModelOn<B>, ...) stay the
// implementation underneath.
//
//   errseg::ModelParams p{"errseg_b.safetensors", errseg::Device::parse("cuda:0"), errseg::DType::F16};
//   errseg::Segmenter seg(p);
#pragma once
#include <string>

#include "../core/cpu_precision.hpp"
#include "../core/dtype.hpp"
#include "../core/error.hpp"
#include "../core/parallel.hpp"

namespace errseg {

// Whether this program links the CUDA backend (errseg::cuda defines ERRSEG_WITH_CUDA).
constexpr bool cuda_backend_compiled() {
#if defined(ERRSEG_WITH_CUDA)
    return true;
#else
    return false;
#endif
}

// The one refusal of a build without the CUDA backend.
[[noreturn]] inline void fail_no_cuda_backend() {
    fail("--device cuda: this errseg was built without the CUDA backend (configure with -DERRSEG_CUDA=ON)");
}

struct Device {
    enum class Kind { Cpu, Cuda };
    Kind kind = Kind::Cpu;
    int index = 0;  // the CUDA device ordinal

    // "cpu", "cuda" (device 0) or "cuda:N".
    static Device parse(const std::string& text) {
        if (text == "cpu") return {};
        if (text == "cuda") return {Kind::Cuda, 0};
        if (text.rfind("cuda:", 0) == 0 && text.size() > 5 && text.size() <= 8 &&
            text.find_first_not_of("0123456789", 5) == std::string::npos)
            return {Kind::Cuda, std::stoi(text.substr(5))};
        fail("--device must be cpu, cuda or cuda:N, got '", text, "'");
    }
    bool is_cpu() const { return kind == Kind::Cpu; }
    std::string name() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }
};

// "fp32", "fp16" or "bf16" -> F32, F16, BF16.
inline DType parse_precision(const std::string& text) {
    if (text == "fp32") return DType::F32;
    if (text == "fp16") return DType::F16;
    if (text == "bf16") return DType::BF16;
    fail("--precision must be fp32, fp16 or bf16, got '", text, "'");
}

struct ModelParams {
    std::string model;              // converted .safetensors file
    Device device;                  // where the networks run
    DType precision = DType::F32;   // GPU: F32/F16/BF16 weights and activations; CPU: F32, or BF16
                                    // GEMMs where the CPU has AVX512-BF16 (fp32 accumulation)
    int threads = 0;                // CPU threads (host work on the GPU too); 0: leave as is

    // Refuses what this program cannot do before any file is read (a CUDA device in a build
    // without the CUDA backend, fp16 on the CPU, bf16 on a CPU without AVX512-BF16); sets the
    // thread count. Whether the CUDA
    // device exists is checked when a front opens it.
    void apply() const {
        if (!device.is_cpu() && !cuda_backend_compiled()) fail_no_cuda_backend();
        ERRSEG_CHECK(precision == DType::F32 || precision == DType::F16 || precision == DType::BF16,
                     "precision must be fp32, fp16 or bf16, got ", dtype_name(precision));
        if (device.is_cpu()) check_cpu_precision(precision);
        if (threads > 0) set_num_threads(threads);
    }
    const char* precision_name() const {
        return precision == DType::F16 ? "fp16" : precision == DType::BF16 ? "bf16" : "fp32";
    }
};


}  // namespace errseg
