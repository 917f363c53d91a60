#pragma once
// The Adam update of the CUDA backend (kernels/adam.cu); see sr/optim/adam.hpp for the formula.
// All pointers are device pointers to `count` floats, updated in place.
#include <cstdint>

namespace sr::cuda {

struct AdamStep {
    float learning_rate, beta1, beta2, epsilon;
    float bias_correction1, bias_correction2;  // 1 - beta1^t, 1 - beta2^t
};

void adam_step(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, int64_t count, AdamStep step);

}  // namespace sr::cuda
