// The compiled part of errseg::errseg: the CPU instantiations of the model templates (and,
// through them, the CPU kernels), compiled once with our optimisation flags. Every model header
// marks its CpuBackend instantiations with ERRSEG_CPU_INSTANCE (core/cpu_instances.hpp): here
// they are explicit instantiation definitions; in programs linking the library, `extern template`.
#define ERRSEG_BUILDING_LIB
#include "errseg/errseg.hpp"
