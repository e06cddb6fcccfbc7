// errseg_cuda_tests (tests/cuda/CMakeLists.txt) is all of errseg::cuda linked into one shared
// library, so the GPU test programs share one copy of the kernels. A library needs a source of
// its own: this one.
namespace errseg::cuda::tests {
int shared_kernels_library = 1;
}  // namespace errseg::cuda::tests
