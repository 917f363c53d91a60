#pragma once
// AnyModel: any registered SR network (sr/models/registry.hpp), chosen at run time from a
// ModelConfig (a profile or a model file), so tools, the Trainer and the Upscaler need not know
// which architecture they run. Copying an AnyModel shares the network and its weights (as copying
// a Tensor shares its data); clone() is the deep copy.
#include <memory>
#include <typeinfo>

#include "sr/models/registry.hpp"

namespace sr::models {

template <class T, class D = Cpu>
class AnyModel {
public:
    using value_type = T;
    using device_type = D;

    // Builds the registered architecture config.architecture (an error naming it when unknown).
    AnyModel(const ModelConfig& config, Rng& rng) : m_model(build(config, rng)) {}
    // Holds a model the caller built (e.g. with weights set by hand); to() and clone() rebuild
    // it through the registry, so its architecture must be registered for those.
    template <Model M>
        requires(!std::is_same_v<M, AnyModel> && std::is_same_v<typename M::value_type, T> &&
                 std::is_same_v<typename M::device_type, D>)
    explicit AnyModel(M model) : m_model(std::make_shared<const ModelHolder<M>>(std::move(model))) {}

    // lr [N, H, W, 3] in pixel units -> sr [N, sH, sW, 3] in pixel units.
    Tensor<T, D> operator()(const Tensor<T, D>& lr) const { return m_model->forward(lr); }
    void collect_parameters(nn::ParameterList<T, D>& list, const std::string& prefix = "") const {
        m_model->collect_parameters(list, prefix);
    }
    nn::ParameterList<T, D> parameters() const { return nn::parameters_of(*this); }
    const ModelConfig& config() const { return m_model->config(); }
    int scale() const { return m_model->scale(); }
    int64_t receptive_radius() const { return m_model->receptive_radius(); }

    // The concrete network when it is an M (nullptr otherwise), e.g. to reach its layers.
    template <class M>
    const M* get() const {
        return m_model->type() == typeid(M) ? static_cast<const M*>(m_model->address()) : nullptr;
    }

    // The network for inference: weight norm folded into plain weights.
    AnyModel fold_weight_norm() const { return AnyModel(m_model->fold_weight_norm()); }

    // The same network with its parameters copied to device D2 (uploaded to a GPU, or downloaded
    // for saving): rebuilt there from the config, then every parameter copied by name. The copy
    // shares nothing with *this. A model is folded or not as a whole (fold_weight_norm), and a
    // folded one has no v/g to copy, so folding happens after moving, never before.
    template <class D2>
    AnyModel<T, D2> to() const {
        Rng rng(0);  // the initial values are overwritten
        AnyModel<T, D2> moved(config(), rng);
        copy_parameters("AnyModel::to", parameters(), moved.parameters());
        return moved;
    }

    // A deep copy on the same device: nothing shared, weights equal (folded or not, as *this).
    AnyModel clone() const {
        Rng rng(0);
        AnyModel copy(config(), rng);
        if (copy.parameters().size() != parameters().size()) copy = copy.fold_weight_norm();
        copy_parameters("AnyModel::clone", parameters(), copy.parameters());
        return copy;
    }

private:
    template <class, class>
    friend class AnyModel;

    using Interface = ModelInterface<T, D>;
    explicit AnyModel(std::shared_ptr<const Interface> model) : m_model(std::move(model)) {}

    static std::shared_ptr<const Interface> build(const ModelConfig& config, Rng& rng) {
        validate_config(config);
        return ModelRegistry::instance().build<T, D>(config, rng);
    }

    template <class D1, class D2>
    static void copy_parameters(const char* op, const nn::ParameterList<T, D1>& source,
                                const nn::ParameterList<T, D2>& target) {
        SR_CHECK(source.size() == target.size(), op, ": ", source.size(), " parameters here, ", target.size(),
                 " in the rebuilt model (is this model folded? move it before fold_weight_norm)");
        for (std::size_t i = 0; i < source.size(); ++i) {
            SR_CHECK(source[i].name == target[i].name && source[i].tensor.shape() == target[i].tensor.shape(), op,
                     ": parameter '", source[i].name, "' ", source[i].tensor.shape(),
                     " does not match the rebuilt model's '", target[i].name, "' ", target[i].tensor.shape());
            source[i].tensor.template to<D2>().copy_to(target[i].tensor);
        }
    }

    std::shared_ptr<const Interface> m_model;
};

}  // namespace sr::models
