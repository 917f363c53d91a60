#pragma once
// Parameter-free layers, so a model's forward reads like its diagram: ReLU, pixel shuffle, and the
// input normalisation pair.
#include "sr/nn/parameters.hpp"
#include "sr/ops/elementwise.hpp"
#include "sr/ops/normalize.hpp"
#include "sr/ops/pixel_shuffle.hpp"

namespace sr::nn {

struct ReLU {
    template <class T, class D>
    Tensor<T, D> operator()(const Tensor<T, D>& x) const {
        return relu(x);
    }
};

// Sub-pixel upsampling in TensorFlow depth_to_space order: [N, H, W, C*s*s] -> [N, H*s, W*s, C].
struct PixelShuffle {
    int scale = 2;
    template <class T, class D>
    Tensor<T, D> operator()(const Tensor<T, D>& x) const {
        return pixel_shuffle(x, scale);
    }
};

// (x - 255*mean) / 127.5 with the DIV2K mean; x in pixel units [0, 255].
struct Normalize {
    template <class T, class D>
    Tensor<T, D> operator()(const Tensor<T, D>& x) const {
        return normalize(x);
    }
};

// y * 127.5 + 255*mean: back to pixel units.
struct Denormalize {
    template <class T, class D>
    Tensor<T, D> operator()(const Tensor<T, D>& y) const {
        return denormalize(y);
    }
};

}  // namespace sr::nn
