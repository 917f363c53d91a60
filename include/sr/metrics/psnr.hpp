#pragma once
// Peak signal-to-noise ratio: PSNR = 20 log10(peak) - 10 log10(MSE), the MSE over every element
// (all pixels and channels) of two images of one shape. What is compared (RGB or Y, quantized or
// not, border shaved or not) is the protocol's choice (sr/metrics/evaluate.hpp).
#include <cmath>
#include <limits>

#include "sr/core/error.hpp"
#include "sr/core/tensor.hpp"

namespace sr::metrics {

// Mean of (a - b)^2 over all elements, accumulated in double.
template <class T>
double mean_squared_error(const Tensor<T, Cpu>& a, const Tensor<T, Cpu>& b) {
    SR_CHECK(a.shape() == b.shape(), "mean_squared_error: shapes ", a.shape(), " and ", b.shape(), " differ");
    SR_CHECK(a.numel() > 0, "mean_squared_error: empty images of shape ", a.shape());
    const Tensor<T, Cpu> ac = a.contiguous(), bc = b.contiguous();
    double sum = 0;
    for (int64_t i = 0; i < ac.numel(); ++i) {
        const double d = static_cast<double>(ac.data()[i]) - static_cast<double>(bc.data()[i]);
        sum += d * d;
    }
    return sum / static_cast<double>(ac.numel());
}

// PSNR in dB for a given MSE; +infinity for identical images (MSE 0), as tf.image.psnr.
inline double psnr_from_mse(double mse, double peak = 255.0) {
    if (mse == 0) return std::numeric_limits<double>::infinity();
    return 20.0 * std::log10(peak) - 10.0 * std::log10(mse);
}

template <class T>
double psnr(const Tensor<T, Cpu>& a, const Tensor<T, Cpu>& b, double peak = 255.0) {
    return psnr_from_mse(mean_squared_error(a, b), peak);
}

}  // namespace sr::metrics
