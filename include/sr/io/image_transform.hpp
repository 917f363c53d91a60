#pragma once
// Geometric pixel moves that keep values exact: crops and the 8 dihedral transforms (flips and
// 90-degree rotations). The codecs use them for EXIF orientation, the data pipeline for
// augmentation, inference for self-ensemble.
//
// Dihedral transform t in 0..7: flip = t / 4, k = t % 4. It applies a left-right flip first when
// flip is set, then k counter-clockwise quarter turns, the order and directions of the seed's
// `np.fliplr` then `np.rot90(img, k)`. Odd k swaps height and width.
#include <cstdint>
#include <cstring>

#include "sr/io/image_types.hpp"

namespace sr::io {

inline constexpr int k_dihedral_count = 8;

// The transform that undoes t: rotations undo by turning back, reflections are their own inverse.
constexpr int dihedral_inverse(int t) { return t < 4 ? (4 - t) % 4 : t; }

// Where output pixel (i, j) of dihedral t reads from in a height x width source:
// source offset (in pixels) = origin + i * step_i + j * step_j.
struct DihedralMap {
    int out_height = 0, out_width = 0;
    int64_t origin = 0, step_i = 0, step_j = 0;
};

inline DihedralMap dihedral_map(int t, int height, int width) {
    SR_CHECK(t >= 0 && t < k_dihedral_count, "dihedral transform ", t, " is outside 0..7");
    const bool flip = t >= 4;
    const int k = t % 4;
    const int64_t h = height, w = width;
    // Source (row, column) = (r0 + ri*i + rj*j, c0 + ci*i + cj*j) before the flip.
    int64_t r0 = 0, ri = 0, rj = 0, c0 = 0, ci = 0, cj = 0;
    if (k == 0) {  // (i, j)
        ri = 1;
        cj = 1;
    } else if (k == 1) {  // (j, w-1-i)
        rj = 1;
        c0 = w - 1;
        ci = -1;
    } else if (k == 2) {  // (h-1-i, w-1-j)
        r0 = h - 1;
        ri = -1;
        c0 = w - 1;
        cj = -1;
    } else {  // (h-1-j, i)
        r0 = h - 1;
        rj = -1;
        ci = 1;
    }
    if (flip) {  // column c becomes w-1-c
        c0 = w - 1 - c0;
        ci = -ci;
        cj = -cj;
    }
    DihedralMap map;
    map.out_height = k % 2 ? width : height;
    map.out_width = k % 2 ? height : width;
    map.origin = r0 * w + c0;
    map.step_i = ri * w + ci;
    map.step_j = rj * w + cj;
    return map;
}

// Applies dihedral t to an HWC array of `channels` samples per pixel, converting each sample with
// `convert` (e.g. uint8 -> float). dst holds out_height x out_width x channels samples.
template <class Src, class Dst, class Convert>
void dihedral_copy(const Src* src, int height, int width, int channels, int t, Dst* dst, Convert convert) {
    const DihedralMap map = dihedral_map(t, height, width);
    for (int i = 0; i < map.out_height; ++i) {
        int64_t pixel = map.origin + map.step_i * i;
        Dst* out = dst + static_cast<int64_t>(i) * map.out_width * channels;
        for (int j = 0; j < map.out_width; ++j, pixel += map.step_j) {
            const Src* in = src + pixel * channels;
            for (int c = 0; c < channels; ++c) *out++ = convert(in[c]);
        }
    }
}
template <class Src, class Dst>
void dihedral_copy(const Src* src, int height, int width, int channels, int t, Dst* dst) {
    dihedral_copy(src, height, width, channels, t, dst, [](Src v) { return static_cast<Dst>(v); });
}

inline Image dihedral(const Image& image, int t) {
    const DihedralMap map = dihedral_map(t, image.height(), image.width());
    Image out(map.out_height, map.out_width, image.channels(), image.bit_depth());
    out.set_source_layout(image.source_layout());
    if (image.bit_depth() == 8)
        dihedral_copy(image.data8(), image.height(), image.width(), image.channels(), t, out.data8());
    else
        dihedral_copy(image.data16(), image.height(), image.width(), image.channels(), t, out.data16());
    return out;
}

inline Image crop(const Image& image, const Window& window) {
    SR_CHECK(window.top >= 0 && window.left >= 0 && window.height >= 0 && window.width >= 0 &&
                 window.top + window.height <= image.height() && window.left + window.width <= image.width(),
             "crop: window (top ", window.top, ", left ", window.left, ", ", window.height, "x", window.width,
             ") is outside the ", image.height(), "x", image.width(), " image");
    Image out(window.height, window.width, image.channels(), image.bit_depth());
    out.set_source_layout(image.source_layout());
    const std::size_t sample_bytes = image.bit_depth() / 8;
    const std::size_t row_bytes = static_cast<std::size_t>(window.width) * image.channels() * sample_bytes;
    const std::size_t src_stride = static_cast<std::size_t>(image.width()) * image.channels() * sample_bytes;
    const auto* src = image.bit_depth() == 8 ? reinterpret_cast<const unsigned char*>(image.data8())
                                             : reinterpret_cast<const unsigned char*>(image.data16());
    auto* dst = image.bit_depth() == 8 ? reinterpret_cast<unsigned char*>(out.data8())
                                       : reinterpret_cast<unsigned char*>(out.data16());
    src += static_cast<std::size_t>(window.top) * src_stride +
           static_cast<std::size_t>(window.left) * image.channels() * sample_bytes;
    for (int y = 0; y < window.height; ++y) std::memcpy(dst + y * row_bytes, src + y * src_stride, row_bytes);
    return out;
}

// The dihedral transform that displays a JPEG stored with EXIF orientation 1..8 upright
// (EXIF 2.32 §4.6.4, tag 0x0112; 1 = already upright, 6 = turn 90 degrees clockwise, ...).
inline int dihedral_for_exif_orientation(int orientation) {
    constexpr int k_table[9] = {0, 0, 4, 2, 6, 5, 3, 7, 1};
    return orientation >= 1 && orientation <= 8 ? k_table[orientation] : 0;
}

}  // namespace sr::io
