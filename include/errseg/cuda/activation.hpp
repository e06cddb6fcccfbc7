// The GPU kernels fuse errseg::Activation (core/activation.hpp) into their epilogues.
#pragma once
#include "../core/activation.hpp"

namespace errseg::cuda {
using errseg::Activation;
using errseg::activation_name;
}  // namespace errseg::cuda
