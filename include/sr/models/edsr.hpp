#pragma once
// EDSR (Lim et al. 2017, "Enhanced Deep Residual Networks for Single Image Super-Resolution") as
// krasserm/wdsr and EDSR-PyTorch define it (no batch norm, plain convs, 3x3 'same'):
//
//   x  = normalize(lr)                     lr: [N, H, W, 3] pixel units
//   h  = head(x)                           3x3 3->F
//   b  = body_end(blocks(h)) + h           B residual blocks, then 3x3 F->F, global residual
//   u  = upsample(b)                       x2: conv F->4F, shuffle 2; x3: conv F->9F, shuffle 3;
//                                          x4: two x2 stages
//   sr = denormalize(tail(u))              3x3 F->3 at high resolution
// Residual blocks: x + res_scale * conv(relu(conv(x))), scaling before the add.
// Parameter names follow EDSR-PyTorch: head.0, body.i.body.{0,2}, body.B, tail.0.{0[,2]}, tail.1.
#include <string>
#include <vector>

#include "sr/models/config.hpp"
#include "sr/nn/conv2d.hpp"
#include "sr/nn/layers.hpp"

namespace sr::models {

template <class T, class D>
struct ResBlock {
    nn::Conv2d<T, D> first;   // F -> F, 3x3, ReLU after
    nn::Conv2d<T, D> second;  // F -> F, 3x3
    T res_scale = T(1);

    ResBlock(const ModelConfig& c, Rng& rng)
        : first({c.num_filters, c.num_filters, 3, false}, rng),
          second({c.num_filters, c.num_filters, 3, false}, rng),
          res_scale(static_cast<T>(c.res_scale)) {}

    Tensor<T, D> operator()(const Tensor<T, D>& x) const {
        return residual_conv_chain(x, {first.link(true), second.link()}, res_scale);
    }

    void collect_parameters(nn::ParameterList<T, D>& list, const std::string& prefix) const {
        first.collect_parameters(list, prefix + ".body.0");
        second.collect_parameters(list, prefix + ".body.2");
    }
};

template <class T, class D = Cpu>
class Edsr {
public:
    using value_type = T;
    using device_type = D;

    Edsr(const ModelConfig& config, Rng& rng) : m_config(config) {
        config.validate();
        const int64_t f = config.num_filters;
        m_head = nn::Conv2d<T, D>({3, f, 3, false}, rng);
        for (int64_t i = 0; i < config.num_blocks; ++i) m_body.emplace_back(config, rng);
        m_body_end = nn::Conv2d<T, D>({f, f, 3, false}, rng);
        const int stages = config.scale == 4 ? 2 : 1;
        const int64_t factor = config.scale == 3 ? 9 : 4;
        for (int i = 0; i < stages; ++i) m_upsample.push_back(nn::Conv2d<T, D>({f, factor * f, 3, false}, rng));
        m_tail = nn::Conv2d<T, D>({f, 3, 3, false}, rng);
    }

    // lr [N, H, W, 3] in pixel units -> sr [N, sH, sW, 3] in pixel units (not clipped).
    Tensor<T, D> operator()(const Tensor<T, D>& lr) const {
        const auto h = m_head(normalize(lr));
        auto b = h;
        for (const auto& block : m_body) b = block(b);
        auto u = m_body_end(b) + h;
        const int stage_scale = m_config.scale == 4 ? 2 : m_config.scale;
        for (const auto& conv : m_upsample) u = pixel_shuffle(conv(u), stage_scale);
        return denormalize(m_tail(u));
    }

    void collect_parameters(nn::ParameterList<T, D>& list, const std::string& prefix = "") const {
        m_head.collect_parameters(list, nn::join_name(prefix, "head.0"));
        for (std::size_t i = 0; i < m_body.size(); ++i)
            m_body[i].collect_parameters(list, nn::join_name(prefix, "body." + std::to_string(i)));
        m_body_end.collect_parameters(list, nn::join_name(prefix, "body." + std::to_string(m_body.size())));
        for (std::size_t i = 0; i < m_upsample.size(); ++i)
            m_upsample[i].collect_parameters(list, nn::join_name(prefix, "tail.0." + std::to_string(2 * i)));
        m_tail.collect_parameters(list, nn::join_name(prefix, "tail.1"));
    }

    const ModelConfig& config() const { return m_config; }
    int scale() const { return m_config.scale; }
    int64_t receptive_radius() const { return builtin_receptive_radius(m_config); }
    Edsr fold_weight_norm() const { return *this; }  // EDSR has no weight norm

private:
    ModelConfig m_config;
    nn::Conv2d<T, D> m_head, m_body_end, m_tail;
    std::vector<ResBlock<T, D>> m_body;
    std::vector<nn::Conv2d<T, D>> m_upsample;
};

}  // namespace sr::models
