// The Adam update (declared in sr/cuda/adam.hpp). CPU twin: sr/optim/adam.hpp.
#include "check.cuh"
#include "stream.cuh"
#include "sr/cuda/adam.hpp"

namespace sr::cuda {

namespace {

struct AdamParams {
    float* param;
    const float* grad;
    float* exp_avg;
    float* exp_avg_sq;
    int64_t count;
    AdamStep step;
};

__global__ void adam_kernel(AdamParams p) {
    const float step_size = p.step.learning_rate / p.step.bias_correction1;
    const float inv_sqrt_bc2 = rsqrtf(p.step.bias_correction2);
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < p.count; i += int64_t(blockDim.x) * gridDim.x) {
        const float g = p.grad[i];
        const float m = p.step.beta1 * p.exp_avg[i] + (1.f - p.step.beta1) * g;
        const float v = p.step.beta2 * p.exp_avg_sq[i] + (1.f - p.step.beta2) * g * g;
        p.exp_avg[i] = m;
        p.exp_avg_sq[i] = v;
        p.param[i] -= step_size * m / (sqrtf(v) * inv_sqrt_bc2 + p.step.epsilon);
    }
}

}  // namespace

void adam_step(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, int64_t count, AdamStep step) {
    if (count == 0) return;
    adam_kernel<<<detail::grid_for(count), detail::k_block, 0, detail::compute_stream()>>>({param, grad, exp_avg, exp_avg_sq, count, step});
    detail::check_launch("adam_kernel", count);
}

}  // namespace sr::cuda
