#pragma once
// WDSR-B's wide pair, a 1x1 convolution expanding to a wide activation, ReLU, and a 1x1
// convolution reducing it, as one op; and WDSR-B's residual block built on it.
//
//   x:      [N, H, W, C] NHWC
//   expand: weight OHWI [Wd, 1, 1, C], bias [Wd], relu_after true
//   reduce: weight OHWI [O, 1, 1, Wd], bias [O], relu_after false
//   wide_pair(x, expand, reduce) = conv2d(relu(conv2d(x, expand)), reduce): [N, H, W, O]
//
// Why one op: float on the CPU at fp32 precision, where the direct kernels run (AVX2 or
// AVX-512), it runs fused (sr/ops/cpu/wide_pair_direct.hpp): the wide activation (Wd = 6C floats
// per pixel) is computed a tile of pixels at a time and never stored; its backward recomputes it.
// Elsewhere (bf16, where the oneDNN chain of sr/ops/residual_chain.hpp runs the whole block; the
// GPU; double for gradient checks), and with set_fused_cpu_blocks(false) or SR_FUSED_BLOCKS=off
// for comparisons, it is the two convolutions, which are also the reference the tests compare
// the fused op with.
#include <cstdlib>
#include <string>
#include <type_traits>

#include "sr/ops/cpu/wide_pair_direct.hpp"
#include "sr/ops/residual_chain.hpp"

