#pragma once
// AnyModel: one of the SR networks, chosen at run time from a ModelConfig (a profile or a model
// file), so tools need not know which architecture they run.
#include <variant>

#include "sr/models/config.hpp"
#include "sr/models/edsr.hpp"
#include "sr/models/wdsr.hpp"

namespace sr::models {

template <class T, class D = Cpu>
class AnyModel {
public:
    using value_type = T;
    using device_type = D;

    AnyModel(const ModelConfig& config, Rng& rng) : m_model(build(config, rng)) {}

    // lr [N, H, W, 3] in pixel units -> sr [N, sH, sW, 3] in pixel units.
    Tensor<T, D> operator()(const Tensor<T, D>& lr) const {
        return std::visit([&](const auto& m) { return m(lr); }, m_model);
    }
    void collect_parameters(nn::ParameterList<T, D>& list, const std::string& prefix = "") const {
        std::visit([&](const auto& m) { m.collect_parameters(list, prefix); }, m_model);
    }
    nn::ParameterList<T, D> parameters() const { return nn::parameters_of(*this); }
    const ModelConfig& config() const {
        return std::visit([](const auto& m) -> const ModelConfig& { return m.config(); }, m_model);
    }
    int scale() const { return config().scale; }
    // The network for inference: weight norm folded into plain weights.
    AnyModel fold_weight_norm() const {
        return AnyModel(std::visit([](const auto& m) -> Variant { return m.fold_weight_norm(); }, m_model));
    }

private:
    using Variant = std::variant<Edsr<T, D>, WdsrA<T, D>, WdsrB<T, D>>;
    explicit AnyModel(Variant model) : m_model(std::move(model)) {}
    static Variant build(const ModelConfig& config, Rng& rng) {
        switch (config.architecture) {
            case Architecture::edsr: return Edsr<T, D>(config, rng);
            case Architecture::wdsr_a: return WdsrA<T, D>(config, rng);
            case Architecture::wdsr_b: return WdsrB<T, D>(config, rng);
        }
        fail("unknown architecture");
    }
    Variant m_model;
};

}  // namespace sr::models
