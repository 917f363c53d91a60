#pragma once
// Losses between a prediction and a target of the same shape (any layout, contiguous):
//   l1_loss  = mean(|prediction - target|)      (the seed's MAE, in the units of the inputs)
//   mse_loss = mean((prediction - target)^2)
// Both return a rank-0 tensor and differentiate with respect to both arguments. The subgradient of
// |d| at d = 0 is taken as 0, as PyTorch's L1Loss does.
#include "sr/autograd/node.hpp"
#include "sr/core/tensor.hpp"
#include "sr/cuda/reduce.hpp"
#include "sr/ops/elementwise.hpp"
#include "sr/ops/reduce.hpp"

namespace sr {

enum class LossKind { l1, mse };

namespace ops {

template <class T, class D>
void loss_forward(LossKind kind, const Tensor<T, D>& prediction, const Tensor<T, D>& target, const Tensor<T, D>& out) {
    detail::check_same(kind == LossKind::l1 ? "l1_loss" : "mse_loss", prediction, target);
    const int64_t n = prediction.numel();
    SR_CHECK(n > 0, "loss of empty tensors");
    if constexpr (is_cuda_v<D>) {
        if (kind == LossKind::l1)
            cuda::l1_loss_forward(prediction.data(), target.data(), n, out.data());
        else
            cuda::mse_loss_forward(prediction.data(), target.data(), n, out.data());
    } else {
        const T *p = prediction.data(), *t = target.data();
        double total = kind == LossKind::l1 ? parallel_sum(n, [=](int64_t i) { T d = p[i] - t[i]; return d < 0 ? -d : d; })
                                            : parallel_sum(n, [=](int64_t i) { T d = p[i] - t[i]; return d * d; });
        out.data()[0] = static_cast<T>(total / static_cast<double>(n));
    }
}

// grad_prediction = dLoss/dPrediction * grad_out; the target's gradient is its negative.
template <class T, class D>
void loss_backward(LossKind kind, const Tensor<T, D>& prediction, const Tensor<T, D>& target,
                   const Tensor<T, D>& grad_out, const Tensor<T, D>& grad_prediction) {
    const int64_t n = prediction.numel();
    if constexpr (is_cuda_v<D>) {
        if (kind == LossKind::l1)
            cuda::l1_loss_backward(prediction.data(), target.data(), grad_out.data(), n, grad_prediction.data());
        else
            cuda::mse_loss_backward(prediction.data(), target.data(), grad_out.data(), n, grad_prediction.data());
    } else {
        const T *p = prediction.data(), *t = target.data();
        T* g = grad_prediction.data();
        const T factor = grad_out.data()[0] / static_cast<T>(n);
        if (kind == LossKind::l1)
            detail::for_each_index(n, [=](int64_t i) {
                T d = p[i] - t[i];
                g[i] = d > 0 ? factor : (d < 0 ? -factor : T(0));
            });
        else
            detail::for_each_index(n, [=](int64_t i) { g[i] = T(2) * factor * (p[i] - t[i]); });
    }
}

}  // namespace ops

namespace autograd {
template <class T, class D>
class LossNode final : public Node<T, D> {
public:
    LossNode(LossKind kind, const Tensor<T, D>& prediction, const Tensor<T, D>& target)
        : Node<T, D>({prediction, target}), m_kind(kind) {}
    void backward(const Tensor<T, D>& grad_output) override {
        auto g = Tensor<T, D>::empty(this->input(0).shape());
        ops::loss_backward(m_kind, this->input(0), this->input(1), grad_output, g);
        this->accumulate(0, g);
        if (this->input_needs_grad(1)) {
            auto neg = Tensor<T, D>::empty(g.shape());
            ops::scale_into(neg, g, T(-1));
            this->accumulate(1, neg);
        }
    }
    const char* name() const override { return m_kind == LossKind::l1 ? "l1_loss" : "mse_loss"; }

private:
    LossKind m_kind;
};
}  // namespace autograd

template <class T, class D>
Tensor<T, D> loss(LossKind kind, const Tensor<T, D>& prediction, const Tensor<T, D>& target) {
    auto out = Tensor<T, D>::empty(Shape{});
    ops::loss_forward(kind, prediction, target, out);
    if (autograd::should_record(prediction, target))
        autograd::attach_node<autograd::LossNode<T, D>>(out, kind, prediction, target);
    return out;
}
template <class T, class D>
Tensor<T, D> l1_loss(const Tensor<T, D>& prediction, const Tensor<T, D>& target) {
    return loss(LossKind::l1, prediction, target);
}
template <class T, class D>
Tensor<T, D> mse_loss(const Tensor<T, D>& prediction, const Tensor<T, D>& target) {
    return loss(LossKind::mse, prediction, target);
}

}  // namespace sr
