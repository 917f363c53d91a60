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
    // The same network with its parameters copied to device D2 (uploaded to a GPU, or downloaded
    // for saving): rebuilt there from the config, then every parameter copied by name. The copy
    // shares nothing with *this. A model is folded or not as a whole (fold_weight_norm), and a
    // folded one has no v/g to copy, so folding happens after moving, never before.
    template <class D2>
    AnyModel<T, D2> to() const {
        Rng rng(0);  // the initial values are overwritten
        AnyModel<T, D2> moved(config(), rng);
        const auto source = parameters();
        const auto target = moved.parameters();
        SR_CHECK(source.size() == target.size(), "AnyModel::to: ", source.size(), " parameters here, ", target.size(),
                 " in the rebuilt model (is this model folded? move it before fold_weight_norm)");
        for (std::size_t i = 0; i < source.size(); ++i) {
            SR_CHECK(source[i].name == target[i].name && source[i].tensor.shape() == target[i].tensor.shape(),
                     "AnyModel::to: parameter '", source[i].name, "' ", source[i].tensor.shape(),
                     " does not match the rebuilt model's '", target[i].name, "' ", target[i].tensor.shape());
            source[i].tensor.template to<D2>().copy_to(target[i].tensor);
        }
        return moved;
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
