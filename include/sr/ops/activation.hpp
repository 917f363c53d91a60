#pragma once
// Smooth activations: sigmoid(x) = 1 / (1 + exp(-x)) elementwise, any shape, contiguous (the gate
// of attention layers). CPU loop; on a CUDA device the operands go through host memory (correct,
// not fast: no kernel of its own yet).
#include <cmath>

#include "sr/autograd/node.hpp"
#include "sr/core/tensor.hpp"

namespace sr {

namespace ops {

namespace detail {
// Runs f on host copies of CUDA operands and copies `out` back, or on the operands themselves.
template <class T, class D, class F, class... Inputs>
void on_host(const Tensor<T, D>& out, F&& f, const Inputs&... inputs) {
    if constexpr (is_cpu_v<D>) {
        f(out, inputs...);
    } else {
        const Tensor<T, Cpu> host_out = Tensor<T, Cpu>::empty(out.shape());
        f(host_out, inputs.template to<Cpu>()...);
        host_out.template to<D>().copy_to(out);
    }
}
}  // namespace detail

// out = sigmoid(x); with grad_y given, out = grad_y * sigmoid(x) * (1 - sigmoid(x)) instead.
template <class T, class D>
void sigmoid_into(const Tensor<T, D>& out, const Tensor<T, D>& x, const Tensor<T, D>* grad_y = nullptr) {
    SR_CHECK(x.is_contiguous() && out.shape() == x.shape(), "sigmoid: x must be contiguous, got ", x.shape());
    auto kernel = [](const Tensor<T, Cpu>& o, const Tensor<T, Cpu>& in, const Tensor<T, Cpu>* g) {
        for (int64_t i = 0; i < in.numel(); ++i) {
            const T y = T(1) / (T(1) + std::exp(-in.data()[i]));
            o.data()[i] = g ? g->data()[i] * y * (T(1) - y) : y;
        }
    };
    if (grad_y)
        detail::on_host(out, [&](const Tensor<T, Cpu>& o, const Tensor<T, Cpu>& in, const Tensor<T, Cpu>& g) {
            kernel(o, in, &g);
        }, x, *grad_y);
    else
        detail::on_host(out, [&](const Tensor<T, Cpu>& o, const Tensor<T, Cpu>& in) { kernel(o, in, nullptr); }, x);
}

}  // namespace ops

namespace autograd {

// Recomputes sigmoid(x) in backward rather than keeping the output: a node holding its own
// output would be a reference cycle (output -> grad_fn -> output).
template <class T, class D>
class SigmoidNode final : public Node<T, D> {
public:
    explicit SigmoidNode(const Tensor<T, D>& x) : Node<T, D>({x}) {}
    void backward(const Tensor<T, D>& grad_output) override {
        auto g = Tensor<T, D>::empty(grad_output.shape());
        ops::sigmoid_into(g, this->input(0), &grad_output);
        this->accumulate(0, g);
    }
    const char* name() const override { return "sigmoid"; }
};

}  // namespace autograd

template <class T, class D>
Tensor<T, D> sigmoid(const Tensor<T, D>& x) {
    auto out = Tensor<T, D>::empty(x.shape());
    ops::sigmoid_into(out, x);
    if (autograd::should_record(x)) autograd::attach_node<autograd::SigmoidNode<T, D>>(out, x);
    return out;
}

}  // namespace sr
