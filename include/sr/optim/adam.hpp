#pragma once
// Adam (Kingma & Ba 2015) as torch.optim.Adam computes it, which the official EDSR and WDSR code
// train with. At step t (1-based), for each parameter p with gradient g:
//   m = beta1 m + (1 - beta1) g
//   v = beta2 v + (1 - beta2) g^2
//   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + epsilon)
// No weight decay, no clipping (the seed uses neither). Parameters without a gradient this step
// (unused in the forward) are left untouched, and their moments are not decayed.
// Note: Keras (the seed) adds epsilon before the bias correction instead; with epsilon = 1e-8 the
// difference is below float resolution once v is away from 0.
#include <cmath>
#include <string>
#include <vector>

#include "sr/autograd/grad_mode.hpp"
#include "sr/core/parallel.hpp"
#include "sr/cuda/adam.hpp"
#include "sr/nn/parameters.hpp"

namespace sr::optim {

struct AdamOptions {
    double learning_rate = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double epsilon = 1e-8;
};

template <class T, class D>
class Adam {
public:
    Adam(nn::ParameterList<T, D> parameters, const AdamOptions& options)
        : m_parameters(std::move(parameters)), m_options(options) {
        SR_CHECK(options.learning_rate >= 0 && options.beta1 >= 0 && options.beta1 < 1 && options.beta2 >= 0 &&
                     options.beta2 < 1 && options.epsilon >= 0,
                 "Adam: invalid options (learning rate ", options.learning_rate, ", betas ", options.beta1, "/",
                 options.beta2, ", epsilon ", options.epsilon, ")");
        for (const auto& p : m_parameters) {
            m_exp_avg.push_back(Tensor<T, D>::zeros(p.tensor.shape()));
            m_exp_avg_sq.push_back(Tensor<T, D>::zeros(p.tensor.shape()));
        }
    }

    // Applies one update with the gradients accumulated by backward().
    void step() {
        NoGradGuard no_grad;
        ++m_step;
        const double bc1 = 1.0 - std::pow(m_options.beta1, static_cast<double>(m_step));
        const double bc2 = 1.0 - std::pow(m_options.beta2, static_cast<double>(m_step));
        for (std::size_t i = 0; i < m_parameters.size(); ++i) {
            const auto& p = m_parameters[i].tensor;
            Tensor<T, D> g = p.grad();
            if (!g.defined()) continue;
            g = g.contiguous();
            update(p, g, m_exp_avg[i], m_exp_avg_sq[i], bc1, bc2);
        }
    }
    void zero_grad() { nn::zero_grad(m_parameters); }

    double learning_rate() const { return m_options.learning_rate; }
    void set_learning_rate(double lr) { m_options.learning_rate = lr; }
    const AdamOptions& options() const { return m_options; }
    int64_t step_count() const { return m_step; }
    const nn::ParameterList<T, D>& parameters() const { return m_parameters; }

    // Moments as named tensors ("<param>.exp_avg", "<param>.exp_avg_sq"), for checkpoints.
    nn::ParameterList<T, D> state() const {
        nn::ParameterList<T, D> list;
        for (std::size_t i = 0; i < m_parameters.size(); ++i) {
            list.push_back({m_parameters[i].name + ".exp_avg", m_exp_avg[i]});
            list.push_back({m_parameters[i].name + ".exp_avg_sq", m_exp_avg_sq[i]});
        }
        return list;
    }
    // Restores moments saved by state() and the step counter; every moment must be present.
    void load_state(const nn::ParameterList<T, D>& saved, int64_t step) {
        for (std::size_t i = 0; i < m_parameters.size(); ++i) {
            const auto& name = m_parameters[i].name;
            const auto& m = nn::find_parameter(saved, name + ".exp_avg");
            const auto& v = nn::find_parameter(saved, name + ".exp_avg_sq");
            SR_CHECK(m.shape() == m_exp_avg[i].shape() && v.shape() == m_exp_avg_sq[i].shape(),
                     "Adam state for '", name, "' has shape ", m.shape(), ", the parameter has ", m_exp_avg[i].shape());
            m.copy_to(m_exp_avg[i]);
            v.copy_to(m_exp_avg_sq[i]);
        }
        m_step = step;
    }
    // A deep copy of this optimizer's state for `parameters` (e.g. those of the model's clone(),
    // same names and shapes): the moments are copied, not shared, and the step count kept.
    Adam clone_for(nn::ParameterList<T, D> parameters) const {
        Adam copy(std::move(parameters), m_options);
        SR_CHECK(copy.m_parameters.size() == m_parameters.size(), "Adam::clone_for: ", copy.m_parameters.size(),
                 " parameters given, the optimizer has ", m_parameters.size());
        copy.load_state(state(), m_step);
        return copy;
    }

private:
    void update(const Tensor<T, D>& p, const Tensor<T, D>& g, const Tensor<T, D>& m, const Tensor<T, D>& v, double bc1,
                double bc2) const {
        const int64_t n = p.numel();
        if constexpr (is_cuda_v<D>) {
            cuda::AdamStep s{static_cast<float>(m_options.learning_rate), static_cast<float>(m_options.beta1),
                             static_cast<float>(m_options.beta2), static_cast<float>(m_options.epsilon),
                             static_cast<float>(bc1), static_cast<float>(bc2)};
            cuda::adam_step(p.data(), g.data(), m.data(), v.data(), n, s);
        } else {
            const T b1 = static_cast<T>(m_options.beta1), b2 = static_cast<T>(m_options.beta2);
            const T step_size = static_cast<T>(m_options.learning_rate / bc1);
            const T inv_sqrt_bc2 = static_cast<T>(1.0 / std::sqrt(bc2));
            const T eps = static_cast<T>(m_options.epsilon);
            T *pp = p.data(), *pm = m.data(), *pv = v.data();
            const T* pg = g.data();
            parallel_for(n, k_elementwise_grain, [=](int64_t begin, int64_t end) {
#pragma omp simd
                for (int64_t i = begin; i < end; ++i) {
                    pm[i] = b1 * pm[i] + (T(1) - b1) * pg[i];
                    pv[i] = b2 * pv[i] + (T(1) - b2) * pg[i] * pg[i];
                    pp[i] -= step_size * pm[i] / (std::sqrt(pv[i]) * inv_sqrt_bc2 + eps);
                }
            });
        }
    }

    nn::ParameterList<T, D> m_parameters;
    std::vector<Tensor<T, D>> m_exp_avg, m_exp_avg_sq;
    AdamOptions m_options;
    int64_t m_step = 0;
};

}  // namespace sr::optim
