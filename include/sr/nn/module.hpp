#pragma once
// The Module concept: what a layer must provide to be composed into models, trained, saved and
// moved between devices by the engine.
//
//   forward             Tensor<T, D> operator()(const Tensor<T, D>&) const
//   named parameters    void collect_parameters(ParameterList<T, D>&, const std::string& prefix) const
//                       (every trainable tensor under a stable name; the state dict)
//   types               value_type (T) and device_type (D)
//
// Optional: fold_weight_norm() (the same layer for inference) and receptive_radius() (LR pixels
// an output depends on around its position; a model's is the sum of its layers'). The concept is
// checked where a user's type first meets the engine (models::register_model), with
// check_module<M>() giving one readable error per missing part instead of a template backtrace.
#include <concepts>
#include <cstdint>
#include <string>

#include "sr/nn/parameters.hpp"

namespace sr::nn {

template <class M>
concept HasTensorTypes = requires {
    typename M::value_type;
    typename M::device_type;
};

template <class M, class T, class D>
concept HasForward = requires(const M& m, const Tensor<T, D>& x) {
    { m(x) } -> std::convertible_to<Tensor<T, D>>;
};

template <class M, class T, class D>
concept HasNamedParameters = requires(const M& m, ParameterList<T, D>& list, const std::string& prefix) {
    m.collect_parameters(list, prefix);
};

template <class M>
concept Module = HasTensorTypes<M> && HasForward<M, typename M::value_type, typename M::device_type> &&
                 HasNamedParameters<M, typename M::value_type, typename M::device_type>;

template <class M>
concept HasReceptiveRadius = requires(const M& m) {
    { m.receptive_radius() } -> std::convertible_to<int64_t>;
};

template <class M>
concept Foldable = requires(const M& m) {
    { m.fold_weight_norm() } -> std::convertible_to<M>;
};

// Fails to compile with a message naming what M lacks; true when M is a Module.
template <class M>
constexpr bool check_module() {
    static_assert(HasTensorTypes<M>,
                  "sr::nn::Module: the type needs `using value_type = T;` and `using device_type = D;` (its scalar "
                  "and device)");
    if constexpr (HasTensorTypes<M>) {
        using T = typename M::value_type;
        using D = typename M::device_type;
        static_assert(HasForward<M, T, D>,
                      "sr::nn::Module: the type needs a forward, `Tensor<T, D> operator()(const Tensor<T, D>& x) "
                      "const`");
        static_assert(HasNamedParameters<M, T, D>,
                      "sr::nn::Module: the type needs its named parameters, `void collect_parameters("
                      "nn::ParameterList<T, D>& list, const std::string& prefix) const` (push_back {name, tensor} "
                      "for every trainable tensor; nn::join_name(prefix, name))");
    }
    return Module<M>;
}

// The receptive radius of a layer (0 for one without a receptive_radius(), e.g. pointwise).
template <class M>
int64_t receptive_radius_of(const M& layer) {
    if constexpr (HasReceptiveRadius<M>)
        return layer.receptive_radius();
    else
        return 0;
}

// The radius of layers applied one after another at the same resolution: the sum of theirs.
template <class... Layers>
int64_t chained_receptive_radius(const Layers&... layers) {
    return (int64_t{0} + ... + receptive_radius_of(layers));
}

}  // namespace sr::nn
