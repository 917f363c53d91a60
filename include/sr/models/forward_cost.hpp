#pragma once
// ForwardCost: what one forward pass of a model (any Model, or an AnyModel) costs, measured by
// running it rather than derived from its architecture, so a registered model of any shape gets
// the auto tile size (sr/infer/upscaler.hpp, tile = 0) and FLOP counts the built-ins get.
//
//   const ForwardCost cost = measure_forward_cost(model);   // two small forwards, no gradients
//   cost.flops(1080, 1920);              // convolution FLOPs on a 1080 x 1920 LR image
//   cost.activation_bytes(1080, 1920);   // peak bytes live on the model's device during it
//
// How: the model runs under NoGradGuard on zero inputs [1, s, s, 3] of two sides (24 and 48 by
// default). FLOPs are those of its convolutions (sr/ops/flop_counter.hpp: 2 per multiply-add);
// memory is the peak of live bytes above what was live before (the host allocator's counters on
// the CPU, the stream-ordered pool's peak_in_use on CUDA), input and output included, scratch
// outside tensors (convolution bands, oneDNN and cuDNN workspaces) not. Each is fitted as
// fixed + per_pixel * s^2 through the two sizes: same-padded convolutions and pointwise ops make
// every activation, and every convolution's work, exactly proportional to the pixels at any size,
// so the sides need not exceed the receptive radius; fixed_flops is then 0 and fixed bytes small.
// A model whose work is not affine in the pixels (global pooling over the image) is fitted as if
// it were. Costs: one warm-up forward at the small side and one forward at each side.
//
// The peak counters are process-wide: run it while no other thread allocates tensors on that
// device. The measurement resets them to watch each forward, then puts back the peak they held
// before (raised to its own), so a tool's peak since start stays true.
#include <algorithm>
#include <cstdint>

#include "sr/autograd/grad_mode.hpp"
#include "sr/config.hpp"
#include "sr/core/error.hpp"
#include "sr/core/host_allocator.hpp"
#include "sr/core/tensor.hpp"
#include "sr/cuda/memory.hpp"
#include "sr/ops/flop_counter.hpp"

namespace sr::models {

struct ForwardCost {
    double flops_per_lr_pixel = 0;             // convolution FLOPs per LR input pixel (batch 1)
    double activation_bytes_per_lr_pixel = 0;  // growth of the peak live bytes per LR input pixel
    double fixed_flops = 0;                    // FLOPs that do not grow with the image (0 for same-padded convs)
    double fixed_activation_bytes = 0;         // peak bytes that do not grow with the image

    // For a [1, height, width, 3] input (batch n: n times the pixels).
    double flops(int64_t height, int64_t width) const {
        return fixed_flops + flops_per_lr_pixel * static_cast<double>(height) * static_cast<double>(width);
    }
    double activation_bytes(int64_t height, int64_t width) const {
        return fixed_activation_bytes +
               activation_bytes_per_lr_pixel * static_cast<double>(height) * static_cast<double>(width);
    }
};

namespace detail {
struct ForwardSample {
    double pixels = 0, flops = 0, peak_bytes = 0;
};

template <class D>
std::size_t live_device_bytes() {
#if SR_WITH_CUDA
    if constexpr (is_cuda_v<D>) return cuda::memory_stats().in_use;
#endif
    return host::allocator_stats().live_bytes;
}

template <class D>
void reset_device_peak() {
#if SR_WITH_CUDA
    if constexpr (is_cuda_v<D>) {
        cuda::synchronize();
        cuda::reset_peak_memory_stats();
        return;
    }
#endif
    host::reset_peak_live_bytes();
}

template <class D>
std::size_t peak_device_bytes() {
#if SR_WITH_CUDA
    if constexpr (is_cuda_v<D>) {
        cuda::synchronize();
        return cuda::memory_stats().peak_in_use;
    }
#endif
    return host::allocator_stats().peak_live_bytes;
}

template <class D>
void raise_device_peak(std::size_t bytes) {
#if SR_WITH_CUDA
    if constexpr (is_cuda_v<D>) {
        cuda::raise_peak_in_use(bytes);
        return;
    }
#endif
    host::raise_peak_live_bytes(bytes);
}

template <class M>
ForwardSample run_forward_sample(const M& model, int64_t side) {
    using T = typename M::value_type;
    using D = typename M::device_type;
    NoGradGuard no_grad;
    reset_device_peak<D>();
    const std::size_t before = live_device_bytes<D>();
    ForwardSample sample;
    sample.pixels = static_cast<double>(side) * static_cast<double>(side);
    {
        ops::FlopCounter counter;
        const auto output = model(Tensor<T, D>::zeros({1, side, side, 3}));
        sample.flops = static_cast<double>(counter.flops());
    }
    const std::size_t peak = peak_device_bytes<D>();
    sample.peak_bytes = peak > before ? static_cast<double>(peak - before) : 0.0;
    return sample;
}
}  // namespace detail

// Measures `model` (anything callable on Tensor<value_type, device_type> [1, H, W, 3], e.g. an
// AnyModel or a registered Model) on zero inputs of sides small_side < large_side.
template <class M>
ForwardCost measure_forward_cost(const M& model, int64_t small_side = 24, int64_t large_side = 48) {
    SR_CHECK(0 < small_side && small_side < large_side, "measure_forward_cost: needs two sides 0 < small < large, got ",
             small_side, " and ", large_side);
    using D = typename M::device_type;
    const std::size_t peak_before = detail::peak_device_bytes<D>();
    detail::run_forward_sample(model, small_side);  // warm-up: backend choices, caches kept for the process
    const auto small = detail::run_forward_sample(model, small_side);
    const auto large = detail::run_forward_sample(model, large_side);
    detail::raise_device_peak<D>(peak_before);
    const double pixels = large.pixels - small.pixels;
    ForwardCost cost;
    cost.flops_per_lr_pixel = (large.flops - small.flops) / pixels;
    cost.fixed_flops = std::max(0.0, large.flops - cost.flops_per_lr_pixel * large.pixels);
    cost.activation_bytes_per_lr_pixel = (large.peak_bytes - small.peak_bytes) / pixels;
    if (cost.activation_bytes_per_lr_pixel <= 0)  // not growing (another thread's allocations): no fixed part
        cost.activation_bytes_per_lr_pixel = large.peak_bytes / large.pixels;
    cost.fixed_activation_bytes = std::max(0.0, large.peak_bytes - cost.activation_bytes_per_lr_pixel * large.pixels);
    return cost;
}

}  // namespace sr::models
