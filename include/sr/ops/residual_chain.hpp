#pragma once
// Residual block of convolutions: y = x + res_scale * link_last(... link_1(link_0(x))), where each
// link is conv2d(h, weight, bias) (sr/ops/conv2d.hpp) followed by a ReLU when relu_after. EDSR's,
// WDSR-A's and WDSR-B's residual blocks are all of this form (sr/models/).
//
//   x:     [N, H, W, C] NHWC, contiguous
//   links: weights OHWI [O_i, K_i, K_i, C_i] with C_0 = C, C_{i+1} = O_i and O_last = C; biases
//          [O_i] or undefined
//   y:     [N, H, W, C]
//
// Why one op: when no gradient is recorded (inference), the block runs fused on the CPU.
//  - bf16 (set_cpu_precision): one oneDNN chain (sr/ops/cpu/conv2d_onednn.hpp) converts x to bf16
//    once, keeps every intermediate activation in bf16 and adds the scaled residual inside the
//    last convolution, instead of a float round trip and a bf16 reorder around every convolution
//    plus a separate add pass.
//  - fp32 with res_scale 1: the last convolution accumulates into a copy of x (ConvEpilogue), one
//    pass over the output fewer than a separate add; every backend keeps its measured choice.
// With gradient recording, on the GPU and for other scalar types it is the plain composition of
// conv2d, ReLU and add_scaled, which is also the reference the tests compare the fused paths with.
#include <type_traits>
#include <vector>

#include "sr/ops/conv2d.hpp"
#include "sr/ops/elementwise.hpp"

namespace sr {

template <class T, class D>
struct ConvLink {
    Tensor<T, D> weight;
    Tensor<T, D> bias;  // undefined: no bias
    bool relu_after = false;
};

namespace ops::detail {
template <class T, class D>
bool chain_records(const Tensor<T, D>& x, const std::vector<ConvLink<T, D>>& links) {
    bool record = autograd::should_record(x);
    for (const auto& link : links)
        record = record || autograd::should_record(link.weight) || (link.bias.defined() && autograd::should_record(link.bias));
    return record;
}

// The composition, op by op (recorded for autograd where needed).
template <class T, class D>
Tensor<T, D> residual_chain_unfused(const Tensor<T, D>& x, const std::vector<ConvLink<T, D>>& links, T res_scale) {
    Tensor<T, D> h = x;
    for (const auto& link : links) h = conv2d(h, link.weight, link.bias, link.relu_after);
    return add_scaled(x, h, res_scale);
}

// The oneDNN chain's shape, checking what the fused path relies on (the unfused path's conv2d
// checks the same through conv_geometry).
inline onednn::ChainShape chain_shape(const Tensor<float, Cpu>& x, const std::vector<ConvLink<float, Cpu>>& links,
                                      float res_scale) {
    onednn::ChainShape shape;
    shape.n = x.dim(0), shape.h = x.dim(1), shape.w = x.dim(2);
    for (const auto& link : links) {
        const auto& w = link.weight;
        SR_CHECK(w.rank() == 4 && w.dim(1) == w.dim(2) && w.dim(1) % 2 == 1 && w.is_contiguous(),
                 "residual_conv_chain: weights must be contiguous OHWI [O, K, K, C] with an odd square kernel, got shape ",
                 w.shape());
        SR_CHECK(!link.bias.defined() || (link.bias.rank() == 1 && link.bias.dim(0) == w.dim(0) && link.bias.is_contiguous()),
                 "residual_conv_chain: bias shape ", link.bias.defined() ? link.bias.shape() : Shape{}, " does not match ",
                 w.dim(0), " output channels");
        shape.links.push_back({w.dim(3), w.dim(0), w.dim(1), link.bias.defined(), link.relu_after});
    }
    SR_CHECK(shape.links.front().c == x.dim(3), "residual_conv_chain: input has ", x.dim(3),
             " channels (shape ", x.shape(), ") but the first weights expect ", shape.links.front().c);
    shape.res_scale = res_scale;
    shape.bf16 = cpu_precision() == Precision::bf16;
    return shape;
}
}  // namespace ops::detail

template <class T, class D>
Tensor<T, D> residual_conv_chain(const Tensor<T, D>& x, const std::vector<ConvLink<T, D>>& links, T res_scale) {
    SR_CHECK(!links.empty(), "residual_conv_chain: no convolutions (input shape ", x.shape(), ")");
    SR_CHECK(x.rank() == 4, "residual_conv_chain: input must be NHWC [N, H, W, C], got shape ", x.shape());
    if constexpr (std::is_same_v<T, float> && is_cpu_v<D>) {
        if (!ops::detail::chain_records(x, links)) {
            const auto shape = ops::detail::chain_shape(x, links, res_scale);
            if (shape.bf16) {
                const Tensor<T, D> input = x.contiguous();
                auto y = Tensor<T, D>::empty(x.shape());
                std::vector<const float*> weights, biases;
                for (const auto& link : shape.links)
                    ops::count_conv2d_forward(shape.n, shape.h, shape.w, link.c, link.o, link.k);
                for (const auto& link : links) {
                    weights.push_back(link.weight.data());
                    biases.push_back(link.bias.defined() ? link.bias.data() : nullptr);
                }
                ops::onednn::conv2d_chain_residual(shape, input.data(), weights, biases, y.data());
                return y;
            }
            if (res_scale == T(1) && !links.back().relu_after) {
                Tensor<T, D> h = x;
                for (std::size_t i = 0; i + 1 < links.size(); ++i)
                    h = conv2d(h, links[i].weight, links[i].bias, links[i].relu_after);
                auto y = x.clone();
                ops::conv2d_forward(h, links.back().weight, links.back().bias, y, ConvEpilogue{false, true});
                return y;
            }
        }
    }
    return ops::detail::residual_chain_unfused(x, links, res_scale);
}

}  // namespace sr
