#pragma once
// Bicubic resampling as MATLAB's imresize(..., 'bicubic') computes it: the resampling that made
// the LR images of the standard SR benchmarks (Set5, Set14, DIV2K's LR_bicubic).
//
// Recipe, per axis (in_length -> out_length at scale = out / in):
// - Keys' cubic convolution kernel with a = -0.5;
// - when shrinking (scale < 1) the kernel is stretched to 4 / scale taps and scaled by `scale`
//   (antialiasing); when enlarging it stays 4 taps wide;
// - output sample u (1-based) is centred at input position u / scale + 0.5 * (1 - 1 / scale);
// - the weights of each output sample are normalised to sum to 1;
// - source indices outside the image are clamped to the border (replicate);
// - axes are resized one after the other, the one shrinking most first (height on ties), and
//   integer images are rounded (half away from zero) and saturated after each pass, as MATLAB
//   converts each pass's double result back to the input class.
// With clamped borders and the intermediate rounding this reproduces every LR image of Set5 and
// Set14 at x2, x3 and x4 exactly (tests/test_bicubic.cpp); mirrored borders or a single rounding
// leave 1-15% of the pixels off by up to 10.
//
// Everything here runs on the calling thread: the data loader calls it from its own workers.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "sr/core/tensor.hpp"
#include "sr/io/image_transform.hpp"
#include "sr/io/image_types.hpp"

namespace sr::data {

using io::Image;
using io::Window;

// Keys' cubic convolution kernel, a = -0.5 (Keys 1981; MATLAB's `cubic`).
inline double cubic_kernel(double x) {
    const double ax = std::abs(x), ax2 = ax * ax, ax3 = ax2 * ax;
    if (ax <= 1.0) return 1.5 * ax3 - 2.5 * ax2 + 1.0;
    if (ax <= 2.0) return -0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0;
    return 0.0;
}

// The weights of one axis: output o reads index[o * taps + k] with weight[o * taps + k].
struct ResampleWeights {
    int in_length = 0, out_length = 0, taps = 0;
    std::vector<int> index;      // 0-based, clamped to [0, in_length)
    std::vector<double> weight;  // each output's taps sum to 1

    // Smallest and largest input index read by outputs [begin, end).
    std::pair<int, int> input_span(int begin, int end) const {
        int lo = in_length, hi = -1;
        for (int o = begin; o < end; ++o)
            for (int k = 0; k < taps; ++k) {
                if (weight[static_cast<std::size_t>(o) * taps + k] == 0.0) continue;
                lo = std::min(lo, index[static_cast<std::size_t>(o) * taps + k]);
                hi = std::max(hi, index[static_cast<std::size_t>(o) * taps + k]);
            }
        return {lo, hi};
    }
};

// MATLAB imresize's contributions() for the bicubic kernel, with clamped borders.
inline ResampleWeights bicubic_weights(int in_length, int out_length, double scale) {
    SR_CHECK(in_length > 0 && out_length > 0 && scale > 0, "bicubic: cannot resample ", in_length, " samples to ",
             out_length, " at scale ", scale);
    const bool shrink = scale < 1.0;
    const double kernel_width = shrink ? 4.0 / scale : 4.0;
    ResampleWeights w;
    w.in_length = in_length;
    w.out_length = out_length;
    w.taps = static_cast<int>(std::ceil(kernel_width)) + 2;
    w.index.resize(static_cast<std::size_t>(out_length) * w.taps);
    w.weight.resize(static_cast<std::size_t>(out_length) * w.taps);
    for (int o = 0; o < out_length; ++o) {
        const double u = (o + 1) / scale + 0.5 * (1.0 - 1.0 / scale);  // 1-based input position
        const double left = std::floor(u - kernel_width / 2.0);
        double sum = 0.0;
        for (int k = 0; k < w.taps; ++k) {
            const double j = left + k;  // 1-based input index
            const double x = u - j;
            const double h = shrink ? scale * cubic_kernel(scale * x) : cubic_kernel(x);
            const std::size_t at = static_cast<std::size_t>(o) * w.taps + k;
            w.weight[at] = h;
            w.index[at] = std::clamp(static_cast<int>(j) - 1, 0, in_length - 1);
            sum += h;
        }
        for (int k = 0; k < w.taps; ++k) w.weight[static_cast<std::size_t>(o) * w.taps + k] /= sum;
    }
    return w;
}

namespace detail {

// A window of a (possibly larger, virtual) HWC image: rows [top, top + height) and columns
// [left, left + width) of it, stored densely.
template <class T>
struct Plane {
    int top = 0, left = 0, height = 0, width = 0, channels = 0;
    std::vector<T> samples;

