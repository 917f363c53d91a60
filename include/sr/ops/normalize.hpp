#pragma once
// Input normalisation of the WDSR/EDSR models (krasserm/wdsr and the official WDSR code):
//   normalize(x)   = (x - 255*mean) / 127.5     x: NHWC RGB in [0, 255]
//   denormalize(y) =  y * 127.5 + 255*mean      back to pixel units (not clipped)
// with the DIV2K RGB mean [0.4488, 0.4371, 0.4040]. Both are per-channel affine maps, so their
// backward multiplies the gradient by 1/127.5 or 127.5.
#include <array>

#include "sr/autograd/node.hpp"
#include "sr/core/tensor.hpp"
#include "sr/cuda/normalize.hpp"
#include "sr/ops/elementwise.hpp"

namespace sr {

inline constexpr std::array<double, 3> k_div2k_rgb_mean = {0.4488, 0.4371, 0.4040};
inline constexpr double k_normalize_divisor = 127.5;

namespace ops {

template <class T, class D>
void normalize_forward(const Tensor<T, D>& x, const Tensor<T, D>& y, bool inverse) {
    detail::check_same(inverse ? "denormalize" : "normalize", x, y);
    SR_CHECK(x.rank() == 4 && x.dim(3) == 3, inverse ? "denormalize" : "normalize",
             ": expects an NHWC RGB tensor [N, H, W, 3], got shape ", x.shape());
    const T mean255[3] = {static_cast<T>(255.0 * k_div2k_rgb_mean[0]), static_cast<T>(255.0 * k_div2k_rgb_mean[1]),
                          static_cast<T>(255.0 * k_div2k_rgb_mean[2])};
    const T divisor = static_cast<T>(k_normalize_divisor);
    const int64_t pixels = x.numel() / 3;
    if constexpr (is_cuda_v<D>) {
        if (inverse)
            cuda::denormalize_rgb(x.data(), y.data(), pixels, mean255, divisor);
        else
            cuda::normalize_rgb(x.data(), y.data(), pixels, mean255, divisor);
    } else {
        const T* px = x.data();
        T* py = y.data();
        const T m0 = mean255[0], m1 = mean255[1], m2 = mean255[2];
        parallel_for(pixels, k_elementwise_grain / 3, [&](int64_t begin, int64_t end) {
            for (int64_t p = begin; p < end; ++p) {
                const T* a = px + 3 * p;
                T* b = py + 3 * p;
                if (inverse) {
                    b[0] = a[0] * divisor + m0;
                    b[1] = a[1] * divisor + m1;
                    b[2] = a[2] * divisor + m2;
                } else {
                    b[0] = (a[0] - m0) / divisor;
                    b[1] = (a[1] - m1) / divisor;
                    b[2] = (a[2] - m2) / divisor;
                }
            }
        });
    }
}

}  // namespace ops

namespace autograd {
template <class T, class D>
class NormalizeNode final : public Node<T, D> {
public:
    NormalizeNode(const Tensor<T, D>& x, bool inverse) : Node<T, D>({x}), m_inverse(inverse) {}
    void backward(const Tensor<T, D>& grad_output) override {
        auto g = Tensor<T, D>::empty(grad_output.shape());
        const T factor = m_inverse ? static_cast<T>(k_normalize_divisor) : static_cast<T>(1.0 / k_normalize_divisor);
        ops::scale_into(g, grad_output, factor);
        this->accumulate(0, g);
    }
    const char* name() const override { return m_inverse ? "denormalize" : "normalize"; }

private:
    bool m_inverse;
};
}  // namespace autograd

namespace detail {
template <class T, class D>
Tensor<T, D> normalize_op(const Tensor<T, D>& x, bool inverse) {
    auto y = Tensor<T, D>::empty(x.shape());
    ops::normalize_forward(x, y, inverse);
    if (autograd::should_record(x)) autograd::attach_node<autograd::NormalizeNode<T, D>>(y, x, inverse);
    return y;
}
}  // namespace detail

template <class T, class D>
Tensor<T, D> normalize(const Tensor<T, D>& x) {
    return detail::normalize_op(x, false);
}
template <class T, class D>
Tensor<T, D> denormalize(const Tensor<T, D>& y) {
    return detail::normalize_op(y, true);
}

}  // namespace sr
