#pragma once
// Weight normalisation (Salimans & Kingma 2016), per output channel:
//   w[o, ...] = g[o] * v[o, ...] / ||v[o, ...]||
// v and w: [O, ...] (conv weights OHWI, so each output channel's row is contiguous), g: [O].
// The norm is over every element of the row (kh, kw and input channels), without epsilon, as
// torch.nn.utils.weight_norm(dim=0) and tensorflow-addons WeightNormalization compute it.
// Backward, with n = ||v||, s = sum(grad_w * v):
//   grad_g = s / n,   grad_v = (g / n) * (grad_w - (s / n^2) * v)
#include <atomic>
#include <cmath>

#include "sr/autograd/node.hpp"
#include "sr/core/parallel.hpp"
#include "sr/core/tensor.hpp"
#include "sr/cuda/weight_norm.hpp"

namespace sr {

namespace ops {

namespace detail {
template <class T, class D>
void check_weight_norm(const Tensor<T, D>& v, const Tensor<T, D>& g) {
    SR_CHECK(v.rank() >= 1 && g.rank() == 1 && g.dim(0) == v.dim(0), "weight_norm: v ", v.shape(), " and g ",
             g.shape(), " must be [O, ...] and [O]");
    SR_CHECK(v.is_contiguous() && g.is_contiguous(), "weight_norm: v and g must be contiguous");
}
}  // namespace detail

// w = g * v / ||v|| per row; norms[o] = ||v[o]|| (kept for the backward).
template <class T, class D>
void weight_norm_forward(const Tensor<T, D>& v, const Tensor<T, D>& g, const Tensor<T, D>& w, const Tensor<T, D>& norms) {
    detail::check_weight_norm(v, g);
    const int64_t rows = v.dim(0), row_size = v.numel() / std::max<int64_t>(rows, 1);
    if constexpr (is_cuda_v<D>) {
        // A zero row is raised at the next synchronising call (sr/cuda/weight_norm.hpp), not here.
        cuda::WeightShape v_shape;
        v_shape.rank = v.rank();
        for (int i = 0; i < v.rank(); ++i) v_shape.dims[i] = v.dim(i);
        cuda::weight_norm_forward(v.data(), g.data(), rows, row_size, w.data(), norms.data(), v_shape);
    } else {
        const T *pv = v.data(), *pg = g.data();
        T *pw = w.data(), *pn = norms.data();
        std::atomic<int64_t> zero_row{-1};
        parallel_for(rows, 8, [&](int64_t begin, int64_t end) {
            for (int64_t o = begin; o < end; ++o) {
                const T* row = pv + o * row_size;
                double sq = 0;
                for (int64_t k = 0; k < row_size; ++k) sq += static_cast<double>(row[k]) * row[k];
                const T norm = static_cast<T>(std::sqrt(sq));
                if (!(norm > T(0))) zero_row = o;
                pn[o] = norm;
                const T factor = pg[o] / norm;
                for (int64_t k = 0; k < row_size; ++k) pw[o * row_size + k] = factor * row[k];
            }
        });
        SR_CHECK(zero_row < 0, "weight_norm: row ", zero_row.load(), " of v (shape ", v.shape(),
                 ") is all zeros, so its direction is undefined");
    }
}

template <class T, class D>
void weight_norm_backward(const Tensor<T, D>& v, const Tensor<T, D>& g, const Tensor<T, D>& norms,
                          const Tensor<T, D>& grad_w, const Tensor<T, D>& grad_v, const Tensor<T, D>& grad_g) {
    const int64_t rows = v.dim(0), row_size = v.numel() / std::max<int64_t>(rows, 1);
    if constexpr (is_cuda_v<D>) {
        cuda::weight_norm_backward(v.data(), g.data(), norms.data(), grad_w.data(), rows, row_size, grad_v.data(),
                                   grad_g.data());
    } else {
        const T *pv = v.data(), *pg = g.data(), *pn = norms.data(), *pgw = grad_w.data();
        T *pgv = grad_v.data(), *pgg = grad_g.data();
        parallel_for(rows, 8, [&](int64_t begin, int64_t end) {
            for (int64_t o = begin; o < end; ++o) {
                const T* row = pv + o * row_size;
                const T* grow = pgw + o * row_size;
                double s = 0;
                for (int64_t k = 0; k < row_size; ++k) s += static_cast<double>(grow[k]) * row[k];
                const double n = pn[o];
                pgg[o] = static_cast<T>(s / n);
                const T a = static_cast<T>(pg[o] / n), b = static_cast<T>(s / (n * n));
                for (int64_t k = 0; k < row_size; ++k) pgv[o * row_size + k] = a * (grow[k] - b * row[k]);
            }
        });
    }
}

}  // namespace ops

namespace autograd {
template <class T, class D>
class WeightNormNode final : public Node<T, D> {
public:
    WeightNormNode(const Tensor<T, D>& v, const Tensor<T, D>& g, Tensor<T, D> norms)
        : Node<T, D>({v, g}), m_norms(std::move(norms)) {}
    void backward(const Tensor<T, D>& grad_output) override {
        auto grad_v = Tensor<T, D>::empty(this->input(0).shape());
        auto grad_g = Tensor<T, D>::empty(this->input(1).shape());
        ops::weight_norm_backward(this->input(0), this->input(1), m_norms, grad_output.contiguous(), grad_v, grad_g);
        this->accumulate(0, grad_v);
        this->accumulate(1, grad_g);
    }
    const char* name() const override { return "weight_norm"; }

private:
    Tensor<T, D> m_norms;
};
}  // namespace autograd

// w = g * v / ||v|| (per output channel); shapes in the header comment.
template <class T, class D>
Tensor<T, D> weight_norm(const Tensor<T, D>& v, const Tensor<T, D>& g) {
    auto w = Tensor<T, D>::empty(v.shape());
    auto norms = Tensor<T, D>::empty(g.shape());
    ops::weight_norm_forward(v, g, w, norms);
    if (autograd::should_record(v, g)) autograd::attach_node<autograd::WeightNormNode<T, D>>(w, v, g, norms);
    return w;
}

// ||v[o]|| per output channel: the g that makes weight_norm(v, g) == v (used to initialise g).
template <class T>
Tensor<T, Cpu> row_norms(const Tensor<T, Cpu>& v) {
    SR_CHECK(v.rank() >= 1 && v.is_contiguous(), "row_norms: expects a contiguous [O, ...] tensor, got ", v.shape());
    const int64_t rows = v.dim(0), row_size = v.numel() / std::max<int64_t>(rows, 1);
    auto out = Tensor<T, Cpu>::empty(Shape{rows});
    for (int64_t o = 0; o < rows; ++o) {
        double sq = 0;
        for (int64_t k = 0; k < row_size; ++k) sq += static_cast<double>(v.data()[o * row_size + k]) * v.data()[o * row_size + k];
        out.data()[o] = static_cast<T>(std::sqrt(sq));
    }
    return out;
}

}  // namespace sr