    Plane() = default;
    Plane(int top_, int left_, int height_, int width_, int channels_)
        : top(top_), left(left_), height(height_), width(width_), channels(channels_),
          samples(static_cast<std::size_t>(height_) * width_ * channels_) {}
    // Samples of absolute row r, starting at absolute column `left`.
    T* row(int r) { return samples.data() + static_cast<std::size_t>(r - top) * width * channels; }
    const T* row(int r) const { return samples.data() + static_cast<std::size_t>(r - top) * width * channels; }
};

// double -> sample type: integers round half away from zero and saturate (MATLAB's conversion),
// floats pass through.
template <class T>
T from_double(double v) {
    if constexpr (std::is_floating_point_v<T>) {
        return static_cast<T>(v);
    } else {
        constexpr double k_max = static_cast<double>(std::numeric_limits<T>::max());
        if (!(v > 0.0)) return 0;
        if (v >= k_max) return static_cast<T>(k_max);
        return static_cast<T>(std::floor(v + 0.5));
    }
}

// Resamples rows: output rows [row_begin, row_end) x columns [col_begin, col_end) of `src`.
template <class T>
Plane<T> resample_rows(const Plane<T>& src, const ResampleWeights& w, int row_begin, int row_end, int col_begin,
                       int col_end) {
    Plane<T> dst(row_begin, col_begin, row_end - row_begin, col_end - col_begin, src.channels);
    const int samples = dst.width * src.channels;
    const int offset = (col_begin - src.left) * src.channels;
    std::vector<double> sum(static_cast<std::size_t>(samples));
    for (int o = row_begin; o < row_end; ++o) {
        std::fill(sum.begin(), sum.end(), 0.0);
        for (int k = 0; k < w.taps; ++k) {
            const double weight = w.weight[static_cast<std::size_t>(o) * w.taps + k];
            if (weight == 0.0) continue;
            const T* in = src.row(w.index[static_cast<std::size_t>(o) * w.taps + k]) + offset;
            for (int i = 0; i < samples; ++i) sum[i] += weight * static_cast<double>(in[i]);
        }
        T* out = dst.row(o);
        for (int i = 0; i < samples; ++i) out[i] = from_double<T>(sum[i]);
    }
    return dst;
}

// Resamples columns: rows [row_begin, row_end) x output columns [col_begin, col_end) of `src`.
template <class T>
Plane<T> resample_cols(const Plane<T>& src, const ResampleWeights& w, int row_begin, int row_end, int col_begin,
                       int col_end) {
    Plane<T> dst(row_begin, col_begin, row_end - row_begin, col_end - col_begin, src.channels);
    const int channels = src.channels;
    for (int r = row_begin; r < row_end; ++r) {
        const T* in = src.row(r);
        T* out = dst.row(r);
        for (int o = col_begin; o < col_end; ++o) {
            double sum[4] = {0, 0, 0, 0};
            for (int k = 0; k < w.taps; ++k) {
                const double weight = w.weight[static_cast<std::size_t>(o) * w.taps + k];
                if (weight == 0.0) continue;
                const T* pixel = in + (w.index[static_cast<std::size_t>(o) * w.taps + k] - src.left) * channels;
                for (int c = 0; c < channels; ++c) sum[c] += weight * static_cast<double>(pixel[c]);
            }
            for (int c = 0; c < channels; ++c) *out++ = from_double<T>(sum[c]);
        }
    }
    return dst;
}

// Output window `out` of the resize whose axis weights are wh (rows) and ww (columns), from
// `src`, which must cover every source pixel the window reads (see source_window()).
template <class T>
Plane<T> resample_window(const Plane<T>& src, const ResampleWeights& wh, const ResampleWeights& ww, double scale_h,
                         double scale_w, const Window& out) {
    // MATLAB resizes the axis with the smaller scale first (dimension order by sort(scale)).
    if (scale_h <= scale_w) {
        const auto [c0, c1] = ww.input_span(out.left, out.left + out.width);
        const Plane<T> mid = resample_rows(src, wh, out.top, out.top + out.height, c0, c1 + 1);
        return resample_cols(mid, ww, out.top, out.top + out.height, out.left, out.left + out.width);
    }
    const auto [r0, r1] = wh.input_span(out.top, out.top + out.height);
    const Plane<T> mid = resample_cols(src, ww, r0, r1 + 1, out.left, out.left + out.width);
    return resample_rows(mid, wh, out.top, out.top + out.height, out.left, out.left + out.width);
}

template <class T>
Plane<T> plane_of(const T* samples, int top, int left, int height, int width, int channels) {
    Plane<T> p(top, left, height, width, channels);
    std::copy(samples, samples + p.samples.size(), p.samples.begin());
    return p;
}

}  // namespace detail

// The source pixels that output window `out` of an in_h x in_w -> out_h x out_w resize reads.
inline Window bicubic_source_window(int in_h, int in_w, int out_h, int out_w, const Window& out) {
    const auto wh = bicubic_weights(in_h, out_h, static_cast<double>(out_h) / in_h);
    const auto ww = bicubic_weights(in_w, out_w, static_cast<double>(out_w) / in_w);
    const auto [r0, r1] = wh.input_span(out.top, out.top + out.height);
    const auto [c0, c1] = ww.input_span(out.left, out.left + out.width);
    return {r0, c0, r1 - r0 + 1, c1 - c0 + 1};
}

// Window `out` of bicubic_resize(full, out_h, out_w), computed from `source` alone: the pixels
// `source_window` of the in_h x in_w image `full`, which must contain bicubic_source_window(...).
// Equal, sample for sample, to cropping the whole resize (every output reads the same inputs
// with the same weights), at the cost of the window only.
inline Image bicubic_resize_window(const Image& source, const Window& source_window, int in_h, int in_w, int out_h,
                                   int out_w, const Window& out) {
    SR_CHECK(source.height() == source_window.height && source.width() == source_window.width,
             "bicubic_resize_window: the source is ", source.describe(), " but its window is ", source_window.height,
             "x", source_window.width);
    SR_CHECK(out.top >= 0 && out.left >= 0 && out.top + out.height <= out_h && out.left + out.width <= out_w,
             "bicubic_resize_window: output window is outside the ", out_h, "x", out_w, " result");
    const Window needed = bicubic_source_window(in_h, in_w, out_h, out_w, out);
    SR_CHECK(needed.top >= source_window.top && needed.left >= source_window.left &&
                 needed.top + needed.height <= source_window.top + source_window.height &&
                 needed.left + needed.width <= source_window.left + source_window.width,
             "bicubic_resize_window: the source window does not cover the pixels the output reads");
    const double scale_h = static_cast<double>(out_h) / in_h, scale_w = static_cast<double>(out_w) / in_w;
    const auto wh = bicubic_weights(in_h, out_h, scale_h), ww = bicubic_weights(in_w, out_w, scale_w);
    Image result(out.height, out.width, source.channels(), source.bit_depth());
    result.set_source_layout(source.source_layout());
    const Window& s = source_window;
    if (source.bit_depth() == 8) {
        const auto plane = detail::plane_of(source.data8(), s.top, s.left, s.height, s.width, source.channels());
        const auto r = detail::resample_window(plane, wh, ww, scale_h, scale_w, out);
        std::copy(r.samples.begin(), r.samples.end(), result.data8());
    } else {
        const auto plane = detail::plane_of(source.data16(), s.top, s.left, s.height, s.width, source.channels());
        const auto r = detail::resample_window(plane, wh, ww, scale_h, scale_w, out);
        std::copy(r.samples.begin(), r.samples.end(), result.data16());
    }
    return result;
}

// The whole image resized to out_h x out_w (scale = out / in per axis), 8 or 16 bits, rounded
// after each pass as MATLAB does for integer images.
inline Image bicubic_resize(const Image& image, int out_h, int out_w) {
    SR_CHECK(!image.empty() && out_h > 0 && out_w > 0, "bicubic_resize: cannot resize a ", image.describe(),
             " image to ", out_h, "x", out_w);
    return bicubic_resize_window(image, Window{0, 0, image.height(), image.width()}, image.height(), image.width(),
                                 out_h, out_w, Window{0, 0, out_h, out_w});
}

// The benchmark LR recipe: crop the HR top-left to a multiple of `scale`, then shrink by it.
// Output size floor(H / scale) x floor(W / scale).
inline Image bicubic_downscale(const Image& hr, int scale) {
    SR_CHECK(scale >= 1, "bicubic_downscale: scale ", scale, " must be at least 1");
    const int lr_h = hr.height() / scale, lr_w = hr.width() / scale;
    SR_CHECK(lr_h > 0 && lr_w > 0, "bicubic_downscale: a ", hr.describe(), " image is smaller than the scale ", scale);
    if (scale == 1) return hr;
    const Image cropped = hr.height() == lr_h * scale && hr.width() == lr_w * scale
                              ? hr
                              : io::crop(hr, Window{0, 0, lr_h * scale, lr_w * scale});
    return bicubic_resize(cropped, lr_h, lr_w);
}

// The HR pixels that window `lr` of bicubic_downscale(hr, scale) reads, for an hr_h x hr_w HR.
inline Window bicubic_downscale_support(int hr_h, int hr_w, int scale, const Window& lr) {
    const int lr_h = hr_h / scale, lr_w = hr_w / scale;
    return bicubic_source_window(lr_h * scale, lr_w * scale, lr_h, lr_w, lr);
}

// Window `lr` of bicubic_downscale(hr, scale) from `hr_part`, the pixels `hr_part_window` of an
// hr_h x hr_w HR image that contain bicubic_downscale_support(hr_h, hr_w, scale, lr).
inline Image bicubic_downscale_window(const Image& hr_part, const Window& hr_part_window, int hr_h, int hr_w,
                                      int scale, const Window& lr) {
    const int lr_h = hr_h / scale, lr_w = hr_w / scale;
    if (scale == 1) {
        return io::crop(hr_part, Window{lr.top - hr_part_window.top, lr.left - hr_part_window.left, lr.height, lr.width});
    }
    return bicubic_resize_window(hr_part, hr_part_window, lr_h * scale, lr_w * scale, lr_h, lr_w, lr);
}

// MATLAB's imresize(image, factor): output ceil(in * factor) per axis, weights at exactly
// `factor` (not out / in). Enlarging by an integer factor is the bicubic SR baseline.
inline Image bicubic_scale(const Image& image, double factor) {
    SR_CHECK(factor > 0, "bicubic_scale: factor ", factor, " must be positive");
    const int out_h = static_cast<int>(std::ceil(image.height() * factor));
    const int out_w = static_cast<int>(std::ceil(image.width() * factor));
    const auto wh = bicubic_weights(image.height(), out_h, factor);
    const auto ww = bicubic_weights(image.width(), out_w, factor);
    Image result(out_h, out_w, image.channels(), image.bit_depth());
    result.set_source_layout(image.source_layout());
    const Window all{0, 0, out_h, out_w};
    if (image.bit_depth() == 8) {
        const auto plane = detail::plane_of(image.data8(), 0, 0, image.height(), image.width(), image.channels());
        const auto r = detail::resample_window(plane, wh, ww, factor, factor, all);
        std::copy(r.samples.begin(), r.samples.end(), result.data8());
    } else {
        const auto plane = detail::plane_of(image.data16(), 0, 0, image.height(), image.width(), image.channels());
        const auto r = detail::resample_window(plane, wh, ww, factor, factor, all);
        std::copy(r.samples.begin(), r.samples.end(), result.data16());
    }
    return result;
}

// Float NHWC tensor [N, H, W, C] -> [N, out_h, out_w, C] with the same weights and no rounding
// between the passes (values in any units; not clamped).
inline Tensor<float> bicubic_resize(const Tensor<float>& images, int out_h, int out_w) {
    SR_CHECK(images.rank() == 4, "bicubic_resize: expects an NHWC tensor, got shape ", images.shape());
    const auto n = images.dim(0);
    const auto h = static_cast<int>(images.dim(1)), w = static_cast<int>(images.dim(2));
    const auto c = static_cast<int>(images.dim(3));
    SR_CHECK(h > 0 && w > 0 && out_h > 0 && out_w > 0, "bicubic_resize: cannot resize ", images.shape(), " to ",
             out_h, "x", out_w);
    const double scale_h = static_cast<double>(out_h) / h, scale_w = static_cast<double>(out_w) / w;
    const auto wh = bicubic_weights(h, out_h, scale_h), ww = bicubic_weights(w, out_w, scale_w);
    const Tensor<float> src = images.contiguous();
    auto out = Tensor<float>::empty({n, out_h, out_w, c});
    const std::size_t in_size = static_cast<std::size_t>(h) * w * c, out_size = static_cast<std::size_t>(out_h) * out_w * c;
    for (int64_t i = 0; i < n; ++i) {
        const auto plane = detail::plane_of(src.data() + i * in_size, 0, 0, h, w, c);
        const auto r = detail::resample_window(plane, wh, ww, scale_h, scale_w, Window{0, 0, out_h, out_w});
        std::copy(r.samples.begin(), r.samples.end(), out.data() + i * out_size);
    }
    return out;
}

}  // namespace sr::data
