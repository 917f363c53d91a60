#pragma once
// WDSR (Yu et al. 2018, "Wide Activation for Efficient and Accurate Image Super-Resolution") as
// the official PyTorch code and krasserm's TF2 code define it, with 'same' zero padding:
//
//   x    = normalize(lr)                                  lr: [N, H, W, 3] pixel units
//   main = tail(body(head(x)))      head 3x3 3->F, body N wide blocks, tail 3x3 F->3s^2
//   skip = skip(x)                  5x5 3->3s^2 on the normalised input
//   sr   = denormalize(depth_to_space(main + skip, s))   [N, sH, sW, 3] pixel units
//
// (depth_to_space is linear, so shuffling the sum equals summing the shuffles.) Every conv is
// weight-normalised. Blocks add their scaled residual: x + res_scale * block(x).
//   WideBlockA: 3x3 F->rF, ReLU, 3x3 rF->F
//   WideBlockB: 1x1 F->rF, ReLU, 1x1 rF->int(0.8F) (linear low-rank), 3x3 ->F; on the CPU the
//               1x1 pair runs fused, its wide activation never stored (sr/ops/wide_pair.hpp)
// Parameter names follow the official code: head.0, body.i.body.{0,2[,3]}, tail.0, skip.0.
#include <string>
#include <vector>

#include "sr/models/config.hpp"
#include "sr/nn/conv2d.hpp"
#include "sr/nn/layers.hpp"
#include "sr/ops/wide_pair.hpp"

namespace sr::models {

template <class T, class D>
struct WideBlockA {
    nn::Conv2d<T, D> expand;   // F -> r*F, 3x3, ReLU after
    nn::Conv2d<T, D> project;  // r*F -> F, 3x3
    T res_scale = T(1);

    WideBlockA(const ModelConfig& c, Rng& rng)
        : expand({c.num_filters, c.expansion * c.num_filters, 3, true}, rng),
          project({c.expansion * c.num_filters, c.num_filters, 3, true}, rng),
          res_scale(static_cast<T>(c.res_scale)) {}

    Tensor<T, D> operator()(const Tensor<T, D>& x) const {
        return residual_conv_chain(x, {expand.link(true), project.link()}, res_scale);
    }

    void collect_parameters(nn::ParameterList<T, D>& list, const std::string& prefix) const {
        expand.collect_parameters(list, prefix + ".body.0");
        project.collect_parameters(list, prefix + ".body.2");
    }
    WideBlockA fold_weight_norm() const {
        WideBlockA b = *this;
        b.expand = expand.fold_weight_norm();
        b.project = project.fold_weight_norm();
        return b;
    }
};

template <class T, class D>
struct WideBlockB {
    nn::Conv2d<T, D> expand;   // F -> r*F, 1x1, ReLU after
    nn::Conv2d<T, D> reduce;   // r*F -> int(0.8*F), 1x1, linear
    nn::Conv2d<T, D> spatial;  // int(0.8*F) -> F, 3x3
    T res_scale = T(1);

    WideBlockB(const ModelConfig& c, Rng& rng)
        : expand({c.num_filters, c.expansion * c.num_filters, 1, true}, rng),
          reduce({c.expansion * c.num_filters, c.low_rank_channels(), 1, true}, rng),
          spatial({c.low_rank_channels(), c.num_filters, 3, true}, rng),
          res_scale(static_cast<T>(c.res_scale)) {}

    Tensor<T, D> operator()(const Tensor<T, D>& x) const {
        return wide_pair_block(x, expand.link(true), reduce.link(), spatial.link(), res_scale);
    }

    void collect_parameters(nn::ParameterList<T, D>& list, const std::string& prefix) const {
        expand.collect_parameters(list, prefix + ".body.0");
        reduce.collect_parameters(list, prefix + ".body.2");
        spatial.collect_parameters(list, prefix + ".body.3");
    }
    WideBlockB fold_weight_norm() const {
        WideBlockB b = *this;
        b.expand = expand.fold_weight_norm();
        b.reduce = reduce.fold_weight_norm();
        b.spatial = spatial.fold_weight_norm();
        return b;
    }
};

template <class T, class D, template <class, class> class Block>
class Wdsr {
public:
    using value_type = T;
    using device_type = D;

    Wdsr(const ModelConfig& config, Rng& rng) : m_config(config) {
        config.validate();
        const int64_t f = config.num_filters, out = 3 * config.scale * config.scale;
        m_head = nn::Conv2d<T, D>({3, f, 3, true}, rng);
        for (int64_t i = 0; i < config.num_blocks; ++i) m_body.emplace_back(config, rng);
        m_tail = nn::Conv2d<T, D>({f, out, 3, true}, rng);
        m_skip = nn::Conv2d<T, D>({3, out, 5, true}, rng);
    }

    // lr [N, H, W, 3] in pixel units -> sr [N, sH, sW, 3] in pixel units (not clipped).
    Tensor<T, D> operator()(const Tensor<T, D>& lr) const {
        const auto x = normalize(lr);
        auto h = m_head(x);
        for (const auto& block : m_body) h = block(h);
        return denormalize(pixel_shuffle(m_tail(h) + m_skip(x), m_config.scale));
    }

    void collect_parameters(nn::ParameterList<T, D>& list, const std::string& prefix = "") const {
        m_head.collect_parameters(list, nn::join_name(prefix, "head.0"));
        for (std::size_t i = 0; i < m_body.size(); ++i)
            m_body[i].collect_parameters(list, nn::join_name(prefix, "body." + std::to_string(i)));
        m_tail.collect_parameters(list, nn::join_name(prefix, "tail.0"));
        m_skip.collect_parameters(list, nn::join_name(prefix, "skip.0"));
    }

    const ModelConfig& config() const { return m_config; }
    int scale() const { return m_config.scale; }
    int64_t receptive_radius() const { return builtin_receptive_radius(m_config); }

    // The same network with every weight norm folded into plain weights (inference only).
    Wdsr fold_weight_norm() const {
        Wdsr m = *this;
        m.m_head = m_head.fold_weight_norm();
        for (auto& b : m.m_body) b = b.fold_weight_norm();
        m.m_tail = m_tail.fold_weight_norm();
        m.m_skip = m_skip.fold_weight_norm();
        return m;
    }

private:
    ModelConfig m_config;
    nn::Conv2d<T, D> m_head, m_tail, m_skip;
    std::vector<Block<T, D>> m_body;
};

template <class T, class D = Cpu>
using WdsrA = Wdsr<T, D, WideBlockA>;
template <class T, class D = Cpu>
using WdsrB = Wdsr<T, D, WideBlockB>;

}  // namespace sr::models
