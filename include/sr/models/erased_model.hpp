#pragma once
// The type-erased model behind AnyModel (sr/models/model.hpp): one interface every registered
// Model is held through, so a run-time choice of network needs no closed list of types.
#include <memory>
#include <string>
#include <typeinfo>

#include "sr/models/model_concept.hpp"

namespace sr::models {

template <class T, class D>
class ModelInterface {
public:
    virtual ~ModelInterface() = default;
    virtual Tensor<T, D> forward(const Tensor<T, D>& lr) const = 0;
    virtual void collect_parameters(nn::ParameterList<T, D>& list, const std::string& prefix) const = 0;
    // The network with weight norm folded (itself, shared, when the model has nothing to fold).
    virtual std::shared_ptr<const ModelInterface> fold_weight_norm() const = 0;
    virtual const ModelConfig& config() const = 0;
    virtual int scale() const = 0;
    virtual int64_t receptive_radius() const = 0;
    virtual const std::type_info& type() const = 0;
    virtual const void* address() const = 0;
};

template <Model M>
class ModelHolder final : public ModelInterface<typename M::value_type, typename M::device_type>,
                          public std::enable_shared_from_this<ModelHolder<M>> {
public:
    using T = typename M::value_type;
    using D = typename M::device_type;
    using Interface = ModelInterface<T, D>;

    explicit ModelHolder(M model) : m_model(std::move(model)) {}

    Tensor<T, D> forward(const Tensor<T, D>& lr) const override { return m_model(lr); }
    void collect_parameters(nn::ParameterList<T, D>& list, const std::string& prefix) const override {
        m_model.collect_parameters(list, prefix);
    }
    std::shared_ptr<const Interface> fold_weight_norm() const override {
        if constexpr (nn::Foldable<M>)
            return std::make_shared<ModelHolder>(m_model.fold_weight_norm());
        else
            return this->shared_from_this();
    }
    const ModelConfig& config() const override { return m_model.config(); }
    int scale() const override { return m_model.scale(); }
    int64_t receptive_radius() const override { return m_model.receptive_radius(); }
    const std::type_info& type() const override { return typeid(M); }
    const void* address() const override { return &m_model; }

private:
    M m_model;
};

}  // namespace sr::models
