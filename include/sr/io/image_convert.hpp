#pragma once
// Conversions between the layouts and depths an image file holds and what the models use:
// alpha split off and merged back, gray expanded to RGB and collapsed again, 16 bits to 8, and
// float tensors in pixel units (0..255) with round-half-to-even quantisation on the way back.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>

#include "sr/core/tensor.hpp"
#include "sr/io/image_types.hpp"

namespace sr::io {

// Nearest uint8 to v, ties to even (the papers' evaluation protocol), clamped to 0..255; NaN -> 0.
inline uint8_t quantize_u8(float v) {
    if (!(v > 0.f)) return 0;
    if (v >= 255.f) return 255;
    return static_cast<uint8_t>(std::nearbyint(v));  // default rounding mode: to nearest, ties to even
}
// Same for 16-bit samples (v in 0..65535).
inline uint16_t quantize_u16(double v) {
    if (!(v > 0.0)) return 0;
    if (v >= 65535.0) return 65535;
    return static_cast<uint16_t>(std::nearbyint(v));
}

struct ColorAndAlpha {
    Image color;                 // gray or RGB, same depth
    std::optional<Image> alpha;  // 1 channel, present when the input had alpha
};

// Separates the alpha channel (last) from the colour channels.
inline ColorAndAlpha split_alpha(const Image& image) {
    if (!has_alpha(image.layout())) return {image, std::nullopt};
    const int color_channels = image.channels() - 1;
    ColorAndAlpha out{Image(image.height(), image.width(), color_channels, image.bit_depth()),
                      Image(image.height(), image.width(), 1, image.bit_depth())};
    out.color.set_source_layout(image.source_layout());
    out.alpha->set_source_layout(ColorLayout::gray);
    for (int y = 0; y < image.height(); ++y)
        for (int x = 0; x < image.width(); ++x) {
            for (int c = 0; c < color_channels; ++c) out.color.set(y, x, c, image.at(y, x, c));
            out.alpha->set(y, x, 0, image.at(y, x, color_channels));
        }
    return out;
}

// Appends a 1-channel alpha of the same size and depth: gray -> gray+alpha, RGB -> RGBA.
inline Image merge_alpha(const Image& color, const Image& alpha) {
    SR_CHECK(!has_alpha(color.layout()), "merge_alpha: the colour image already has alpha (", color.describe(), ")");
    SR_CHECK(alpha.channels() == 1 && alpha.height() == color.height() && alpha.width() == color.width() &&
                 alpha.bit_depth() == color.bit_depth(),
             "merge_alpha: alpha ", alpha.describe(), " does not match colour ", color.describe(),
             " (expected 1 channel of the same size and depth)");
    Image out(color.height(), color.width(), color.channels() + 1, color.bit_depth());
    out.set_source_layout(color.source_layout());
    for (int y = 0; y < color.height(); ++y)
        for (int x = 0; x < color.width(); ++x) {
            for (int c = 0; c < color.channels(); ++c) out.set(y, x, c, color.at(y, x, c));
            out.set(y, x, color.channels(), alpha.at(y, x, 0));
        }
    return out;
}

// Gray -> RGB (and gray+alpha -> RGBA) by repeating the value; RGB(A) is returned unchanged.
// source_layout() still says gray, so the result can be collapsed back before writing.
inline Image gray_to_rgb(const Image& image) {
    if (image.channels() >= 3) return image;
    const bool alpha = image.channels() == 2;
    Image out(image.height(), image.width(), alpha ? 4 : 3, image.bit_depth());
    out.set_source_layout(image.source_layout());
    for (int y = 0; y < image.height(); ++y)
        for (int x = 0; x < image.width(); ++x) {
            const int v = image.at(y, x, 0);
            for (int c = 0; c < 3; ++c) out.set(y, x, c, v);
            if (alpha) out.set(y, x, 3, image.at(y, x, 1));
        }
    return out;
}

// RGB -> gray (RGBA -> gray+alpha) with the BT.601 luma weights (what PIL's convert("L") and
// OpenCV's RGB2GRAY use), rounded to nearest; gray stays unchanged. Equal channels map to their
// common value exactly, so a gray image expanded with gray_to_rgb comes back unchanged.
inline Image rgb_to_gray(const Image& image) {
    if (image.channels() <= 2) return image;
    const bool alpha = image.channels() == 4;
    Image out(image.height(), image.width(), alpha ? 2 : 1, image.bit_depth());
    out.set_source_layout(image.source_layout());
    const double max_value = image.max_value();
    for (int y = 0; y < image.height(); ++y)
        for (int x = 0; x < image.width(); ++x) {
            const double luma = 0.299 * image.at(y, x, 0) + 0.587 * image.at(y, x, 1) + 0.114 * image.at(y, x, 2);
            out.set(y, x, 0, static_cast<int>(std::min(max_value, std::floor(luma + 0.5))));
            if (alpha) out.set(y, x, 1, image.at(y, x, 3));
        }
    return out;
}

// Converts the sample depth: 8 -> 16 multiplies by 257 (255 -> 65535), 16 -> 8 rounds v / 257
// to nearest (never a tie, since 257 is odd).
inline Image to_bit_depth(const Image& image, int bit_depth) {
    SR_CHECK(bit_depth == 8 || bit_depth == 16, "to_bit_depth: ", bit_depth, " bits, expected 8 or 16");
    if (image.bit_depth() == bit_depth) return image;
    Image out(image.height(), image.width(), image.channels(), bit_depth);
    out.set_source_layout(image.source_layout());
    const std::size_t n = image.sample_count();
    if (bit_depth == 16) {
        const uint8_t* src = image.data8();
        uint16_t* dst = out.data16();
        for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<uint16_t>(src[i] * 257);
    } else {
        const uint16_t* src = image.data16();
        uint8_t* dst = out.data8();
        for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<uint8_t>((src[i] + 128u) / 257u);
    }
    return out;
}

// What the training data pipeline works on: 8-bit RGB, alpha dropped, gray expanded.
inline Image to_rgb8(Image image) {
    if (image.bit_depth() == 8 && image.channels() == 3) return image;
    if (image.bit_depth() != 8) image = to_bit_depth(image, 8);
    if (has_alpha(image.layout())) image = split_alpha(image).color;
    return gray_to_rgb(image);
}

// Image -> float tensor [1, H, W, C] in pixel units: 8-bit values as they are (0..255), 16-bit
// values / 257 (so 65535 -> 255 and both depths feed a model the same range).
inline Tensor<float> image_to_tensor(const Image& image) {
    auto out = Tensor<float>::empty({1, image.height(), image.width(), image.channels()});
    float* dst = out.data();
    const std::size_t n = image.sample_count();
    if (image.bit_depth() == 8) {
        const uint8_t* src = image.data8();
        for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]);
    } else {
        const uint16_t* src = image.data16();
        for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i] / 257.0);
    }
    return out;
}

