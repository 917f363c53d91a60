#pragma once
// nn::Conv2d: a stride-1 "same" convolution layer with bias and optional weight normalisation.
//
// Parameters (OHWI weights, see sr/ops/conv2d.hpp):
//   plain:        weight [O, K, K, C], bias [O]
//   weight norm:  weight_v [O, K, K, C], weight_g [O], bias [O];  weight = g * v / ||v|| per output
//                 channel, recomputed on every forward so autograd reaches v and g.
// Initialisation follows PyTorch (sr/nn/init.hpp); under weight norm g starts at ||v||, so the
// effective weight starts where the plain layer's would (torch.nn.utils.weight_norm does the same).
#include <string>

#include "sr/core/rng.hpp"
#include "sr/nn/init.hpp"
#include "sr/nn/parameters.hpp"
#include "sr/ops/conv2d.hpp"
#include "sr/ops/residual_chain.hpp"
#include "sr/ops/weight_norm.hpp"

namespace sr::nn {

struct Conv2dOptions {
    int64_t in_channels = 0;
    int64_t out_channels = 0;
    int64_t kernel_size = 3;
    bool weight_norm = false;
};

template <class T, class D = Cpu>
class Conv2d {
public:
    using value_type = T;
    using device_type = D;

    Conv2d() = default;
    Conv2d(const Conv2dOptions& options, Rng& rng) : m_options(options) {
        SR_CHECK(options.in_channels > 0 && options.out_channels > 0, "nn::Conv2d: channel counts must be positive, got ",
                 options.in_channels, " -> ", options.out_channels);
        SR_CHECK(options.kernel_size > 0 && options.kernel_size % 2 == 1, "nn::Conv2d: kernel size must be odd, got ",
                 options.kernel_size);
        const int64_t k = options.kernel_size, fan_in = options.in_channels * k * k;
        const Shape weight_shape{options.out_channels, k, k, options.in_channels};
        auto weight = uniform_tensor<T>(weight_shape, kaiming_uniform_bound(fan_in), rng);
        auto bias = uniform_tensor<T>(Shape{options.out_channels}, 1.0 / std::sqrt(static_cast<double>(fan_in)), rng);
        if (options.weight_norm) {
            m_weight_g = to_device(row_norms(weight));
            m_weight = to_device(weight);  // holds v
        } else {
            m_weight = to_device(weight);
        }
        m_bias = to_device(bias);
    }

    const Conv2dOptions& options() const { return m_options; }
    bool has_weight_norm() const { return m_options.weight_norm; }
    // A "same" k x k convolution reads (k - 1) / 2 pixels on each side (sr/nn/module.hpp).
    int64_t receptive_radius() const { return (m_options.kernel_size - 1) / 2; }

    // y = conv(x, weight) + bias, ReLU after when relu_after (fused when no gradient is recorded).
    Tensor<T, D> operator()(const Tensor<T, D>& x, bool relu_after = false) const {
        return conv2d(x, weight(), m_bias, relu_after);
    }
    // The effective weight (g * v / ||v|| under weight norm), differentiable.
    Tensor<T, D> weight() const { return m_options.weight_norm ? weight_norm(m_weight, m_weight_g) : m_weight; }
    const Tensor<T, D>& bias() const { return m_bias; }
    // This layer as one link of a residual_conv_chain (sr/ops/residual_chain.hpp).
    ConvLink<T, D> link(bool relu_after = false) const { return {weight(), m_bias, relu_after}; }

    void collect_parameters(ParameterList<T, D>& list, const std::string& prefix) const {
        if (m_options.weight_norm) {
            list.push_back({join_name(prefix, "weight_g"), m_weight_g});
            list.push_back({join_name(prefix, "weight_v"), m_weight});
        } else {
            list.push_back({join_name(prefix, "weight"), m_weight});
        }
        list.push_back({join_name(prefix, "bias"), m_bias});
    }

    // The same layer with weight norm folded into a plain weight: for inference, where v and g
    // never change and recomputing the norm on every call would be wasted work.
    Conv2d fold_weight_norm() const {
        Conv2d plain = *this;
        if (!m_options.weight_norm) return plain;
        NoGradGuard no_grad;
        plain.m_options.weight_norm = false;
        plain.m_weight = weight();
        plain.m_weight_g = Tensor<T, D>();
        return plain;
    }

private:
    static Tensor<T, D> to_device(const Tensor<T, Cpu>& t) {
        Tensor<T, D> out = t.template to<D>();
        out.set_requires_grad(true);
        return out;
    }

    Conv2dOptions m_options;
    Tensor<T, D> m_weight;    // weight, or v under weight norm
    Tensor<T, D> m_weight_g;  // g under weight norm
    Tensor<T, D> m_bias;
};

}  // namespace sr::nn
