// A program outside the errseg tree: proves the package is usable as a dependency.
#include <cmath>
#include <cstdio>

#include <errseg/errseg.hpp>

int main() {
    using namespace errseg;
    Tensor x = Tensor::from_vector<float>({1, 3}, {1.f, 2.f, 3.f});
    Tensor w = Tensor::from_vector<float>({2, 3}, {1.f, 0.f, 0.f, 0.f, 1.f, 1.f});
    Tensor y = ops::linear(x, w);
    const float* p = y.data<float>();
    if (std::fabs(p[0] - 1.f) > 1e-6f || std::fabs(p[1] - 5.f) > 1e-6f) {
        std::printf("consumer: wrong result %f %f\n", p[0], p[1]);
        return 1;
    }
    std::printf("consumer: errseg works (%f, %f)\n", p[0], p[1]);
    return 0;
}
