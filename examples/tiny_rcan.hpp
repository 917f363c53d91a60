#pragma once
// Example model for the examples: a network the library has never seen, with a layer of its own,
// registered the way the built-in EDSR and WDSR are. The model is the 50 lines below.
#include <sr/sr.hpp>

#include "box_mean.hpp"

namespace example {
using namespace sr;

// RCAN-style channel attention, pooled over a (2w+1)^2 window (box_mean.hpp) rather than
// the whole image, so an output depends on a bounded neighbourhood and tiles stay exact.
template <class T, class D>
struct AttentionBlock {
    nn::Conv2d<T, D> conv1, conv2, squeeze, excite;
    int64_t window;
    AttentionBlock(const models::ModelConfig& c, Rng& rng)
        : conv1({c.num_filters, c.num_filters, 3}, rng), conv2({c.num_filters, c.num_filters, 3}, rng),
          squeeze({c.num_filters, c.num_filters / c.option_int("reduction"), 1}, rng),
          excite({c.num_filters / c.option_int("reduction"), c.num_filters, 1}, rng), window(c.option_int("window")) {}
    Tensor<T, D> operator()(const Tensor<T, D>& x) const {
        const auto h = conv2(conv1(x, true));
        return x + multiply(h, sigmoid(excite(squeeze(example::box_mean(h, window), true))));
    }
    void collect_parameters(nn::ParameterList<T, D>& list, const std::string& prefix) const {
        conv1.collect_parameters(list, prefix + ".conv1"), conv2.collect_parameters(list, prefix + ".conv2");
        squeeze.collect_parameters(list, prefix + ".squeeze"), excite.collect_parameters(list, prefix + ".excite");
    }
    int64_t receptive_radius() const { return nn::chained_receptive_radius(conv1, conv2) + window; }
};

template <class T, class D>
struct TinyRcan {
    using value_type = T;
    using device_type = D;
    models::ModelConfig cfg;
    nn::Conv2d<T, D> head, tail;
    std::vector<AttentionBlock<T, D>> body;
    TinyRcan(const models::ModelConfig& c, Rng& rng)
        : cfg(c), head({3, c.num_filters, 3}, rng), tail({c.num_filters, 3 * c.scale * c.scale, 3}, rng) {
        for (int64_t i = 0; i < c.num_blocks; ++i) body.emplace_back(c, rng);
    }
    Tensor<T, D> operator()(const Tensor<T, D>& lr) const {
        auto h = head(normalize(lr));
        for (const auto& block : body) h = block(h);
        return denormalize(pixel_shuffle(tail(h), cfg.scale));
    }
    void collect_parameters(nn::ParameterList<T, D>& list, const std::string& prefix) const {
        head.collect_parameters(list, nn::join_name(prefix, "head"));
        for (std::size_t i = 0; i < body.size(); ++i) body[i].collect_parameters(list, nn::join_name(prefix, "body." + std::to_string(i)));
        tail.collect_parameters(list, nn::join_name(prefix, "tail"));
    }
    const models::ModelConfig& config() const { return cfg; }
    int scale() const { return cfg.scale; }
    int64_t receptive_radius() const {
        int64_t radius = head.receptive_radius() + tail.receptive_radius();
        for (const auto& block : body) radius += block.receptive_radius();
        return radius;
    }
};

// Registers the architecture (name, config schema with defaults, factory) and a profile
// (sr-train --profile tiny-rcan); once per process.
inline void register_tiny_rcan() {
    models::register_model<TinyRcan>({.name = "tiny-rcan",
                                      .description = "RCAN-style blocks with windowed channel attention",
                                      .schema = {{"num_filters", "16"}, {"num_blocks", "2"}, {"reduction", "4"},
                                                 {"window", "2"}}});
    const models::ModelConfig config{.architecture = "tiny-rcan", .scale = 2, .num_filters = 16, .num_blocks = 2};
    models::register_profile({"tiny-rcan", config, 1e-3});
}

}  // namespace example
