#pragma once
// Named parameters: every layer lists its trainable tensors under stable, PyTorch-style names
// ("head.0.weight_v", "body.3.body.0.bias", ...). A model's ParameterList is its state dict: the
// optimizer steps it, model files store it, importers fill it by name.
#include <string>
#include <vector>

#include "sr/core/tensor.hpp"

namespace sr::nn {

template <class T, class D>
struct NamedParameter {
    std::string name;
    Tensor<T, D> tensor;
};

template <class T, class D>
using ParameterList = std::vector<NamedParameter<T, D>>;

// "prefix.name", or "name" when the prefix is empty.
inline std::string join_name(const std::string& prefix, const std::string& name) {
    return prefix.empty() ? name : prefix + "." + name;
}

// The state dict of anything with collect_parameters(list, prefix).
template <class Layer>
auto parameters_of(const Layer& layer, const std::string& prefix = "") {
    using List = ParameterList<typename Layer::value_type, typename Layer::device_type>;
    List list;
    layer.collect_parameters(list, prefix);
    return list;
}

// Looks a parameter up by name; throws an error naming it when absent.
template <class T, class D>
const Tensor<T, D>& find_parameter(const ParameterList<T, D>& list, const std::string& name) {
    for (const auto& p : list)
        if (p.name == name) return p.tensor;
    fail("no parameter named '", name, "'");
}

template <class T, class D>
int64_t count_elements(const ParameterList<T, D>& list) {
    int64_t total = 0;
    for (const auto& p : list) total += p.tensor.numel();
    return total;
}

template <class T, class D>
void zero_grad(const ParameterList<T, D>& list) {
    for (const auto& p : list) p.tensor.zero_grad();
}

}  // namespace sr::nn
