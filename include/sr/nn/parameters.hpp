#pragma once
// Named parameters: every layer lists its trainable tensors under stable, PyTorch-style names
// ("head.0.weight_v", "body.3.body.0.bias", ...). A model's ParameterList is its state dict: the
// optimizer steps it, model files store it, importers fill it by name.
#include <string>
#include <type_traits>
#include <vector>

#include "sr/autograd/backward.hpp"  // loss.backward() wherever there are parameters
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

// What copy_matching did: the parameters copied, and those left as they were (absent from the
// source or of another shape).
struct TransferReport {
    std::vector<std::string> copied, kept;
};

// Copies every source tensor whose name and shape match a target parameter (the seed's
// --pretrained-model: an x2 model seeds an x4 one, whose scale-specific layers stay fresh).
template <class T, class D, class T2, class D2>
TransferReport copy_matching(const ParameterList<T2, D2>& source, const ParameterList<T, D>& target) {
    TransferReport report;
    for (const auto& p : target) {
        const NamedParameter<T2, D2>* match = nullptr;
        for (const auto& s : source)
            if (s.name == p.name && s.tensor.shape() == p.tensor.shape()) match = &s;
        if (!match) {
            report.kept.push_back(p.name);
            continue;
        }
        auto converted = match->tensor.template to<Cpu>().contiguous();
        if constexpr (std::is_same_v<T, T2>)
            converted.template to<D>().copy_to(p.tensor);
        else
            converted.template cast<T>().template to<D>().copy_to(p.tensor);
        report.copied.push_back(p.name);
    }
    return report;
}

template <class T, class D>
void zero_grad(const ParameterList<T, D>& list) {
    for (const auto& p : list) p.tensor.zero_grad();
}

}  // namespace sr::nn
