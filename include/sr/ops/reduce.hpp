#pragma once
// Full reductions to a scalar: sum and mean. Contract: any shape, contiguous; the result is a rank-0
// tensor. CPU sums accumulate in double per thread, so float reductions of millions of elements
// keep about 1e-7 relative accuracy.
#include <vector>

#include "sr/autograd/node.hpp"
#include "sr/core/parallel.hpp"
#include "sr/core/tensor.hpp"
#include "sr/cuda/reduce.hpp"
#include "sr/ops/elementwise.hpp"

namespace sr {

namespace ops {

// Sum over all elements of f(i), accumulated in double with per-thread partial sums.
template <class F>
double parallel_sum(int64_t count, F&& f) {
    std::vector<double> partial(static_cast<std::size_t>(num_threads()) + 1, 0.0);
    parallel_for(count, k_elementwise_grain, [&](int64_t begin, int64_t end) {
        double acc = 0.0;
#pragma omp simd reduction(+ : acc)
        for (int64_t i = begin; i < end; ++i) acc += static_cast<double>(f(i));
        partial[static_cast<std::size_t>(omp_get_thread_num())] += acc;
    });
    double total = 0.0;
    for (double p : partial) total += p;
    return total;
}

// out (rank 0) = factor * sum(x)
template <class T, class D>
void sum_into(const Tensor<T, D>& out, const Tensor<T, D>& x, T factor) {
    SR_CHECK(x.is_contiguous(), "sum: input of shape ", x.shape(), " must be contiguous");
    SR_CHECK(out.numel() == 1, "sum: output must hold one element");
    if constexpr (is_cuda_v<D>) {
        cuda::sum(x.data(), x.numel(), factor, out.data());
    } else {
        const T* p = x.data();
        out.data()[0] = static_cast<T>(factor * parallel_sum(x.numel(), [=](int64_t i) { return p[i]; }));
    }
}

// grad_x[i] = grad_out * factor for every i (backward of factor * sum)
template <class T, class D>
void broadcast_scalar_into(const Tensor<T, D>& grad_x, const Tensor<T, D>& grad_out, T factor) {
    if constexpr (is_cuda_v<D>) {
        cuda::fill_from_scalar(grad_out.data(), factor, grad_x.data(), grad_x.numel());
    } else {
        const T value = grad_out.data()[0] * factor;
        T* p = grad_x.data();
        detail::for_each_index(grad_x.numel(), [=](int64_t i) { p[i] = value; });
    }
}

}  // namespace ops

namespace autograd {
template <class T, class D>
class SumNode final : public Node<T, D> {
public:
    SumNode(const Tensor<T, D>& x, T factor) : Node<T, D>({x}), m_factor(factor) {}
    void backward(const Tensor<T, D>& grad_output) override {
        auto g = Tensor<T, D>::empty(this->input(0).shape());
        ops::broadcast_scalar_into(g, grad_output, m_factor);
        this->accumulate(0, g);
    }
    const char* name() const override { return "sum"; }

private:
    T m_factor;
};
}  // namespace autograd

namespace detail {
template <class T, class D>
Tensor<T, D> scaled_sum(const Tensor<T, D>& x, T factor) {
    auto out = Tensor<T, D>::empty(Shape{});
    ops::sum_into(out, x, factor);
    if (autograd::should_record(x)) autograd::attach_node<autograd::SumNode<T, D>>(out, x, factor);
    return out;
}
}  // namespace detail

template <class T, class D>
Tensor<T, D> sum(const Tensor<T, D>& x) {
    return detail::scaled_sum(x, T(1));
}

template <class T, class D>
Tensor<T, D> mean(const Tensor<T, D>& x) {
    SR_CHECK(x.numel() > 0, "mean: empty tensor of shape ", x.shape());
    return detail::scaled_sum(x, T(1) / static_cast<T>(x.numel()));
}

}  // namespace sr
