#pragma once
// Pixel shuffle (sub-pixel upsampling) in TensorFlow depth_to_space order, and its inverse.
//
//   pixel_shuffle:   x [N, H, W, C*s*s] -> y [N, H*s, W*s, C],
//                    y[n, h*s + i, w*s + j, c] = x[n, h, w, (i*s + j)*C + c]      (0 <= i, j < s)
//   pixel_unshuffle: the exact inverse (TensorFlow space_to_depth).
// PyTorch's PixelShuffle orders channels as c*s*s + i*s + j instead; importers permute weights
// (docs/models.md). Each op is the other's adjoint, so each backward is the other forward.
//
// In NHWC with this order every (h, i, w) step moves s*C contiguous values, so the CPU version
// is a sequence of memcpy calls.
#include <cstring>

#include "sr/autograd/node.hpp"
#include "sr/core/parallel.hpp"
#include "sr/core/tensor.hpp"
#include "sr/cuda/pixel_shuffle.hpp"
#include "sr/ops/pixel_shuffle_index.hpp"

namespace sr {

namespace ops {

namespace detail {
// Moves data between the packed [N, H, W, C*s*s] layout and the shuffled [N, H*s, W*s, C] one.
// to_shuffled = true is depth_to_space.
template <class T>
void pixel_shuffle_cpu(const T* in, T* out, int64_t n, int64_t h, int64_t w, int64_t c, int64_t s, bool to_shuffled) {
    const int64_t run = s * c;  // contiguous values per (h, i, w) on both sides
    parallel_for(n * h, 16, [&](int64_t begin, int64_t end) {
        for (int64_t nh = begin; nh < end; ++nh) {
            const int64_t ni = nh / h, hi = nh % h;
            for (int64_t i = 0; i < s; ++i) {
                for (int64_t wi = 0; wi < w; ++wi) {
                    const int64_t packed = ((ni * h + hi) * w + wi) * (c * s * s) + pixel_shuffle_source_channel(i, 0, 0, c, s);
                    const int64_t shuffled = ((ni * h * s + hi * s + i) * (w * s) + wi * s) * c;
                    if (to_shuffled)
                        std::memcpy(out + shuffled, in + packed, static_cast<std::size_t>(run) * sizeof(T));
                    else
                        std::memcpy(out + packed, in + shuffled, static_cast<std::size_t>(run) * sizeof(T));
                }
            }
        }
    });
}
}  // namespace detail

// y = depth_to_space(x, scale); shapes as in the header comment.
template <class T, class D>
void pixel_shuffle_forward(const Tensor<T, D>& x, const Tensor<T, D>& y, int scale) {
    const int64_t n = x.dim(0), h = x.dim(1), w = x.dim(2), c = x.dim(3) / (scale * scale);
    if constexpr (is_cuda_v<D>)
        cuda::pixel_shuffle_forward(x.data(), y.data(), n, h, w, c, scale);
    else
        detail::pixel_shuffle_cpu(x.data(), y.data(), n, h, w, c, scale, true);
}

// x = space_to_depth(y, scale): y [N, H*s, W*s, C] -> x [N, H, W, C*s*s].
template <class T, class D>
void pixel_unshuffle_forward(const Tensor<T, D>& y, const Tensor<T, D>& x, int scale) {
    const int64_t n = y.dim(0), h = y.dim(1) / scale, w = y.dim(2) / scale, c = y.dim(3);
    if constexpr (is_cuda_v<D>)
        cuda::pixel_unshuffle_forward(y.data(), x.data(), n, h, w, c, scale);
    else
        detail::pixel_shuffle_cpu(y.data(), x.data(), n, h, w, c, scale, false);
}

}  // namespace ops

namespace autograd {
template <class T, class D>
class PixelShuffleNode final : public Node<T, D> {
public:
    PixelShuffleNode(const Tensor<T, D>& x, int scale, bool inverse) : Node<T, D>({x}), m_scale(scale), m_inverse(inverse) {}
    void backward(const Tensor<T, D>& grad_output) override {
        auto g = Tensor<T, D>::empty(this->input(0).shape());
        if (m_inverse)
            ops::pixel_shuffle_forward(grad_output, g, m_scale);
        else
            ops::pixel_unshuffle_forward(grad_output, g, m_scale);
        this->accumulate(0, g);
    }
    const char* name() const override { return m_inverse ? "pixel_unshuffle" : "pixel_shuffle"; }

private:
    int m_scale;
    bool m_inverse;
};
}  // namespace autograd

template <class T, class D>
Tensor<T, D> pixel_shuffle(const Tensor<T, D>& x, int scale) {
    SR_CHECK(scale >= 1, "pixel_shuffle: scale must be >= 1, got ", scale);
    SR_CHECK(x.rank() == 4 && x.dim(3) % (scale * scale) == 0, "pixel_shuffle: expects NHWC input with channels "
             "divisible by scale^2 = ", scale * scale, ", got shape ", x.shape());
    SR_CHECK(x.is_contiguous(), "pixel_shuffle: input of shape ", x.shape(), " must be contiguous");
    auto y = Tensor<T, D>::empty(Shape{x.dim(0), x.dim(1) * scale, x.dim(2) * scale, x.dim(3) / (scale * scale)});
    ops::pixel_shuffle_forward(x, y, scale);
    if (autograd::should_record(x)) autograd::attach_node<autograd::PixelShuffleNode<T, D>>(y, x, scale, false);
    return y;
}

template <class T, class D>
Tensor<T, D> pixel_unshuffle(const Tensor<T, D>& y, int scale) {
    SR_CHECK(scale >= 1, "pixel_unshuffle: scale must be >= 1, got ", scale);
    SR_CHECK(y.rank() == 4 && y.dim(1) % scale == 0 && y.dim(2) % scale == 0,
             "pixel_unshuffle: expects NHWC input with height and width divisible by ", scale, ", got shape ", y.shape());
    SR_CHECK(y.is_contiguous(), "pixel_unshuffle: input of shape ", y.shape(), " must be contiguous");
    auto x = Tensor<T, D>::empty(Shape{y.dim(0), y.dim(1) / scale, y.dim(2) / scale, y.dim(3) * scale * scale});
    ops::pixel_unshuffle_forward(y, x, scale);
    if (autograd::should_record(y)) autograd::attach_node<autograd::PixelShuffleNode<T, D>>(x, y, scale, true);
    return x;
}

}  // namespace sr
