#pragma once
// Weight normalisation kernels of the CUDA backend (kernels/weight_norm.cu); see
// sr/ops/weight_norm.hpp for the contract. v and w are [rows, row_size] (one row per output
// channel), g and norms [rows]. Device pointers, enqueued on the compute stream.
#include <cstdint>

namespace sr::cuda {

// v's full shape, for the error message only.
struct WeightShape {
    int rank = 0;
    int64_t dims[6] = {};
};

// A row of v whose norm is not positive (all zeros, or NaN) makes the CPU op throw. Here the kernel
// records it as a deferred device error (sr/cuda/memory.hpp) that the next synchronising call
// raises as the CPU's sr::Error, naming the row and v_shape; w is then undefined.
void weight_norm_forward(const float* v, const float* g, int64_t rows, int64_t row_size, float* w, float* norms,
                         const WeightShape& v_shape);
void weight_norm_backward(const float* v, const float* g, const float* norms, const float* grad_w, int64_t rows,
                          int64_t row_size, float* grad_v, float* grad_g);

}  // namespace sr::cuda
