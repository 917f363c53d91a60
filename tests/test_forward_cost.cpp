// Measured forward costs (sr/models/forward_cost.hpp): the convolution FLOP counter, measured FLOPs
// equal to the built-ins' closed form and to a hand count of the examples' RCAN-style model,
// activation bytes that grow linearly with the pixels, and an auto tile whose measured peak fits
// the memory budget.
#include <catch2/catch.hpp>

#include "../examples/tiny_rcan.hpp"
#include "sr/infer/upscaler.hpp"
#include "sr/models/flops.hpp"
#include "sr/models/forward_cost.hpp"
#include "sr/models/profiles.hpp"
#include "test_support.hpp"

namespace test_forward_cost {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

namespace {
sr::models::AnyModel<float> small_builtin(const char* profile, int scale) {
    sr::models::ProfileOverrides o;
    o.num_blocks = 2;
    o.num_filters = 8;
    sr::Rng rng(5);
    return sr::models::AnyModel<float>(sr::models::make_config(profile, scale, o), rng).fold_weight_norm();
}
// The examples' model, built directly (no registration): 16 filters, 2 blocks, x2.
sr::models::AnyModel<float> tiny_rcan() {
    sr::models::ModelConfig c{.architecture = "tiny-rcan", .scale = 2, .num_filters = 16, .num_blocks = 2};
    c.options = {{"reduction", "4"}, {"window", "2"}};
    sr::Rng rng(6);
    return sr::models::AnyModel<float>(example::TinyRcan<float, sr::Cpu>(c, rng));
}
// Peak live host bytes of one forward on a zero [1, h, w, 3], above what was live before.
double measured_peak(const sr::models::AnyModel<float>& model, int64_t h, int64_t w) {
    sr::NoGradGuard no_grad;
    sr::host::reset_peak_live_bytes();
    const double before = static_cast<double>(sr::host::allocator_stats().live_bytes);
    model(sr::Tensor<float>::zeros({1, h, w, 3}));
    return static_cast<double>(sr::host::allocator_stats().peak_live_bytes) - before;
}
}  // namespace

TEST_CASE("the FLOP counter counts 2 N H W C O K K per forward convolution, nested, and only in scope", "[flops]") {
    const auto x = sr::Tensor<float>::zeros({2, 5, 7, 3});
    const auto w = sr::Tensor<float>::zeros({4, 3, 3, 3});
    const auto b = sr::Tensor<float>::zeros({4});
    sr::NoGradGuard no_grad;
    sr::conv2d(x, w, b);  // outside any counter: nothing to count, nothing fails
    sr::ops::FlopCounter outer;
    sr::conv2d(x, w, b, true);
    CHECK(outer.flops() == 2u * 2 * 5 * 7 * 3 * 4 * 3 * 3);
    {
        sr::ops::FlopCounter inner;
        sr::conv2d(x, w);
        CHECK(inner.flops() == 2u * 2 * 5 * 7 * 3 * 4 * 3 * 3);
        CHECK(outer.flops() == 2u * 2 * 5 * 7 * 3 * 4 * 3 * 3);
    }
    CHECK(outer.flops() == 2 * (2u * 2 * 5 * 7 * 3 * 4 * 3 * 3));
}

TEST_CASE("measured FLOPs equal the closed form of the built-in architectures", "[flops]") {
    const std::pair<const char*, int> cases[] = {{"edsr-16", 2}, {"edsr-16", 3}, {"edsr-16", 4},
                                                 {"wdsr-a-16", 2}, {"wdsr-a-16", 4}, {"wdsr-b-16", 3}};
    for (const auto& [profile, scale] : cases) {
        INFO(profile << " x" << scale);
        const auto model = small_builtin(profile, scale);
        const auto cost = sr::models::measure_forward_cost(model);
        CHECK(cost.fixed_flops == 0);
        for (const auto [h, w] : {std::pair<int64_t, int64_t>{1, 1}, {37, 53}, {1080, 1920}}) {
            const double closed = sr::models::forward_flops(model.config(), h, w);
            CHECK(std::abs(cost.flops(h, w) - closed) <= 1e-9 * closed);
        }
    }
}

TEST_CASE("measured FLOPs of a registered model equal a hand count of its convolutions", "[flops]") {
    const auto cost = sr::models::measure_forward_cost(tiny_rcan());
    // Per LR pixel: head 3->16 3x3; per block conv1, conv2 16->16 3x3, squeeze 16->4 and excite
    // 4->16 1x1 (on the box-mean map, full resolution); tail 16->12 3x3. box_mean and the
    // elementwise ops are not convolutions.
    const double block = 2 * (16 * 16 * 9) * 2 + 2 * (16 * 4) + 2 * (4 * 16);
    const double per_pixel = 2 * (3 * 16 * 9) + 2 * block + 2 * (16 * 12 * 9);
    CHECK(cost.flops_per_lr_pixel == per_pixel);
    CHECK(cost.fixed_flops == 0);
    // The built-ins' error path is not in a registered model's way.
    CHECK_THROWS_WITH(sr::models::forward_flops(tiny_rcan().config(), 8, 8),
                      Catch::Contains("measure_forward_cost"));
}

TEST_CASE("measured activation bytes grow linearly: two sizes predict a third", "[flops]") {
    for (const auto& model : {tiny_rcan(), small_builtin("edsr-16", 4), small_builtin("wdsr-b-16", 2)}) {
        INFO(model.config().architecture.name());
        const auto cost = sr::models::measure_forward_cost(model);
        CHECK(cost.activation_bytes_per_lr_pixel > 0);
        const double peak = measured_peak(model, 40, 72);
        CHECK(std::abs(cost.activation_bytes(40, 72) - peak) <= 0.1 * peak);
    }
}

TEST_CASE("the auto tile of a registered model fits its measured peak in the budget", "[flops][infer]") {
    const sr::infer::Upscaler upscaler(tiny_rcan());
    const auto& cost = upscaler.forward_cost();
    const int64_t height = 300, width = 260;
    // A budget for about a 64 x 64 input window: several tiles, above the 32-pixel minimum.
    const double budget = sr::infer::k_activation_headroom * cost.activation_bytes(64, 64);
    const auto tiles = upscaler.plan(height, width, {.tile = 0, .memory_budget = budget});
    REQUIRE(tiles.size() > 1);
    int64_t largest_height = 0, largest_width = 0;
    for (const auto& t : tiles)
        if (t.in_height * t.in_width > largest_height * largest_width)
            largest_height = t.in_height, largest_width = t.in_width;
    // The same network as the Upscaler's (TinyRcan has no weight norm to fold). The tensors are
    // affine in the pixels up to each one's rounding to 64 bytes, hence the 1 %.
    const double peak = measured_peak(tiny_rcan(), largest_height, largest_width);
    CHECK(peak <= budget);
    CHECK(peak <= 1.01 * budget / sr::infer::k_activation_headroom);
    // A budget for the whole image runs it whole.
    const double whole = sr::infer::k_activation_headroom * cost.activation_bytes(height, width);
    CHECK(upscaler.plan(height, width, {.tile = 0, .memory_budget = whole}).size() == 1);
}

TEST_CASE("a measurement keeps the peak a tool had reached before it", "[flops]") {
    const auto model = small_builtin("wdsr-b-16", 2);
    sr::host::reset_peak_live_bytes();
    const std::size_t big = std::size_t{64} << 20;
    { const auto scratch = sr::Tensor<float>::zeros({static_cast<int64_t>(big / sizeof(float))}); }
    const std::size_t before = sr::host::allocator_stats().peak_live_bytes;
    REQUIRE(before >= big);
    const auto cost = sr::models::measure_forward_cost(model);
    CHECK(cost.activation_bytes_per_lr_pixel > 0);
    CHECK(sr::host::allocator_stats().peak_live_bytes >= before);  // not the measurement's own, smaller peak
}

}  // namespace test_forward_cost
