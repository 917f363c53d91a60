#pragma once
// Reductions and losses of the CUDA backend (kernels/loss.cu). Device pointers; results are
// written to a one-element device buffer so no host synchronisation is needed.
#include <cstdint>

namespace sr::cuda {

// *out = sum(x) * factor
void sum(const float* x, int64_t count, float factor, float* out);
// grad_x[i] = *grad_out * factor (the backward of sum/mean)
void fill_from_scalar(const float* grad_out, float factor, float* grad_x, int64_t count);
// *out = mean(|a - b|)
void l1_loss_forward(const float* a, const float* b, int64_t count, float* out);
// grad_a = sign(a - b) * (*grad_out) / count
void l1_loss_backward(const float* a, const float* b, const float* grad_out, int64_t count, float* grad_a);
// *out = mean((a - b)^2)
void mse_loss_forward(const float* a, const float* b, int64_t count, float* out);
// grad_a = 2 (a - b) * (*grad_out) / count
void mse_loss_backward(const float* a, const float* b, const float* grad_out, int64_t count, float* grad_a);

}  // namespace sr::cuda
