#pragma once
// A new op written outside the library: box_mean(x, r), the mean of each channel over the
// (2r+1) x (2r+1) window around every pixel of x [N, H, W, C] (zeros beyond the border, always
// divided by the full window), shape kept. It is linear with a symmetric matrix (y = A x with
// A[i][j] = 1/(2r+1)^2 when pixels i and j are within r of each other), so its backward is the
// same op applied to the gradient: dL/dx = A^T dL/dy = A dL/dy.
#include <sr/autograd/node.hpp>

namespace example {

// y = box_mean(x, r) on CPU tensors (contiguous).
template <class T>
void box_mean_into(const sr::Tensor<T>& y, const sr::Tensor<T>& x, int64_t r) {
    const int64_t n = x.dim(0), h = x.dim(1), w = x.dim(2), c = x.dim(3);
    const T scale = T(1) / static_cast<T>((2 * r + 1) * (2 * r + 1));
    for (int64_t b = 0; b < n; ++b)
        for (int64_t i = 0; i < h; ++i)
            for (int64_t j = 0; j < w; ++j)
                for (int64_t k = 0; k < c; ++k) {
                    T acc = 0;
                    for (int64_t u = std::max<int64_t>(0, i - r); u <= std::min(h - 1, i + r); ++u)
                        for (int64_t v = std::max<int64_t>(0, j - r); v <= std::min(w - 1, j + r); ++v)
                            acc += x.data()[((b * h + u) * w + v) * c + k];
                    y.data()[((b * h + i) * w + j) * c + k] = acc * scale;
                }
}

// The op on any device: CPU tensors directly, others through host memory.
template <class T, class D>
sr::Tensor<T, D> box_mean_raw(const sr::Tensor<T, D>& x, int64_t r) {
    const sr::Tensor<T> host = x.template to<sr::Cpu>().contiguous();
    auto y = sr::Tensor<T>::empty(host.shape());
    box_mean_into(y, host, r);
    return y.template to<D>();
}

template <class T, class D>
class BoxMeanNode final : public sr::autograd::Node<T, D> {
public:
    BoxMeanNode(const sr::Tensor<T, D>& x, int64_t r) : sr::autograd::Node<T, D>({x}), m_radius(r) {}
    void backward(const sr::Tensor<T, D>& grad_output) override {
        this->accumulate(0, box_mean_raw(grad_output, m_radius));
    }
    const char* name() const override { return "box_mean"; }

private:
    int64_t m_radius;
};

// The differentiable op: records a node when x needs a gradient, like the library's ops.
template <class T, class D>
sr::Tensor<T, D> box_mean(const sr::Tensor<T, D>& x, int64_t r) {
    SR_CHECK(x.rank() == 4 && r >= 0, "box_mean: x must be [N, H, W, C] and r >= 0, got ", x.shape(), ", r = ", r);
    sr::Tensor<T, D> y = box_mean_raw(x, r);
    if (sr::autograd::should_record(x)) sr::autograd::attach_node<BoxMeanNode<T, D>>(y, x, r);
    return y;
}

}  // namespace example
