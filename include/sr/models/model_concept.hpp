#pragma once
// The Model concept: a Module (sr/nn/module.hpp) that is a whole SR network the engine can train,
// tile, save and evaluate.
//
//   built from a config   M(const ModelConfig&, Rng&)   (a model file's metadata rebuilds it)
//   config()              const ModelConfig&
//   scale()               int: output size / input size
//   receptive_radius()    int64_t LR pixels an output pixel depends on around its position; tiles
//                         overlapping by this much reproduce the whole-image result exactly.
//                         Derive it from the layers (nn::chained_receptive_radius) where the
//                         network runs at one resolution; declare it where it does not.
// Optional: fold_weight_norm() (the network for inference). check_model<M>() is what
// register_model asserts, one readable message per missing part.
#include <concepts>
#include <cstdint>

#include "sr/core/rng.hpp"
#include "sr/models/config.hpp"
#include "sr/nn/module.hpp"

namespace sr::models {

template <class M>
concept BuildsFromConfig = std::constructible_from<M, const ModelConfig&, Rng&>;

template <class M>
concept DescribesItself = requires(const M& m) {
    { m.config() } -> std::convertible_to<const ModelConfig&>;
    { m.scale() } -> std::convertible_to<int>;
};

template <class M>
concept Model = nn::Module<M> && BuildsFromConfig<M> && DescribesItself<M> && nn::HasReceptiveRadius<M>;

template <class M>
constexpr bool check_model() {
    nn::check_module<M>();
    static_assert(BuildsFromConfig<M>,
                  "sr::models::Model: the model needs a constructor `M(const sr::models::ModelConfig& config, "
                  "sr::Rng& rng)` (the registry and model files rebuild it from its config)");
    static_assert(DescribesItself<M>,
                  "sr::models::Model: the model needs `const ModelConfig& config() const` and `int scale() const`");
    static_assert(nn::HasReceptiveRadius<M>,
                  "sr::models::Model: the model needs `int64_t receptive_radius() const` (LR pixels an output "
                  "depends on; tiling overlaps by it), e.g. nn::chained_receptive_radius(its layers...)");
    return Model<M>;
}

}  // namespace sr::models
