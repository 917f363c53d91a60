#pragma once
// WDSR-B's 1x1 pair fused on the CPU: y = relu(x · we^T + be) · wr^T + br for every pixel, the
// wide activation computed a tile of pixels at a time and never written to memory.
//
//   x:  [P, C]       P pixels (N*H*W of an NHWC tensor), C channels, contiguous
//   we: [W, C]       the expanding 1x1 convolution's OHWI weights [W, 1, 1, C]; be: [W] or null
//   wr: [O, W]       the reducing 1x1 convolution's OHWI weights [O, 1, 1, W]; br: [O] or null
//   y:  [P, O]
//
// Why: as two convolutions the wide activation (W = 6C floats per pixel in WDSR-B, 768 bytes at
// 32 channels) is written to memory by the first and read back by the second, and in training
// stored for the backward pass. Fused, a tile of 64 pixels keeps it in the core's cache between
// the two small GEMMs; the backward recomputes it (one extra small GEMM) instead of reading it.
//
// Backward, per tile: recompute the activation; grad_wide = (grad_y · wr) masked where the
// activation is 0; grad_x = grad_wide · we; and per chunk of tiles the weight gradients
// grad_wr += grad_y^T · activation, grad_we += grad_wide^T · x, with the bias gradients as sums.
//
// The kernels (sr/ops/cpu/wide_pair_kernels.hpp) are compiled for AVX2+FMA and AVX-512 through
// sr/ops/cpu/per_isa.hpp, as the direct convolution kernels are, and run in the variant
// sr::ops::direct::isa() selects.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "sr/ops/cpu/conv2d_direct.hpp"

namespace sr::ops::direct {

struct WidePairShape {
    int64_t pixels = 0, c = 0, wide = 0, out = 0;
};

// Where the weight gradients go (overwritten): we [W, C] and wr [O, W] both or neither (null: not
// computed); be [W] and br [O] may be null on their own.
struct WidePairWeightGrads {
    float* we = nullptr;
    float* be = nullptr;
    float* wr = nullptr;
    float* br = nullptr;
};

}  // namespace sr::ops::direct

#define SR_PER_ISA_FILE "sr/ops/cpu/wide_pair_kernels.hpp"
#include "sr/ops/cpu/per_isa.hpp"

namespace sr::ops::direct {

// y = relu(x · we^T + be) · wr^T + br; shapes in the header comment.
inline void wide_pair_forward(const WidePairShape& s, const float* x, const float* we, const float* be, const float* wr,
                              const float* br, float* y) {
#if SR_DIRECT_X86
    if (isa() == Isa::avx512) return avx512::wide_pair_forward(s, x, we, be, wr, br, y);
    if (isa() == Isa::avx2) return avx2::wide_pair_forward(s, x, we, be, wr, br, y);
#endif
    detail::no_variant();
}

// grad_x [P, C] (null: skipped) and the weight gradients from grad_y [P, O]; all overwritten.
inline void wide_pair_backward(const WidePairShape& s, const float* x, const float* we, const float* be, const float* wr,
                               const float* grad_y, float* grad_x, WidePairWeightGrads grads) {
#if SR_DIRECT_X86
    if (isa() == Isa::avx512) return avx512::wide_pair_backward(s, x, we, be, wr, grad_y, grad_x, grads);
    if (isa() == Isa::avx2) return avx2::wide_pair_backward(s, x, we, be, wr, grad_y, grad_x, grads);
#endif
    detail::no_variant();
}

}  // namespace sr::ops::direct
