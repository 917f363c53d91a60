#pragma once
// Weight normalisation kernels of the CUDA backend (kernels/weight_norm.cu); see
// sr/ops/weight_norm.hpp for the contract. v and w are [rows, row_size] (one row per output
// channel), g and norms [rows]. Device pointers.
#include <cstdint>

namespace sr::cuda {

void weight_norm_forward(const float* v, const float* g, int64_t rows, int64_t row_size, float* w, float* norms);
void weight_norm_backward(const float* v, const float* g, const float* norms, const float* grad_w, int64_t rows,
                          int64_t row_size, float* grad_v, float* grad_g);

}  // namespace sr::cuda
