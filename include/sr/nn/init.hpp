#pragma once
// Parameter initialisation, matching the official PyTorch code (torch.nn.Conv2d.reset_parameters):
// weights Kaiming-uniform with a = sqrt(5), which reduces to U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
// and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)); fan_in = in_channels * k * k.
#include <cmath>

#include "sr/core/rng.hpp"
#include "sr/core/tensor.hpp"

namespace sr::nn {

// A CPU tensor of the given shape filled with U(-bound, bound).
template <class T>
Tensor<T, Cpu> uniform_tensor(const Shape& shape, double bound, Rng& rng) {
    auto t = Tensor<T, Cpu>::empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<T>(rng.uniform(-bound, bound));
    return t;
}

// Kaiming-uniform with negative slope a: bound = sqrt(6 / ((1 + a^2) * fan_in)).
inline double kaiming_uniform_bound(int64_t fan_in, double a = std::sqrt(5.0)) {
    return std::sqrt(6.0 / ((1.0 + a * a) * static_cast<double>(fan_in)));
}

}  // namespace sr::nn
