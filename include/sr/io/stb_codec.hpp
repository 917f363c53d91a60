#pragma once
// BMP and TGA decoding and JPEG/BMP encoding through stb (Debian's libstb: the implementations are
// compiled into the library, so this header only declares). JPEG is decoded by libjpeg-turbo
// (sr/io/jpeg_codec.hpp): stb_image's JPEG decoder read out of bounds under fuzzing. stb decodes
// leniently: a truncated BMP or TGA comes back with the missing part filled in and no error. So
// every file is first checked against its own header (the sizes it promises) and only then
// decoded. Size arithmetic is done so that no header value, however absurd, can overflow it.
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <climits>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "sr/io/image_transform.hpp"
#include "sr/io/image_types.hpp"

namespace sr::io {

namespace detail {

inline uint32_t le16(const uint8_t* p) { return p[0] | (uint32_t{p[1]} << 8); }
inline uint32_t le32(const uint8_t* p) { return le16(p) | (le16(p + 2) << 16); }

// Checks the promises of a BMP header against the file size.
inline void check_bmp(const uint8_t* d, std::size_t n, const std::string& file) {
    if (n < 26) image_fail(ImageErrorKind::truncated, file, "BMP: the file ends inside its header");
    const uint32_t data_offset = le32(d + 10), dib_size = le32(d + 14);
    int64_t width = 0, height = 0;
    uint32_t bits = 0, compression = 0;
    if (dib_size == 12) {  // OS/2 BITMAPCOREHEADER
        width = le16(d + 18);
        height = static_cast<int16_t>(le16(d + 20));
        bits = le16(d + 24);
    } else {
        if (n < 14 + 40) image_fail(ImageErrorKind::truncated, file, "BMP: the file ends inside its header");
        if (dib_size < 40) image_fail(ImageErrorKind::corrupt, file, "BMP: header size ", dib_size, " is not valid");
        width = static_cast<int32_t>(le32(d + 18));
        height = static_cast<int32_t>(le32(d + 22));
        bits = le16(d + 28);
        compression = le32(d + 30);
        // Some writers store 256 palette entries for 1- or 4-bit pixels, which stb_image reads;
        // more than 256 it refuses with only "invalid".
        const uint32_t colors_used = le32(d + 46);
        if (bits <= 8 && colors_used > 256)
            image_fail(ImageErrorKind::corrupt, file, "BMP: a palette of ", colors_used, " colors for ", bits,
                       "-bit pixels (at most 256)");
    }
    if (bits != 1 && bits != 4 && bits != 8 && bits != 16 && bits != 24 && bits != 32)
        image_fail(ImageErrorKind::corrupt, file, "BMP: ", bits, " bits per pixel (expected 1, 4, 8, 16, 24 or 32)");
    if (compression == 1 || compression == 2)
        image_fail(ImageErrorKind::unsupported, file, "run-length-encoded BMP (save it as PNG or uncompressed BMP)");
    if (compression != 0 && compression != 3 && compression != 6)
        image_fail(ImageErrorKind::unsupported, file, "BMP compression type ", compression);
    if (width <= 0 || height == 0) image_fail(ImageErrorKind::corrupt, file, "BMP: size ", width, "x", height);
    // width < 2^31 and bits < 2^16 keep row_bytes below 2^46; the product with a height up to 2^31
    // does not fit in 64 bits, so the rows are compared by division.
    const int64_t row_bytes = (int64_t{bits} * width + 31) / 32 * 4;
    const int64_t rows = height < 0 ? -height : height;
    const int64_t pixel_bytes_available = static_cast<int64_t>(n) - int64_t{data_offset};
    if (pixel_bytes_available < 0 || (row_bytes > 0 && pixel_bytes_available / row_bytes < rows)) {
        const double needed = double(data_offset) + double(row_bytes) * double(rows);
        image_fail(ImageErrorKind::truncated, file, "BMP: the pixels need ", needed, " bytes, the file has ", n);
    }
}

// A TGA header is plausible when its fields hold values TGA allows (TGA has no magic number).
inline bool plausible_tga(const uint8_t* d, std::size_t n) {
    if (n < 18) return false;
    const int cmap_type = d[1], type = d[2], bits = d[16];
    const bool known_type = type == 1 || type == 2 || type == 3 || type == 9 || type == 10 || type == 11;
    const bool known_bits = bits == 8 || bits == 15 || bits == 16 || bits == 24 || bits == 32;
    return cmap_type <= 1 && known_type && known_bits && le16(d + 12) > 0 && le16(d + 14) > 0;
}

// Checks that the pixel data a TGA header promises (raw or run-length packets) is all there.
inline void check_tga(const uint8_t* d, std::size_t n, const std::string& file) {
    if (n < 18) image_fail(ImageErrorKind::truncated, file, "TGA: the file ends inside its header");
    if (!plausible_tga(d, n)) image_fail(ImageErrorKind::corrupt, file, "TGA: the header is not valid");
    const std::size_t id_length = d[0], cmap_length = le16(d + 5), cmap_bits = d[7];
    const int type = d[2];
    const std::size_t pixel_bytes = (d[16] + 7u) / 8u;
    std::size_t pos = 18 + id_length + (d[1] ? cmap_length * ((cmap_bits + 7) / 8) : 0);
    int64_t remaining = int64_t{le16(d + 12)} * le16(d + 14);
    if (type < 9) {  // remaining < 2^32 and pixel_bytes <= 4: no overflow in 64 bits
        const std::size_t needed = pos + static_cast<std::size_t>(remaining) * pixel_bytes;
        if (needed > n) image_fail(ImageErrorKind::truncated, file, "TGA: the pixels need ", needed, " bytes, the file has ", n);
        return;
    }
    while (remaining > 0) {
        if (pos >= n) image_fail(ImageErrorKind::truncated, file, "TGA: the file ends inside the run-length data");
        const uint8_t packet = d[pos++];
        const int count = (packet & 0x7f) + 1;
        pos += (packet & 0x80) ? pixel_bytes : count * pixel_bytes;
        if (pos > n) image_fail(ImageErrorKind::truncated, file, "TGA: the file ends inside the run-length data");
        remaining -= count;
    }
}

inline void stb_append(void* context, void* data, int size) {
    auto* out = static_cast<std::vector<uint8_t>*>(context);
    const auto* bytes = static_cast<const uint8_t*>(data);
    out->insert(out->end(), bytes, bytes + size);
}

}  // namespace detail

inline bool is_bmp(const uint8_t* bytes, std::size_t size) { return size >= 2 && bytes[0] == 'B' && bytes[1] == 'M'; }

enum class StbFormat { bmp, tga };

// Decodes BMP or TGA bytes after checking them against their headers.
inline Image decode_with_stb(const uint8_t* bytes, std::size_t size, StbFormat format, const std::string& file,
                             int64_t max_pixels) {
    const char* name = format == StbFormat::bmp ? "BMP" : "TGA";
    if (format == StbFormat::bmp)
        detail::check_bmp(bytes, size, file);
    else
        detail::check_tga(bytes, size, file);
    if (size > static_cast<std::size_t>(INT_MAX))
        image_fail(ImageErrorKind::unsupported, file, name, " files over 2 GiB");
    const int length = static_cast<int>(size);
    int width = 0, height = 0, channels = 0;
    if (!stbi_info_from_memory(bytes, length, &width, &height, &channels))
        image_fail(ImageErrorKind::corrupt, file, name, ": ", stbi_failure_reason());
    if (int64_t{width} * height > max_pixels)
        image_fail(ImageErrorKind::too_large, file, width, "x", height, " pixels exceed the limit of ", max_pixels,
                   " (ReadOptions::max_pixels)");
    uint8_t* pixels = stbi_load_from_memory(bytes, length, &width, &height, &channels, 0);
    if (!pixels) image_fail(ImageErrorKind::corrupt, file, name, ": ", stbi_failure_reason());
    Image image(height, width, channels, 8);
    std::memcpy(image.data8(), pixels, image.sample_count());
    stbi_image_free(pixels);
    return image;
}

// JPEG bytes at quality 1..100 (4:2:0 chroma subsampling up to 90, 4:4:4 above, stb's choice).
// 8-bit gray or RGB only; gray is stored as three equal channels.
inline std::vector<uint8_t> encode_jpeg(const Image& image, const std::string& file, int quality) {
    SR_CHECK(quality >= 1 && quality <= 100, file, ": JPEG quality ", quality, " is outside 1..100");
    if (image.bit_depth() != 8)
        image_fail(ImageErrorKind::invalid, file, "JPEG holds 8-bit samples; convert the ", image.describe(),
                   " image with to_bit_depth(image, 8) or write PNG");
    if (has_alpha(image.layout()))
        image_fail(ImageErrorKind::invalid, file, "JPEG has no alpha channel; write PNG, or drop alpha with split_alpha");
    if (image.width() > 65535 || image.height() > 65535)
        image_fail(ImageErrorKind::invalid, file, "JPEG is limited to 65535x65535 pixels, the image is ",
                   image.describe());
    std::vector<uint8_t> out;
    if (!stbi_write_jpg_to_func(detail::stb_append, &out, image.width(), image.height(), image.channels(),
                                image.data8(), quality))
        image_fail(ImageErrorKind::io, file, "JPEG encoder failed");
    return out;
}

// BMP bytes: RGB as 24-bit, RGBA as 32-bit with alpha, gray as 24-bit with three equal channels.
inline std::vector<uint8_t> encode_bmp(const Image& image, const std::string& file) {
    if (image.bit_depth() != 8)
        image_fail(ImageErrorKind::invalid, file, "BMP holds 8-bit samples; convert the ", image.describe(),
                   " image with to_bit_depth(image, 8) or write PNG");
    if (image.layout() == ColorLayout::gray_alpha)
        image_fail(ImageErrorKind::invalid, file, "BMP has no gray+alpha layout; expand with gray_to_rgb first or write PNG");
    std::vector<uint8_t> out;
    if (!stbi_write_bmp_to_func(detail::stb_append, &out, image.width(), image.height(), image.channels(),
                                image.data8()))
        image_fail(ImageErrorKind::io, file, "BMP encoder failed");
    return out;
}

}  // namespace sr::io
