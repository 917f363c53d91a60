#pragma once
// Reading and writing image files.
//
// read_image: PNG (8/16-bit; gray, gray+alpha, RGB, RGBA, palette; via libpng), JPEG (baseline and
// progressive, gray/RGB/CMYK, EXIF orientation applied; via libjpeg-turbo), BMP and TGA (via stb),
// and .npy caches (uint8/uint16
// HWC). The format is recognised from the file's first bytes (TGA, which has none, from its
// extension or header). The image comes back as the file holds it: 1..4 channels, 8 or 16 bits;
// sr/io/image_convert.hpp turns it into RGB or a tensor.
// write_image: PNG (8/16-bit, any layout), JPEG (8-bit gray or RGB, quality 1..100), BMP (8-bit),
// .npy; the format from WriteOptions or the file extension. Writes are atomic (temporary file,
// flushed, renamed), so a failed write leaves the old file or none.
// Errors are ImageError (kind + "<file>: <kind>: <reason>").
#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "sr/io/atomic_file.hpp"
#include "sr/io/image_convert.hpp"
#include "sr/io/image_transform.hpp"
#include "sr/io/image_types.hpp"
#include "sr/io/jpeg_codec.hpp"
#include "sr/io/jpeg_markers.hpp"
#include "sr/io/npy.hpp"
#include "sr/io/png_codec.hpp"
#include "sr/io/read_file.hpp"
#include "sr/io/stb_codec.hpp"

