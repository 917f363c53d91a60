#pragma once
// Convolutions of the CUDA backend (kernels/conv2d_cudnn.cu, kernels/conv2d_gemm.cu): cuDNN 9's
// graph API for every kernel size, cuBLASLt GEMMs for 1x1 where measured faster. Same contract as
// the CPU op (sr/ops/conv2d.hpp): stride 1, 'same' zero padding, cross-correlation,
//   x [N, H, W, C] NHWC, w [O, K, K, C] OHWI (KRSC), b [O] or null, y [N, H, W, O] NHWC,
// all contiguous device pointers, all work enqueued on the device's compute stream
// (sr/cuda/memory.hpp). Plans are chosen once per shape and cached; workspaces come from the
// stream-ordered pool. Bias, residual add and ReLU are fused into the forward where cuDNN has an
// engine for it (else our epilogue kernel follows); the bias gradient is our own fixed-order
// reduction (kernels/conv2d.cu). Errors name the call, the pass and the shape.
#include <cstdint>

namespace sr::cuda {

struct ConvShape {
    int64_t n = 0, h = 0, w = 0, c = 0, o = 0, k = 0;
};

// Which library runs a convolution. cuBLASLt computes 1x1 convolutions only (as GEMMs); forcing it
// leaves the other kernel sizes on cuDNN. Tests and benches force a path; automatic measures both
// on the first use of a 1x1 shape (or takes cuBLASLt when not measuring).
enum class ConvPath { automatic, cudnn, cublaslt };

// How convolutions are chosen and computed, process-wide. The initial path comes from the
// environment variable SR_CUDA_CONV_BACKEND (cudnn | cublaslt; unset or empty = automatic).
struct ConvSettings {
    // Only engines with a run-to-run identical result (exact --resume on a GPU). Plans then come
    // from the heuristics' order, never from timings, so another process picks the same plans.
    bool deterministic = false;
    bool allow_tf32 = false;  // TF32 tensor cores for float; off so GPU results track the CPU
    bool measure = true;      // time the candidate plans on first use of a shape; else heuristics only
    ConvPath path = ConvPath::automatic;
};
// Plans are cached per settings, so changing them mid-run costs one new plan search per shape.
void set_conv_settings(const ConvSettings& settings);
ConvSettings conv_settings();

// y = relu?(conv(x, w) + b [+ y when accumulate]). ReLU, when asked, is applied last.
void conv2d_forward(const ConvShape& shape, const float* x, const float* w, const float* b, float* y, bool relu,
                    bool accumulate);
// grad_x [N, H, W, C] = the input gradient from grad_y [N, H, W, O]; overwritten.
void conv2d_backward_data(const ConvShape& shape, const float* grad_y, const float* w, float* grad_x);
// grad_w [O, K, K, C] and grad_b [O] (skipped when null) from x and grad_y; both overwritten.
void conv2d_backward_weights(const ConvShape& shape, const float* x, const float* grad_y, float* grad_w, float* grad_b);

}  // namespace sr::cuda
