#pragma once
// Elementwise kernels of the CUDA backend (kernels/elementwise.cu). Pointers are device pointers to
// `count` contiguous floats; every call is asynchronous on the compute stream (sr/cuda/memory.hpp).
#include <cstdint>

namespace sr::cuda {

void add(const float* a, const float* b, float* out, int64_t count);                    // out = a + b
void add_scaled(const float* a, const float* b, float alpha, float* out, int64_t count);  // out = a + alpha*b
void scale(const float* x, float alpha, float* out, int64_t count);                     // out = alpha*x
void multiply(const float* a, const float* b, float* out, int64_t count);               // out = a*b
void relu_forward(const float* x, float* y, int64_t count);                             // y = max(x, 0)
void relu_backward(const float* x, const float* grad_y, float* grad_x, int64_t count);  // grad_x = grad_y*(x>0)

}  // namespace sr::cuda
