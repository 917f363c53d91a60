#pragma once
// Image: decoded pixels as the file held them, interleaved HWC, 8 or 16 bits per sample.
// Layouts are those of PNG: gray, gray+alpha, RGB, RGBA (1..4 channels, alpha last).
// The codecs (sr/io/image.hpp) produce and consume it; sr/io/image_convert.hpp turns it into what
// the models want (RGB, tensors in pixel units).
#include <cstdint>
#include <string>
#include <vector>

#include "sr/core/error.hpp"

namespace sr::io {

enum class ColorLayout { gray, gray_alpha, rgb, rgba };

inline int channels_of(ColorLayout layout) {
    switch (layout) {
        case ColorLayout::gray: return 1;
        case ColorLayout::gray_alpha: return 2;
        case ColorLayout::rgb: return 3;
        case ColorLayout::rgba: return 4;
    }
    return 0;
}
inline ColorLayout layout_of(int channels) {
    switch (channels) {
        case 1: return ColorLayout::gray;
        case 2: return ColorLayout::gray_alpha;
        case 3: return ColorLayout::rgb;
        case 4: return ColorLayout::rgba;
    }
    fail("image: ", channels, " channels is not a known layout (expected 1..4)");
}
inline const char* layout_name(ColorLayout layout) {
    switch (layout) {
        case ColorLayout::gray: return "gray";
        case ColorLayout::gray_alpha: return "gray+alpha";
        case ColorLayout::rgb: return "rgb";
        case ColorLayout::rgba: return "rgba";
    }
    return "?";
}
inline bool has_alpha(ColorLayout layout) { return layout == ColorLayout::gray_alpha || layout == ColorLayout::rgba; }

// A rectangle of pixels: rows [top, top + height), columns [left, left + width).
struct Window {
    int top = 0, left = 0, height = 0, width = 0;
    friend bool operator==(const Window&, const Window&) = default;
};

class Image {
public:
    Image() = default;
    // Zero-filled image of height x width x channels samples of bit_depth (8 or 16) bits.
    Image(int height, int width, int channels, int bit_depth = 8)
        : m_height(height), m_width(width), m_channels(channels), m_bit_depth(bit_depth) {
        SR_CHECK(height >= 0 && width >= 0, "image: negative size ", height, "x", width);
        SR_CHECK(channels >= 1 && channels <= 4, "image: ", channels, " channels, expected 1..4");
        SR_CHECK(bit_depth == 8 || bit_depth == 16, "image: bit depth ", bit_depth, ", expected 8 or 16");
        m_source_layout = layout_of(channels);
        if (bit_depth == 8)
            m_samples8.assign(sample_count(), 0);
        else
            m_samples16.assign(sample_count(), 0);
    }

    int height() const { return m_height; }
    int width() const { return m_width; }
    int channels() const { return m_channels; }
    int bit_depth() const { return m_bit_depth; }
    ColorLayout layout() const { return layout_of(m_channels); }
    // The layout of the file the image was decoded from (gray stays known after expanding to RGB).
    ColorLayout source_layout() const { return m_source_layout; }
    void set_source_layout(ColorLayout layout) { m_source_layout = layout; }
    bool empty() const { return sample_count() == 0; }
    int64_t pixel_count() const { return int64_t{m_height} * m_width; }
    std::size_t sample_count() const { return static_cast<std::size_t>(pixel_count()) * static_cast<std::size_t>(m_channels); }
    // Largest sample value: 255 or 65535.
    int max_value() const { return m_bit_depth == 8 ? 255 : 65535; }

    // Interleaved samples, row-major HWC. Only the accessor matching bit_depth() may be used.
    uint8_t* data8() {
        check_depth(8);
        return m_samples8.data();
    }
    const uint8_t* data8() const {
        check_depth(8);
        return m_samples8.data();
    }
    uint16_t* data16() {
        check_depth(16);
        return m_samples16.data();
    }
    const uint16_t* data16() const {
        check_depth(16);
        return m_samples16.data();
    }

    // Sample (y, x, c) as an integer of either depth; for tests and small loops.
    int at(int y, int x, int c) const {
        const std::size_t i = index(y, x, c);
        return m_bit_depth == 8 ? m_samples8[i] : m_samples16[i];
    }
    void set(int y, int x, int c, int value) {
        const std::size_t i = index(y, x, c);
        if (m_bit_depth == 8)
            m_samples8[i] = static_cast<uint8_t>(value);
        else
            m_samples16[i] = static_cast<uint16_t>(value);
    }

    // Same size, layout and depth, and equal samples.
    friend bool operator==(const Image& a, const Image& b) {
        return a.m_height == b.m_height && a.m_width == b.m_width && a.m_channels == b.m_channels &&
               a.m_bit_depth == b.m_bit_depth && a.m_samples8 == b.m_samples8 && a.m_samples16 == b.m_samples16;
    }

    std::string describe() const {
        return sr::detail::concat(m_width, "x", m_height, " ", layout_name(layout()), " ", m_bit_depth, "-bit");
    }

private:
    void check_depth(int depth) const {
        SR_CHECK(m_bit_depth == depth, "image: ", depth, "-bit access to a ", m_bit_depth, "-bit image");
    }
    std::size_t index(int y, int x, int c) const {
        return (static_cast<std::size_t>(y) * static_cast<std::size_t>(m_width) + static_cast<std::size_t>(x)) *
                   static_cast<std::size_t>(m_channels) +
               static_cast<std::size_t>(c);
    }

    int m_height = 0, m_width = 0, m_channels = 0, m_bit_depth = 8;
    ColorLayout m_source_layout = ColorLayout::rgb;
    std::vector<uint8_t> m_samples8;
    std::vector<uint16_t> m_samples16;
};

// What a file's header says, without decoding the pixels (orientation already applied).
struct ImageInfo {
    int height = 0, width = 0, channels = 0, bit_depth = 8;
};

// Why an image could not be read or written. Every message starts with the file name.
enum class ImageErrorKind {
    io,           // cannot open, read or write the file
    unsupported,  // a format or a feature of the format we do not read (GIF, RLE BMP, 12-bit JPEG)
    corrupt,      // the bytes are not a valid image of their format
    truncated,    // the file ends before the image does
    too_large,    // more pixels than ReadOptions::max_pixels (decompression-bomb guard)
    invalid,      // the image cannot be written as asked (alpha in JPEG, 16 bits in BMP)
};
inline const char* error_kind_name(ImageErrorKind kind) {
    switch (kind) {
        case ImageErrorKind::io: return "i/o error";
        case ImageErrorKind::unsupported: return "unsupported";
        case ImageErrorKind::corrupt: return "corrupt";
        case ImageErrorKind::truncated: return "truncated";
        case ImageErrorKind::too_large: return "too large";
        case ImageErrorKind::invalid: return "invalid";
    }
    return "?";
}

class ImageError : public Error {
public:
    ImageError(ImageErrorKind kind, const std::string& message) : Error(message), m_kind(kind) {}
    ImageErrorKind kind() const { return m_kind; }

private:
    ImageErrorKind m_kind;
};

// Throws ImageError("<file>: <kind>: <parts>").
template <class... Parts>
[[noreturn]] void image_fail(ImageErrorKind kind, const std::string& file, Parts&&... parts) {
    throw ImageError(kind, sr::detail::concat(file, ": ", error_kind_name(kind), ": ", std::forward<Parts>(parts)...));
}

}  // namespace sr::io
