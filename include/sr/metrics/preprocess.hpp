#pragma once
// What evaluation protocols do to images before comparing them (docs/metrics.md): quantize to
// 8-bit values, take the BT.601 luma, shave the border. Images are CPU tensors [H, W, C] (or
// [1, H, W, C]) in pixel units, 0..255; results are contiguous [H, W, C] tensors of double, so the
// metrics that follow add no rounding of their own.
#include <cmath>
#include <cstdint>
#include <string_view>

#include "sr/core/error.hpp"
#include "sr/core/tensor.hpp"

namespace sr::metrics {

// Round to nearest, ties to even, as torch.round in EDSR's quantize (and numpy.round); MATLAB's
// uint8() rounds ties away from zero, which differs only on exact .5 values. Independent of the
// floating-point rounding mode. For |x| < 2^62.
constexpr double round_half_even(double x) {
    const double lower = static_cast<double>(static_cast<int64_t>(x >= 0 ? x : x - 1));  // floor for |x| < 2^63
    const double fraction = x - lower;
    if (fraction > 0.5) return lower + 1;
    if (fraction < 0.5) return lower;
    return static_cast<int64_t>(lower) % 2 == 0 ? lower : lower + 1;
}

// A contiguous [H, W, C] double copy of an [H, W, C] or [1, H, W, C] image; what names the image in
// errors.
template <class T>
Tensor<double, Cpu> to_hwc(const Tensor<T, Cpu>& image, std::string_view what = "image") {
    SR_CHECK(image.defined(), what, ": undefined tensor");
    SR_CHECK(image.rank() == 3 || (image.rank() == 4 && image.dim(0) == 1), what,
             ": expected an [H, W, C] or [1, H, W, C] image, got shape ", image.shape());
    const Tensor<T, Cpu> c = image.contiguous();
    auto out = Tensor<double, Cpu>::empty({c.dim(-3), c.dim(-2), c.dim(-1)});
    for (int64_t i = 0; i < c.numel(); ++i) out.data()[i] = static_cast<double>(c.data()[i]);
    return out;
}

// Values as an 8-bit image stores them: clamped to [0, 255], rounded half to even. NaN becomes 0.
inline Tensor<double, Cpu> quantize_uint8(const Tensor<double, Cpu>& image) {
    const Tensor<double, Cpu> c = image.contiguous();
    auto out = Tensor<double, Cpu>::empty(c.shape());
    for (int64_t i = 0; i < c.numel(); ++i) {
        const double v = c.data()[i];
        out.data()[i] = std::isnan(v) ? 0.0 : round_half_even(v < 0 ? 0.0 : v > 255 ? 255.0 : v);
    }
    return out;
}

// BT.601 luma of an RGB image on 0..255 values, as MATLAB's rgb2ycbcr: [H, W, 3] -> [H, W, 1],
// Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255, in 16..235 for inputs in 0..255. Not rounded.
inline Tensor<double, Cpu> rgb_to_y(const Tensor<double, Cpu>& hwc) {
    SR_CHECK(hwc.rank() == 3 && hwc.dim(2) == 3, "rgb_to_y: expected an [H, W, 3] RGB image, got shape ", hwc.shape());
    const Tensor<double, Cpu> c = hwc.contiguous();
    auto out = Tensor<double, Cpu>::empty({c.dim(0), c.dim(1), 1});
    const double* rgb = c.data();
    for (int64_t i = 0; i < out.numel(); ++i)
        out.data()[i] = 16.0 + (65.481 * rgb[3 * i] + 128.553 * rgb[3 * i + 1] + 24.966 * rgb[3 * i + 2]) / 255.0;
    return out;
}

// The image without `border` pixels on each side: [H, W, C] -> [H - 2b, W - 2b, C], contiguous.
inline Tensor<double, Cpu> shave_border(const Tensor<double, Cpu>& hwc, int64_t border) {
    SR_CHECK(hwc.rank() == 3, "shave_border: expected an [H, W, C] image, got shape ", hwc.shape());
    SR_CHECK(border >= 0 && 2 * border < hwc.dim(0) && 2 * border < hwc.dim(1), "shave_border: cannot shave ", border,
             " pixels from each side of a ", hwc.dim(0), "x", hwc.dim(1), " image");
    if (border == 0) return hwc.contiguous();
    const int64_t h = hwc.dim(0) - 2 * border, w = hwc.dim(1) - 2 * border;
    return hwc.contiguous()
        .reshape({1, hwc.dim(0), hwc.dim(1), hwc.dim(2)})
        .crop(border, border, h, w)
        .contiguous()
        .reshape({h, w, hwc.dim(2)});
}

}  // namespace sr::metrics
