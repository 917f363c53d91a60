#pragma once
// The slow, obviously-correct convolution every fast path is tested against: seven nested loops,
// accumulation in double. Same contract as sr/ops/conv2d.hpp (NHWC input, OHWI weights, stride 1,
// "same" zero padding). Never optimise this file.
#include "sr/core/tensor.hpp"

namespace sr::reference {

template <class T>
Tensor<double> conv2d_forward(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& b) {
    const int64_t n = x.dim(0), h = x.dim(1), wd = x.dim(2), c = x.dim(3), o = w.dim(0), k = w.dim(1), pad = k / 2;
    auto y = Tensor<double>::zeros({n, h, wd, o});
    for (int64_t ni = 0; ni < n; ++ni)
        for (int64_t hi = 0; hi < h; ++hi)
            for (int64_t wi = 0; wi < wd; ++wi)
                for (int64_t oi = 0; oi < o; ++oi) {
                    double acc = b.defined() ? double(b.at({oi})) : 0.0;
                    for (int64_t kh = 0; kh < k; ++kh)
                        for (int64_t kw = 0; kw < k; ++kw) {
                            const int64_t ih = hi + kh - pad, iw = wi + kw - pad;
                            if (ih < 0 || ih >= h || iw < 0 || iw >= wd) continue;
                            for (int64_t ci = 0; ci < c; ++ci)
                                acc += double(w.at({oi, kh, kw, ci})) * double(x.at({ni, ih, iw, ci}));
                        }
                    y.at({ni, hi, wi, oi}) = acc;
                }
    return y;
}

// dL/dx given dL/dy: every output pixel spreads its gradient back over the inputs it read.
template <class T>
Tensor<double> conv2d_backward_data(const Tensor<T>& grad_y, const Tensor<T>& w, int64_t channels) {
    const int64_t n = grad_y.dim(0), h = grad_y.dim(1), wd = grad_y.dim(2), o = w.dim(0), k = w.dim(1), pad = k / 2;
    auto gx = Tensor<double>::zeros({n, h, wd, channels});
    for (int64_t ni = 0; ni < n; ++ni)
        for (int64_t hi = 0; hi < h; ++hi)
            for (int64_t wi = 0; wi < wd; ++wi)
                for (int64_t oi = 0; oi < o; ++oi)
                    for (int64_t kh = 0; kh < k; ++kh)
                        for (int64_t kw = 0; kw < k; ++kw) {
                            const int64_t ih = hi + kh - pad, iw = wi + kw - pad;
                            if (ih < 0 || ih >= h || iw < 0 || iw >= wd) continue;
                            for (int64_t ci = 0; ci < channels; ++ci)
                                gx.at({ni, ih, iw, ci}) += double(w.at({oi, kh, kw, ci})) * double(grad_y.at({ni, hi, wi, oi}));
                        }
    return gx;
}

// dL/dw and dL/db given x and dL/dy.
template <class T>
void conv2d_backward_weights(const Tensor<T>& x, const Tensor<T>& grad_y, int64_t k, Tensor<double>& grad_w,
                             Tensor<double>& grad_b) {
    const int64_t n = x.dim(0), h = x.dim(1), wd = x.dim(2), c = x.dim(3), o = grad_y.dim(3), pad = k / 2;
    grad_w = Tensor<double>::zeros({o, k, k, c});
    grad_b = Tensor<double>::zeros({o});
    for (int64_t ni = 0; ni < n; ++ni)
        for (int64_t hi = 0; hi < h; ++hi)
            for (int64_t wi = 0; wi < wd; ++wi)
                for (int64_t oi = 0; oi < o; ++oi) {
                    const double g = grad_y.at({ni, hi, wi, oi});
                    grad_b.at({oi}) += g;
                    for (int64_t kh = 0; kh < k; ++kh)
                        for (int64_t kw = 0; kw < k; ++kw) {
                            const int64_t ih = hi + kh - pad, iw = wi + kw - pad;
                            if (ih < 0 || ih >= h || iw < 0 || iw >= wd) continue;
                            for (int64_t ci = 0; ci < c; ++ci) grad_w.at({oi, kh, kw, ci}) += g * double(x.at({ni, ih, iw, ci}));
                        }
                }
}

}  // namespace sr::reference
