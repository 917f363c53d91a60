// Pixel shuffle in TensorFlow depth_to_space order (declared in sr/cuda/pixel_shuffle.hpp).
// CPU twin: sr/ops/pixel_shuffle.hpp; both take the channel order from
// sr::pixel_shuffle_source_channel.
#include "check.cuh"
#include "stream.cuh"
#include "sr/cuda/pixel_shuffle.hpp"
#include "sr/ops/pixel_shuffle_index.hpp"

namespace sr::cuda {

namespace {

struct ShuffleParams {
    const float* in;
    float* out;
    int64_t n, h, w, c;
    int scale;
    bool to_shuffled;  // true: depth_to_space; false: space_to_depth
};

// One thread per element of the shuffled tensor [N, H*s, W*s, C].
__global__ void pixel_shuffle_kernel(ShuffleParams p) {
    const int64_t s = p.scale, hs = p.h * s, ws = p.w * s;
    const int64_t count = p.n * hs * ws * p.c;
    for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < count; idx += int64_t(blockDim.x) * gridDim.x) {
        const int64_t c = idx % p.c;
        int64_t t = idx / p.c;
        const int64_t x = t % ws;
        t /= ws;
        const int64_t y = t % hs;
        const int64_t n = t / hs;
        const int64_t packed = ((n * p.h + y / s) * p.w + x / s) * (p.c * s * s) +
                               pixel_shuffle_source_channel(y % s, x % s, c, p.c, s);
        if (p.to_shuffled)
            p.out[idx] = p.in[packed];
        else
            p.out[packed] = p.in[idx];
    }
}

void launch_pixel_shuffle(const ShuffleParams& p) {
    const int64_t count = p.n * p.h * p.w * p.c * p.scale * p.scale;
    if (count == 0) return;
    pixel_shuffle_kernel<<<detail::grid_for(count), detail::k_block, 0, detail::compute_stream()>>>(p);
    detail::check_launch("pixel_shuffle_kernel", count);
}

}  // namespace

void pixel_shuffle_forward(const float* in, float* out, int64_t n, int64_t h, int64_t w, int64_t c, int scale) {
    launch_pixel_shuffle({in, out, n, h, w, c, scale, true});
}

void pixel_unshuffle_forward(const float* in, float* out, int64_t n, int64_t h, int64_t w, int64_t c, int scale) {
    launch_pixel_shuffle({in, out, n, h, w, c, scale, false});
}

}  // namespace sr::cuda
