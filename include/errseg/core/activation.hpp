// The activations ops apply or fuse into their epilogues, on every backend (errseg::ops::activation,
// the CUDA GEMM / conv / group-norm epilogues, the CLIP config's MLP activation). Definitions
// are PyTorch's: gelu is the exact erf form.
#pragma once
#include <string>

#include "error.hpp"

namespace errseg {

enum class Activation : int {
    None = 0,
    Gelu,       // 0.5 x (1 + erf(x / sqrt 2))
    QuickGelu,  // x * sigmoid(1.702 x) (OpenAI CLIP)
    Relu,
    Relu6,      // min(max(x, 0), 6)
    Sigmoid,
};

inline const char* activation_name(Activation a) {
    switch (a) {
        case Activation::None: return "none";
        case Activation::Gelu: return "gelu";
        case Activation::QuickGelu: return "quick_gelu";
        case Activation::Relu: return "relu";
        case Activation::Relu6: return "relu6";
        case Activation::Sigmoid: return "sigmoid";
    }
    return "?";
}

}  // namespace errseg