// Float tensor [1, H, W, C] or [H, W, C] in pixel units (0..255) -> image of bit_depth bits,
// rounded half to even and clamped (16-bit: value * 257). C must be 1..4.
inline Image tensor_to_image(const Tensor<float>& tensor, int bit_depth = 8) {
    SR_CHECK((tensor.rank() == 4 && tensor.dim(0) == 1) || tensor.rank() == 3,
             "tensor_to_image: expects [1, H, W, C] or [H, W, C], got ", tensor.shape());
    const int r = tensor.rank();
    const auto height = static_cast<int>(tensor.dim(r - 3)), width = static_cast<int>(tensor.dim(r - 2));
    const auto channels = static_cast<int>(tensor.dim(r - 1));
    SR_CHECK(channels >= 1 && channels <= 4, "tensor_to_image: ", channels, " channels, expected 1..4");
    Image out(height, width, channels, bit_depth);
    const Tensor<float> src = tensor.contiguous();
    const float* s = src.data();
    const std::size_t n = out.sample_count();
    if (bit_depth == 8) {
        uint8_t* dst = out.data8();
        for (std::size_t i = 0; i < n; ++i) dst[i] = quantize_u8(s[i]);
    } else {
        uint16_t* dst = out.data16();
        for (std::size_t i = 0; i < n; ++i) dst[i] = quantize_u16(static_cast<double>(s[i]) * 257.0);
    }
    return out;
}

}  // namespace sr::io
