// Activations that kernels can fuse into their epilogues (GEMM, conv, group norm) or apply
// elementwise. Same definitions as errseg::ops (PyTorch): gelu is the exact erf form.
#pragma once

namespace errseg::cuda {

enum class Activation : int {
    None = 0,
    Gelu,       // 0.5 x (1 + erf(x / sqrt 2))
    QuickGelu,  // x * sigmoid(1.702 x)
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

}  // namespace errseg::cuda
