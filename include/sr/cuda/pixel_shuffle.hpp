#pragma once
// Pixel shuffle kernels of the CUDA backend (kernels/pixel_shuffle.cu), TensorFlow depth_to_space
// order; see sr/ops/pixel_shuffle.hpp for the contract. Device pointers, NHWC, contiguous.
#include <cstdint>

namespace sr::cuda {

// in [N, H, W, C*s*s] -> out [N, H*s, W*s, C]
void pixel_shuffle_forward(const float* in, float* out, int64_t n, int64_t h, int64_t w, int64_t c, int scale);
// in [N, H*s, W*s, C] -> out [N, H, W, C*s*s] (the inverse, also the backward of the forward)
void pixel_unshuffle_forward(const float* in, float* out, int64_t n, int64_t h, int64_t w, int64_t c, int scale);

}  // namespace sr::cuda
