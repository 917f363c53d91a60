#pragma once
// The channel order of pixel shuffle, shared by the CPU op and the CUDA kernel (TensorFlow
// depth_to_space): output channel c at sub-pixel (i, j) of a factor-s shuffle with C output
// channels reads input channel (i*s + j)*C + c.
#include <cstdint>

#include "sr/core/host_device.hpp"

namespace sr {

SR_HOST_DEVICE constexpr int64_t pixel_shuffle_source_channel(int64_t i, int64_t j, int64_t c, int64_t channels,
                                                              int64_t scale) {
    return (i * scale + j) * channels + c;
}

}  // namespace sr