namespace sr {

namespace ops::detail {
inline bool& fused_cpu_blocks_setting() {
    static bool fused = [] {
        const char* env = std::getenv("SR_FUSED_BLOCKS");
        const std::string value = env ? env : "";
        return !(value == "off" || value == "0");
    }();
    return fused;
}
}  // namespace ops::detail

// Whether WDSR-B's wide pair runs fused on the CPU where it can (default on).
inline void set_fused_cpu_blocks(bool fused) { ops::detail::fused_cpu_blocks_setting() = fused; }
inline bool fused_cpu_blocks() { return ops::detail::fused_cpu_blocks_setting(); }

namespace ops::detail {
// Whether the fused CPU kernel computes wide_pair(x, expand, reduce): float, CPU, fp32 precision,
// direct kernels available, the fusion on, and operands of the shapes in the header comment
// (anything else goes to the convolutions, which report a mismatch).
template <class T, class D>
bool wide_pair_fusable(const Tensor<T, D>& x, const ConvLink<T, D>& expand, const ConvLink<T, D>& reduce) {
    if constexpr (std::is_same_v<T, float> && is_cpu_v<D>) {
        if (!fused_cpu_blocks() || cpu_precision() != Precision::fp32 || !direct::available()) return false;
        const auto& we = expand.weight;
        const auto& wr = reduce.weight;
        const auto one_by_one = [](const Tensor<T, D>& w) {
            return w.rank() == 4 && w.dim(1) == 1 && w.dim(2) == 1 && w.is_contiguous();
        };
        const auto bias_of = [](const Tensor<T, D>& b, int64_t n) {
            return b.defined() && b.rank() == 1 && b.dim(0) == n && b.is_contiguous();
        };
        return x.rank() == 4 && x.is_contiguous() && one_by_one(we) && one_by_one(wr) && we.dim(3) == x.dim(3) &&
               wr.dim(3) == we.dim(0) && bias_of(expand.bias, we.dim(0)) && bias_of(reduce.bias, wr.dim(0)) &&
               expand.relu_after && !reduce.relu_after;
    } else {
        return false;
    }
}

inline direct::WidePairShape wide_pair_shape(const Tensor<float, Cpu>& x, const Tensor<float, Cpu>& we,
                                             const Tensor<float, Cpu>& wr) {
    return {x.dim(0) * x.dim(1) * x.dim(2), x.dim(3), we.dim(0), wr.dim(0)};
}
}  // namespace ops::detail

namespace autograd {
// Inputs: x, expand weight, expand bias, reduce weight, reduce bias (all float on the CPU).
class WidePairNode final : public Node<float, Cpu> {
public:
    WidePairNode(const Tensor<float, Cpu>& x, const ConvLink<float, Cpu>& expand, const ConvLink<float, Cpu>& reduce)
        : Node<float, Cpu>({x, expand.weight, expand.bias, reduce.weight, reduce.bias}) {}
    void backward(const Tensor<float, Cpu>& grad_output) override {
        using Tensor = sr::Tensor<float, Cpu>;
        const Tensor grad_y = grad_output.contiguous();
        const auto& x = this->input(0);
        const auto shape = ops::detail::wide_pair_shape(x, this->input(1), this->input(3));
        Tensor grad_x = this->input_needs_grad(0) ? Tensor::empty(x.shape()) : Tensor();
        bool weights = false;
        for (std::size_t i = 1; i < 5; ++i) weights = weights || this->input_needs_grad(i);
        Tensor grads[5];
        ops::direct::WidePairWeightGrads into;
        if (weights) {
            for (std::size_t i = 1; i < 5; ++i) grads[i] = Tensor::empty(this->input(i).shape());
            into = {grads[1].data(), grads[2].data(), grads[3].data(), grads[4].data()};
        }
        ops::direct::wide_pair_backward(shape, x.data(), this->input(1).data(), this->input(2).data(),
                                        this->input(3).data(), grad_y.data(), grad_x.defined() ? grad_x.data() : nullptr,
                                        into);
        if (grad_x.defined()) this->accumulate(0, grad_x);
        for (std::size_t i = 1; i < 5; ++i)
            if (this->input_needs_grad(i)) this->accumulate(i, grads[i]);
    }
    const char* name() const override { return "wide_pair"; }
};
}  // namespace autograd

// conv2d(relu(conv2d(x, expand)), reduce); shapes in the header comment.
template <class T, class D>
Tensor<T, D> wide_pair(const Tensor<T, D>& x, const ConvLink<T, D>& expand, const ConvLink<T, D>& reduce) {
    if constexpr (std::is_same_v<T, float> && is_cpu_v<D>) {
        if (ops::detail::wide_pair_fusable(x, expand, reduce)) {
            const auto s = ops::detail::wide_pair_shape(x, expand.weight, reduce.weight);
            ops::count_conv2d_forward(x.dim(0), x.dim(1), x.dim(2), s.c, s.wide, 1);
            ops::count_conv2d_forward(x.dim(0), x.dim(1), x.dim(2), s.wide, s.out, 1);
            auto y = Tensor<T, D>::empty(Shape{x.dim(0), x.dim(1), x.dim(2), s.out});
            ops::direct::wide_pair_forward(s, x.data(), expand.weight.data(), expand.bias.data(), reduce.weight.data(),
                                           reduce.bias.data(), y.data());
            if (ops::detail::chain_records(x, {expand, reduce}))
                autograd::attach_node<autograd::WidePairNode>(y, x, expand, reduce);
            return y;
        }
    }
    return conv2d(conv2d(x, expand.weight, expand.bias, expand.relu_after), reduce.weight, reduce.bias, reduce.relu_after);
}

// WDSR-B's residual block: x + res_scale * conv2d(wide_pair(x, expand, reduce), spatial), with
// the wide pair fused where it can be (see above) and otherwise the whole block as
// residual_conv_chain (which runs it as one oneDNN chain at bf16).
template <class T, class D>
Tensor<T, D> wide_pair_block(const Tensor<T, D>& x, const ConvLink<T, D>& expand, const ConvLink<T, D>& reduce,
                             const ConvLink<T, D>& spatial, T res_scale) {
    if (!ops::detail::wide_pair_fusable(x, expand, reduce)) return residual_conv_chain(x, {expand, reduce, spatial}, res_scale);
    const auto h = wide_pair(x, expand, reduce);
    const bool record = autograd::should_record(h) || ops::detail::chain_records(x, {spatial});
    if (!record && res_scale == T(1) && !spatial.relu_after) {
        // The convolution accumulates into a copy of x: no separate pass for the residual add.
        auto y = x.clone();
        ops::conv2d_forward(h, spatial.weight, spatial.bias, y, ConvEpilogue{false, true});
        return y;
    }
    return add_scaled(x, conv2d(h, spatial.weight, spatial.bias, spatial.relu_after), res_scale);
}

}  // namespace sr
