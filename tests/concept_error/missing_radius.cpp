// Must not compile: a model without receptive_radius() meets the engine at register_model, which
// names the missing part (the test model_concept_error checks the compiler's message).
#include "sr/models/registry.hpp"

template <class T, class D>
struct NoRadius {
    using value_type = T;
    using device_type = D;
    sr::models::ModelConfig cfg;
    NoRadius(const sr::models::ModelConfig& c, sr::Rng&) : cfg(c) {}
    sr::Tensor<T, D> operator()(const sr::Tensor<T, D>& x) const { return x; }
    void collect_parameters(sr::nn::ParameterList<T, D>&, const std::string&) const {}
    const sr::models::ModelConfig& config() const { return cfg; }
    int scale() const { return cfg.scale; }
};

int main() { sr::models::register_model<NoRadius>({.name = "no-radius"}); }
