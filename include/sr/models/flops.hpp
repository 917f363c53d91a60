#pragma once
// Forward FLOPs of a model on an H x W LR image (2 FLOP per multiply-add, convolutions only: they
// are over 99 % of the work), for benchmarks and throughput reports: the closed form of the
// built-in architectures. Any model, a registered one included, is measured instead by running
// it: measure_forward_cost(model).flops(h, w) (sr/models/forward_cost.hpp), equal to this for
// the built-ins (tests/test_forward_cost.cpp).
#include <cstdint>

#include "sr/core/error.hpp"
#include "sr/models/config.hpp"

namespace sr::models {

inline double forward_flops(const ModelConfig& c, int64_t height, int64_t width) {
    const double lr = static_cast<double>(height) * static_cast<double>(width);
    auto conv = [](double pixels, int64_t cin, int64_t cout, int64_t k) { return 2.0 * pixels * cin * cout * k * k; };
    const int64_t f = c.num_filters, s = c.scale;
    double total = conv(lr, 3, f, 3);  // head
    if (c.architecture == Architecture::wdsr_a) {
        total += c.num_blocks * (conv(lr, f, c.expansion * f, 3) + conv(lr, c.expansion * f, f, 3));
        total += conv(lr, f, 3 * s * s, 3) + conv(lr, 3, 3 * s * s, 5);
    } else if (c.architecture == Architecture::wdsr_b) {
        const int64_t low = c.low_rank_channels();
        total += c.num_blocks * (conv(lr, f, c.expansion * f, 1) + conv(lr, c.expansion * f, low, 1) + conv(lr, low, f, 3));
        total += conv(lr, f, 3 * s * s, 3) + conv(lr, 3, 3 * s * s, 5);
    } else {
        SR_CHECK(c.architecture == Architecture::edsr,
                 "forward_flops: has a closed form for the built-in architectures only, not '", c.architecture.name(),
                 "'; measure it with measure_forward_cost(model).flops(h, w) (sr/models/forward_cost.hpp)");
        total += (2 * c.num_blocks + 1) * conv(lr, f, f, 3);
        if (s == 4)
            total += conv(lr, f, 4 * f, 3) + conv(4 * lr, f, 4 * f, 3);
        else
            total += conv(lr, f, s * s * f, 3);
        total += conv(lr * s * s, f, 3, 3);
    }
    return total;
}

}  // namespace sr::models