namespace sr::io {

enum class ImageFormat { automatic, png, jpeg, bmp, tga, npy };

inline const char* format_name(ImageFormat format) {
    switch (format) {
        case ImageFormat::automatic: return "automatic";
        case ImageFormat::png: return "PNG";
        case ImageFormat::jpeg: return "JPEG";
        case ImageFormat::bmp: return "BMP";
        case ImageFormat::tga: return "TGA";
        case ImageFormat::npy: return "NPY";
    }
    return "?";
}

// The format a file name asks for: .png, .jpg/.jpeg, .bmp, .tga, .npy (any case); automatic otherwise.
inline ImageFormat format_from_extension(const std::filesystem::path& path) {
    std::string ext = path.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    if (ext == ".png") return ImageFormat::png;
    if (ext == ".jpg" || ext == ".jpeg") return ImageFormat::jpeg;
    if (ext == ".bmp") return ImageFormat::bmp;
    if (ext == ".tga") return ImageFormat::tga;
    if (ext == ".npy") return ImageFormat::npy;
    return ImageFormat::automatic;
}

// True for the extensions read_image understands (what dataset folders and batch tools pick up).
inline bool is_image_file(const std::filesystem::path& path) {
    return format_from_extension(path) != ImageFormat::automatic;
}

// Pillow's decompression-bomb limit is 89.5 Mpixels (warning) and twice that (error); we stop at
// 2^28 = 268 Mpixels (16384 x 16384), about 2 GiB as 16-bit RGBA, beyond any SR input.
inline constexpr int64_t k_default_max_pixels = int64_t{1} << 28;

struct ReadOptions {
    int64_t max_pixels = k_default_max_pixels;  // larger images fail with ImageErrorKind::too_large
    bool apply_exif_orientation = true;         // JPEG: turn upright as EXIF orientation says
};

struct WriteOptions {
    ImageFormat format = ImageFormat::automatic;  // automatic: from the file extension
    int jpeg_quality = 95;                        // 1..100
    int png_compression = 6;                      // zlib level 0..9 (6: libpng's and Pillow's default)
};

namespace detail {

// Names formats we recognise but do not read, for a precise "unsupported" error.
inline const char* unsupported_format_name(const uint8_t* d, std::size_t n) {
    auto starts = [&](const char* magic) {
        const std::size_t len = std::strlen(magic);
        return n >= len && std::memcmp(d, magic, len) == 0;
    };
    if (starts("GIF87a") || starts("GIF89a")) return "GIF";
    if (n >= 12 && starts("RIFF") && std::memcmp(d + 8, "WEBP", 4) == 0) return "WebP";
    if (n >= 4 && ((d[0] == 'I' && d[1] == 'I' && d[2] == 42 && d[3] == 0) || (d[0] == 'M' && d[1] == 'M' && d[2] == 0 && d[3] == 42)))
        return "TIFF";
    if (starts("8BPS")) return "PSD";
    if (starts("#?RADIANCE") || starts("#?RGBE")) return "Radiance HDR";
    if (starts("qoif")) return "QOI";
    if (n >= 12 && std::memcmp(d + 4, "ftyp", 4) == 0) return "HEIF/AVIF";
    if (n >= 12 && std::memcmp(d, "\0\0\0\x0cjP  ", 8) == 0) return "JPEG 2000";
    if (n >= 2 && d[0] == 'P' && d[1] >= '1' && d[1] <= '7') return "PNM";
    return nullptr;
}

}  // namespace detail

// The format of encoded bytes, from their magic number; TGA (no magic) when the file name says
// .tga or, failing everything else, when the header is a plausible TGA header.
inline ImageFormat detect_format(const uint8_t* bytes, std::size_t size, const std::string& file) {
    if (size == 0) image_fail(ImageErrorKind::truncated, file, "the file is empty");
    if (is_png(bytes, size)) return ImageFormat::png;
    if (is_jpeg(bytes, size)) return ImageFormat::jpeg;
    if (is_bmp(bytes, size)) return ImageFormat::bmp;
    if (size >= k_npy_magic_size && std::memcmp(bytes, k_npy_magic, k_npy_magic_size) == 0) return ImageFormat::npy;
    if (format_from_extension(file) == ImageFormat::tga || detail::plausible_tga(bytes, size)) return ImageFormat::tga;
    if (size == 2 && bytes[0] == 0xFF && bytes[1] == 0xD8)
        image_fail(ImageErrorKind::truncated, file, "JPEG: the file ends after its start-of-image marker");
    if (const char* other = detail::unsupported_format_name(bytes, size))
        image_fail(ImageErrorKind::unsupported, file, other, " images are not supported (PNG, JPEG, BMP, TGA, NPY are)");
    image_fail(ImageErrorKind::unsupported, file, "not a PNG, JPEG, BMP, TGA or NPY image");
}

// Decodes an encoded image held in memory; `file` names it in errors.
inline Image decode_image(const uint8_t* bytes, std::size_t size, const std::string& file,
                          const ReadOptions& options = {}) {
    Image image;
    switch (detect_format(bytes, size, file)) {
        case ImageFormat::png: image = decode_png(bytes, size, file, options.max_pixels); break;
        case ImageFormat::jpeg:
            image = decode_jpeg(bytes, size, file, options.max_pixels, options.apply_exif_orientation);
            break;
        case ImageFormat::bmp: image = decode_with_stb(bytes, size, StbFormat::bmp, file, options.max_pixels); break;
        case ImageFormat::tga: image = decode_with_stb(bytes, size, StbFormat::tga, file, options.max_pixels); break;
        case ImageFormat::npy: {
            const NpyHeader header = decode_npy_header(bytes, size, file);
            if (int64_t{header.height} * header.width > options.max_pixels)
                image_fail(ImageErrorKind::too_large, file, header.width, "x", header.height,
                           " pixels exceed the limit of ", options.max_pixels, " (ReadOptions::max_pixels)");
            image = decode_npy(bytes, size, file);
            break;
        }
        case ImageFormat::automatic: break;
    }
    image.set_source_layout(image.layout());
    return image;
}

inline Image read_image(const std::filesystem::path& path, const ReadOptions& options = {}) {
    const std::vector<uint8_t> bytes = read_file_bytes(path);
    return decode_image(bytes.data(), bytes.size(), path.string(), options);
}

// Size, channels and depth of an image file from its header; for JPEG after EXIF orientation
// (so it matches what read_image returns). Reads a few bytes for PNG and NPY, the file for others.
namespace detail {
inline ImageInfo read_image_info_unlimited(const std::filesystem::path& path, const ReadOptions& options) {
    FileHandle file(path);
    uint8_t head[16] = {};
    const std::size_t got = file.read_at(head, sizeof(head), 0);
    if (is_png(head, got)) return read_png_info(file);
    if (got >= k_npy_magic_size && std::memcmp(head, k_npy_magic, k_npy_magic_size) == 0) {
        const NpyHeader header = read_npy_header(path);
        return {header.height, header.width, header.channels, header.bit_depth};
    }
    const std::vector<uint8_t> bytes = read_file_bytes(path);
    const ImageFormat format = detect_format(bytes.data(), bytes.size(), file.path());
    if (format == ImageFormat::jpeg) {
        ImageInfo info = read_jpeg_info(bytes.data(), bytes.size(), file.path());
        if (options.apply_exif_orientation &&
            dihedral_for_exif_orientation(scan_jpeg(bytes.data(), bytes.size()).orientation) % 2 == 1)
            std::swap(info.width, info.height);
        return info;
    }
    // The same header checks as decoding (stb_image alone says "unknown image type" for a cut header).
    if (format == ImageFormat::bmp) detail::check_bmp(bytes.data(), bytes.size(), file.path());
    if (format == ImageFormat::tga) detail::check_tga(bytes.data(), bytes.size(), file.path());
    ImageInfo info;
    int width = 0, height = 0, channels = 0;
    if (bytes.size() > static_cast<std::size_t>(INT_MAX) ||
        !stbi_info_from_memory(bytes.data(), static_cast<int>(bytes.size()), &width, &height, &channels))
        image_fail(ImageErrorKind::corrupt, file.path(), format_name(format), ": ", stbi_failure_reason());
    info.width = width;
    info.height = height;
    info.channels = channels;
    return info;
}
}  // namespace detail

// The header's size and layout; an image over options.max_pixels fails as read_image would, so a
// data set check does not pass what training cannot load.
inline ImageInfo read_image_info(const std::filesystem::path& path, const ReadOptions& options = {}) {
    const ImageInfo info = detail::read_image_info_unlimited(path, options);
    if (int64_t{info.width} * info.height > options.max_pixels)
        image_fail(ImageErrorKind::too_large, path.string(), info.width, "x", info.height, " pixels exceed the limit of ",
                   options.max_pixels, " (ReadOptions::max_pixels)");
    return info;
}

// The pixels of `window` of an image file, for training crops. .npy caches read only the
// window's rows; PNG decodes rows down to the window's last one (a window read does not check the
// rest of the file); other formats decode the whole image and crop.
inline Image read_image_window(const std::filesystem::path& path, const Window& window, const ReadOptions& options = {}) {
    Image image;
    if (format_from_extension(path) == ImageFormat::npy) {
        image = read_npy_window(path, window);
    } else {
        const std::vector<uint8_t> bytes = read_file_bytes(path);
        if (is_png(bytes.data(), bytes.size())) {
            image = decode_png(bytes.data(), bytes.size(), path.string(), options.max_pixels, window.top, window.height);
            if (window.left != 0 || window.width != image.width())
                image = crop(image, Window{0, window.left, window.height, window.width});
        } else {
            image = crop(decode_image(bytes.data(), bytes.size(), path.string(), options), window);
        }
    }
    image.set_source_layout(image.layout());
    return image;
}

// Encodes to the bytes of `format` (not automatic).
inline std::vector<uint8_t> encode_image(const Image& image, ImageFormat format, const WriteOptions& options = {},
                                         const std::string& file = "<memory>") {
    SR_CHECK(!image.empty(), file, ": cannot write an empty (", image.describe(), ") image");
    switch (format) {
        case ImageFormat::png: return encode_png(image, file, options.png_compression);
        case ImageFormat::jpeg: return encode_jpeg(image, file, options.jpeg_quality);
        case ImageFormat::bmp: return encode_bmp(image, file);
        case ImageFormat::npy: return encode_npy(image);
        case ImageFormat::tga:
            image_fail(ImageErrorKind::invalid, file, "writing TGA is not supported (write PNG, JPEG or BMP)");
        case ImageFormat::automatic: break;
    }
    image_fail(ImageErrorKind::invalid, file, "no output format given");
}

inline void write_image(const std::filesystem::path& path, const Image& image, const WriteOptions& options = {}) {
    const ImageFormat format = options.format != ImageFormat::automatic ? options.format : format_from_extension(path);
    if (format == ImageFormat::automatic)
        image_fail(ImageErrorKind::invalid, path.string(), "cannot tell the format from the extension '",
                   path.extension().string(), "' (use .png, .jpg, .bmp or .npy, or set WriteOptions::format)");
    const std::vector<uint8_t> bytes = encode_image(image, format, options, path.string());
    write_file_atomically(path, bytes.data(), bytes.size());
}

}  // namespace sr::io
