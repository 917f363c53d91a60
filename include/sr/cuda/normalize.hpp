#pragma once
// Input normalisation kernels of the CUDA backend (kernels/elementwise.cu). NHWC with 3 channels,
// `pixels` = N*H*W. See sr/ops/normalize.hpp for the formulas.
#include <cstdint>

namespace sr::cuda {

// y = (x - mean255[c]) / divisor
void normalize_rgb(const float* x, float* y, int64_t pixels, const float mean255[3], float divisor);
// y = x * divisor + mean255[c]
void denormalize_rgb(const float* x, float* y, int64_t pixels, const float mean255[3], float divisor);

}  // namespace sr::cuda
