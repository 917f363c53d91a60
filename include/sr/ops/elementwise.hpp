#pragma once
// Elementwise ops: add, scaled add, scalar and elementwise multiply, ReLU.
//
// Contract: operands have identical shapes (no broadcasting) and are contiguous; outputs are new
// contiguous tensors of the same shape. The raw kernels in sr::ops write into a given output and
// dispatch to the CPU loop or the CUDA kernel; the differentiable functions in sr record a node.
#include "sr/autograd/node.hpp"
#include "sr/core/parallel.hpp"
#include "sr/core/tensor.hpp"
#include "sr/cuda/elementwise.hpp"

namespace sr {

namespace ops {

namespace detail {
template <class T, class D>
void check_same(const char* op, const Tensor<T, D>& a, const Tensor<T, D>& b) {
    SR_CHECK(a.shape() == b.shape(), op, ": shapes differ: ", a.shape(), " vs ", b.shape());
    SR_CHECK(a.is_contiguous() && b.is_contiguous(), op, ": operands must be contiguous (shapes ", a.shape(),
             " and ", b.shape(), ")");
}
// Runs f(i) for every element index, vectorized and split across the threads.
template <class F>
void for_each_index(int64_t count, F&& f) {
    parallel_for(count, k_elementwise_grain, [&](int64_t begin, int64_t end) {
#pragma omp simd
        for (int64_t i = begin; i < end; ++i) f(i);
    });
}
}  // namespace detail

// out = a + alpha * b (alpha = 1 for a plain add).
template <class T, class D>
void add_scaled_into(const Tensor<T, D>& out, const Tensor<T, D>& a, const Tensor<T, D>& b, T alpha) {
    detail::check_same("add", a, b);
    detail::check_same("add", a, out);
    const int64_t n = a.numel();
    if constexpr (is_cuda_v<D>) {
        if (alpha == T(1))
            cuda::add(a.data(), b.data(), out.data(), n);
        else
            cuda::add_scaled(a.data(), b.data(), alpha, out.data(), n);
    } else {
        const T *pa = a.data(), *pb = b.data();
        T* po = out.data();
        detail::for_each_index(n, [=](int64_t i) { po[i] = pa[i] + alpha * pb[i]; });
    }
}

// out = alpha * x
template <class T, class D>
void scale_into(const Tensor<T, D>& out, const Tensor<T, D>& x, T alpha) {
    detail::check_same("scale", x, out);
    if constexpr (is_cuda_v<D>) {
        cuda::scale(x.data(), alpha, out.data(), x.numel());
    } else {
        const T* px = x.data();
        T* po = out.data();
        detail::for_each_index(x.numel(), [=](int64_t i) { po[i] = alpha * px[i]; });
    }
}

// out = a * b elementwise
template <class T, class D>
void multiply_into(const Tensor<T, D>& out, const Tensor<T, D>& a, const Tensor<T, D>& b) {
    detail::check_same("multiply", a, b);
    detail::check_same("multiply", a, out);
    if constexpr (is_cuda_v<D>) {
        cuda::multiply(a.data(), b.data(), out.data(), a.numel());
    } else {
        const T *pa = a.data(), *pb = b.data();
        T* po = out.data();
        detail::for_each_index(a.numel(), [=](int64_t i) { po[i] = pa[i] * pb[i]; });
    }
}

template <class T, class D>
void relu_forward(const Tensor<T, D>& x, const Tensor<T, D>& y) {
    detail::check_same("relu", x, y);
    if constexpr (is_cuda_v<D>) {
        cuda::relu_forward(x.data(), y.data(), x.numel());
    } else {
        const T* px = x.data();
        T* py = y.data();
        detail::for_each_index(x.numel(), [=](int64_t i) { py[i] = px[i] > T(0) ? px[i] : T(0); });
    }
}

// grad_x = grad_y where x > 0, else 0 (the subgradient at 0 is taken as 0, as PyTorch does).
template <class T, class D>
void relu_backward(const Tensor<T, D>& x, const Tensor<T, D>& grad_y, const Tensor<T, D>& grad_x) {
    detail::check_same("relu backward", x, grad_y);
    detail::check_same("relu backward", x, grad_x);
    if constexpr (is_cuda_v<D>) {
        cuda::relu_backward(x.data(), grad_y.data(), grad_x.data(), x.numel());
    } else {
        const T *px = x.data(), *pg = grad_y.data();
        T* po = grad_x.data();
        detail::for_each_index(x.numel(), [=](int64_t i) { po[i] = px[i] > T(0) ? pg[i] : T(0); });
    }
}

}  // namespace ops

namespace autograd {

template <class T, class D>
class AddScaledNode final : public Node<T, D> {
public:
    AddScaledNode(const Tensor<T, D>& a, const Tensor<T, D>& b, T alpha) : Node<T, D>({a, b}), m_alpha(alpha) {}
    void backward(const Tensor<T, D>& grad_output) override {
        this->accumulate(0, grad_output);
        if (!this->input_needs_grad(1)) return;
        if (m_alpha == T(1)) {
            this->accumulate(1, grad_output);
        } else {
            auto g = Tensor<T, D>::empty(grad_output.shape());
            ops::scale_into(g, grad_output, m_alpha);
            this->accumulate(1, g);
        }
    }
    const char* name() const override { return "add"; }

private:
    T m_alpha;
};

template <class T, class D>
class ScaleNode final : public Node<T, D> {
public:
    ScaleNode(const Tensor<T, D>& x, T alpha) : Node<T, D>({x}), m_alpha(alpha) {}
    void backward(const Tensor<T, D>& grad_output) override {
        auto g = Tensor<T, D>::empty(grad_output.shape());
        ops::scale_into(g, grad_output, m_alpha);
        this->accumulate(0, g);
    }
    const char* name() const override { return "scale"; }

private:
    T m_alpha;
};

template <class T, class D>
class MultiplyNode final : public Node<T, D> {
public:
    MultiplyNode(const Tensor<T, D>& a, const Tensor<T, D>& b) : Node<T, D>({a, b}) {}
    void backward(const Tensor<T, D>& grad_output) override {
        for (std::size_t i = 0; i < 2; ++i) {
            if (!this->input_needs_grad(i)) continue;
            auto g = Tensor<T, D>::empty(grad_output.shape());
            ops::multiply_into(g, grad_output, this->input(1 - i));
            this->accumulate(i, g);
        }
    }
    const char* name() const override { return "multiply"; }
};

template <class T, class D>
class ReluNode final : public Node<T, D> {
public:
    explicit ReluNode(const Tensor<T, D>& x) : Node<T, D>({x}) {}
    void backward(const Tensor<T, D>& grad_output) override {
        auto g = Tensor<T, D>::empty(grad_output.shape());
        ops::relu_backward(this->input(0), grad_output, g);
        this->accumulate(0, g);
    }
    const char* name() const override { return "relu"; }
};

}  // namespace autograd

// a + alpha * b: residual connections with scaling (x + res_scale * body(x)) in one pass.
template <class T, class D>
Tensor<T, D> add_scaled(const Tensor<T, D>& a, const Tensor<T, D>& b, T alpha) {
    auto out = Tensor<T, D>::empty(a.shape());
    ops::add_scaled_into(out, a, b, alpha);
    if (autograd::should_record(a, b)) autograd::attach_node<autograd::AddScaledNode<T, D>>(out, a, b, alpha);
    return out;
}

template <class T, class D>
Tensor<T, D> add(const Tensor<T, D>& a, const Tensor<T, D>& b) {
    return add_scaled(a, b, T(1));
}

template <class T, class D>
Tensor<T, D> scale(const Tensor<T, D>& x, T alpha) {
    auto out = Tensor<T, D>::empty(x.shape());
    ops::scale_into(out, x, alpha);
    if (autograd::should_record(x)) autograd::attach_node<autograd::ScaleNode<T, D>>(out, x, alpha);
    return out;
}

// Elementwise product a * b.
template <class T, class D>
Tensor<T, D> multiply(const Tensor<T, D>& a, const Tensor<T, D>& b) {
    auto out = Tensor<T, D>::empty(a.shape());
    ops::multiply_into(out, a, b);
    if (autograd::should_record(a, b)) autograd::attach_node<autograd::MultiplyNode<T, D>>(out, a, b);
    return out;
}

template <class T, class D>
Tensor<T, D> relu(const Tensor<T, D>& x) {
    auto out = Tensor<T, D>::empty(x.shape());
    ops::relu_forward(x, out);
    if (autograd::should_record(x)) autograd::attach_node<autograd::ReluNode<T, D>>(out, x);
    return out;
}

template <class T, class D>
Tensor<T, D> operator+(const Tensor<T, D>& a, const Tensor<T, D>& b) {
    return add(a, b);
}
template <class T, class D>
Tensor<T, D> operator-(const Tensor<T, D>& a, const Tensor<T, D>& b) {
    return add_scaled(a, b, T(-1));
}
template <class T, class D, class S, class = std::enable_if_t<std::is_arithmetic_v<S>>>
Tensor<T, D> operator*(S alpha, const Tensor<T, D>& x) {
    return scale(x, static_cast<T>(alpha));
}
template <class T, class D, class S, class = std::enable_if_t<std::is_arithmetic_v<S>>>
Tensor<T, D> operator*(const Tensor<T, D>& x, S alpha) {
    return scale(x, static_cast<T>(alpha));
}

}  // namespace sr
