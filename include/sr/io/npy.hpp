#pragma once
// NumPy .npy files holding images: the decoded-image cache of `sr-data convert` (the seed's
// convert.py step). An image is stored C-ordered as shape (H, W, C) with dtype uint8 ('|u1') or
// little-endian uint16 ('<u2'); (H, W) reads as gray. np.load() reads what we write and we read
// what np.save() writes for these dtypes (format versions 1.0, 2.0 and 3.0).
//
// Format (numpy.lib.format): magic "\x93NUMPY", major and minor version bytes, header length
// (uint16 LE in 1.0, uint32 LE in 2.0+), a Python dict literal padded with spaces and ending in
// '\n' so that the data starts at a multiple of 64 bytes, then the raw array.
#include <algorithm>
#include <bit>
#include <cctype>
#include <climits>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "sr/io/atomic_file.hpp"
#include "sr/io/image_transform.hpp"
#include "sr/io/image_types.hpp"
#include "sr/io/read_file.hpp"

namespace sr::io {

static_assert(std::endian::native == std::endian::little, "npy.hpp copies '<u2' samples as they are");

inline constexpr char k_npy_magic[] = "\x93NUMPY";
inline constexpr std::size_t k_npy_magic_size = 6;

struct NpyHeader {
    int height = 0, width = 0, channels = 0;
    int bit_depth = 8;
    bool big_endian = false;      // '>u2': samples need a byte swap
    std::size_t data_offset = 0;  // bytes from the start of the file to the first sample
    std::size_t data_bytes() const {
        return static_cast<std::size_t>(height) * width * channels * (bit_depth / 8);
    }
};

namespace detail {

// The value text after `'key':` in the header dict, or an empty view when the key is absent.
inline std::string_view npy_dict_value(std::string_view dict, std::string_view key) {
    for (const char quote : {'\'', '"'}) {
        const std::string quoted = std::string(1, quote) + std::string(key) + quote;
        const std::size_t at = dict.find(quoted);
        if (at == std::string_view::npos) continue;
        std::size_t p = dict.find(':', at + quoted.size());
        if (p == std::string_view::npos) return {};
        ++p;
        while (p < dict.size() && std::isspace(static_cast<unsigned char>(dict[p]))) ++p;
        return dict.substr(p);
    }
    return {};
}

// Parses the header that starts `bytes` (at least the first `available` bytes of the file).
// Returns false when more bytes are needed to see the whole header (sets `needed`).
inline bool parse_npy_header(const uint8_t* bytes, std::size_t available, const std::string& file,
                             NpyHeader& header, std::size_t& needed) {
    needed = 10;
    if (available < needed) return false;
    if (std::memcmp(bytes, k_npy_magic, k_npy_magic_size) != 0)
        image_fail(ImageErrorKind::corrupt, file, "not a .npy file (bad magic)");
    const int major = bytes[6];
    std::size_t header_len = 0, prefix = 0;
    if (major == 1) {
        header_len = bytes[8] | (std::size_t{bytes[9]} << 8);
        prefix = 10;
    } else if (major == 2 || major == 3) {
        needed = 12;
        if (available < needed) return false;
        header_len = bytes[8] | (std::size_t{bytes[9]} << 8) | (std::size_t{bytes[10]} << 16) |
                     (std::size_t{bytes[11]} << 24);
        prefix = 12;
    } else {
        image_fail(ImageErrorKind::unsupported, file, ".npy format version ", major, ".", int(bytes[7]));
    }
    needed = prefix + header_len;
    if (available < needed) return false;
    const std::string_view dict(reinterpret_cast<const char*>(bytes + prefix), header_len);

    std::string_view descr = npy_dict_value(dict, "descr");
    if (descr.empty() || (descr[0] != '\'' && descr[0] != '"'))
        image_fail(ImageErrorKind::corrupt, file, ".npy header has no 'descr'");
    descr = descr.substr(1, descr.find(descr[0], 1) - 1);
    if (descr == "|u1" || descr == "u1" || descr == "<u1" || descr == ">u1" || descr == "=u1") {
        header.bit_depth = 8;
    } else if (descr == "<u2" || descr == "=u2") {
        header.bit_depth = 16;
    } else if (descr == ">u2") {
        header.bit_depth = 16;
        header.big_endian = true;
    } else {
        image_fail(ImageErrorKind::unsupported, file, ".npy dtype '", descr, "' (images are uint8 or uint16)");
    }

    const std::string_view fortran = npy_dict_value(dict, "fortran_order");
    if (fortran.substr(0, 4) == "True")
        image_fail(ImageErrorKind::unsupported, file, ".npy in Fortran order (save a C-ordered array)");
    if (fortran.substr(0, 5) != "False") image_fail(ImageErrorKind::corrupt, file, ".npy header has no 'fortran_order'");

    std::string_view shape = npy_dict_value(dict, "shape");
    if (shape.empty() || shape[0] != '(') image_fail(ImageErrorKind::corrupt, file, ".npy header has no 'shape'");
    shape = shape.substr(1, shape.find(')') == std::string_view::npos ? 0 : shape.find(')') - 1);
    std::vector<int64_t> dims;
    for (std::size_t p = 0; p < shape.size();) {
        if (std::isdigit(static_cast<unsigned char>(shape[p]))) {
            int64_t v = 0;
            while (p < shape.size() && std::isdigit(static_cast<unsigned char>(shape[p]))) {
                v = v * 10 + (shape[p++] - '0');
                if (v > INT_MAX) image_fail(ImageErrorKind::corrupt, file, ".npy dimension too large");
            }
            dims.push_back(v);
        } else if (shape[p] == ',' || std::isspace(static_cast<unsigned char>(shape[p])) || shape[p] == 'L') {
            ++p;
        } else {
            image_fail(ImageErrorKind::corrupt, file, ".npy shape '(", shape, ")' is not a tuple of integers");
        }
    }
    if (dims.size() == 2) dims.push_back(1);
    if (dims.size() != 3 || dims[2] < 1 || dims[2] > 4)
        image_fail(ImageErrorKind::unsupported, file, ".npy shape (", shape,
                   ") is not an image (expected (H, W) or (H, W, C) with C in 1..4)");
    if (dims[0] == 0 || dims[1] == 0)
        image_fail(ImageErrorKind::corrupt, file, ".npy shape (", shape, ") holds no pixels");
    // Each dimension is below 2^31; capping the pixel count at 2^40 keeps data_bytes() (at most
    // 8 bytes a pixel) and every offset computed from it far from overflow.
    if (dims[0] * dims[1] > (int64_t{1} << 40))
        image_fail(ImageErrorKind::too_large, file, ".npy shape (", shape, ") is beyond any image");
    header.height = static_cast<int>(dims[0]);
    header.width = static_cast<int>(dims[1]);
    header.channels = static_cast<int>(dims[2]);
    header.data_offset = needed;
    return true;
}

inline void npy_swap_bytes(uint16_t* samples, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) samples[i] = static_cast<uint16_t>((samples[i] >> 8) | (samples[i] << 8));
}

}  // namespace detail

// The header of a .npy held in memory.
inline NpyHeader decode_npy_header(const uint8_t* bytes, std::size_t size, const std::string& file) {
    NpyHeader header;
    std::size_t needed = 0;
    if (!detail::parse_npy_header(bytes, size, file, header, needed))
        image_fail(ImageErrorKind::truncated, file, "the .npy header needs ", needed, " bytes, the file has ", size);
    return header;
}

// A whole .npy held in memory -> Image.
inline Image decode_npy(const uint8_t* bytes, std::size_t size, const std::string& file) {
    const NpyHeader header = decode_npy_header(bytes, size, file);
    if (size < header.data_offset + header.data_bytes())
        image_fail(ImageErrorKind::truncated, file, ".npy data needs ", header.data_offset + header.data_bytes(),
                   " bytes, the file has ", size);
    Image image(header.height, header.width, header.channels, header.bit_depth);
    if (header.bit_depth == 8) {
        std::memcpy(image.data8(), bytes + header.data_offset, header.data_bytes());
    } else {
        std::memcpy(image.data16(), bytes + header.data_offset, header.data_bytes());
        if (header.big_endian) detail::npy_swap_bytes(image.data16(), image.sample_count());
    }
    return image;
}

// Reads only the header of a .npy file (a few hundred bytes).
inline NpyHeader read_npy_header(const std::filesystem::path& path) {
    FileHandle file(path);
    std::vector<uint8_t> head(128);
    for (;;) {
        const std::size_t got = file.read_at(head.data(), head.size(), 0);
        NpyHeader header;
        std::size_t needed = 0;
        if (detail::parse_npy_header(head.data(), got, file.path(), header, needed)) return header;
        if (got < head.size() || needed > (std::size_t{1} << 24))
            image_fail(ImageErrorKind::truncated, file.path(), "the .npy header needs ", needed, " bytes, the file has ",
                       got);
        head.resize(needed);
    }
}

// Reads the pixels of `window` only: whole rows come from the file with one positioned read, so
// a training crop of a large cached image costs its own rows, not the image.
inline Image read_npy_window(const std::filesystem::path& path, const Window& window) {
    const NpyHeader header = read_npy_header(path);
    FileHandle file(path);
    SR_CHECK(window.top >= 0 && window.left >= 0 && window.height >= 0 && window.width >= 0 &&
                 window.top + window.height <= header.height && window.left + window.width <= header.width,
             path.string(), ": window (top ", window.top, ", left ", window.left, ", ", window.height, "x",
             window.width, ") is outside the ", header.height, "x", header.width, " image");
    if (file.size() < static_cast<int64_t>(header.data_offset + header.data_bytes()))
        image_fail(ImageErrorKind::truncated, file.path(), ".npy data needs ", header.data_offset + header.data_bytes(),
                   " bytes, the file has ", file.size());
    const std::size_t sample_bytes = header.bit_depth / 8;
    const std::size_t row_bytes = static_cast<std::size_t>(header.width) * header.channels * sample_bytes;
    Image rows(window.height, header.width, header.channels, header.bit_depth);
    void* dst = header.bit_depth == 8 ? static_cast<void*>(rows.data8()) : static_cast<void*>(rows.data16());
    const std::size_t want = row_bytes * window.height;
    if (file.read_at(dst, want, static_cast<int64_t>(header.data_offset + row_bytes * window.top)) != want)
        image_fail(ImageErrorKind::truncated, file.path(), "the .npy file ended while reading rows");
    if (header.big_endian) detail::npy_swap_bytes(rows.data16(), rows.sample_count());
    if (window.left == 0 && window.width == header.width) return rows;
    return crop(rows, Window{0, window.left, window.height, window.width});
}

inline Image read_npy(const std::filesystem::path& path) {
    const std::vector<uint8_t> bytes = read_file_bytes(path);
    return decode_npy(bytes.data(), bytes.size(), path.string());
}

// The .npy bytes of an image: shape (H, W, C), '|u1' or '<u2', format 1.0, data 64-byte aligned.
inline std::vector<uint8_t> encode_npy(const Image& image) {
    std::string dict = sr::detail::concat("{'descr': '", image.bit_depth() == 8 ? "|u1" : "<u2",
                                      "', 'fortran_order': False, 'shape': (", image.height(), ", ", image.width(),
                                      ", ", image.channels(), "), }");
    const std::size_t unpadded = 10 + dict.size() + 1;
    dict.append((64 - unpadded % 64) % 64, ' ');
    dict.push_back('\n');
    std::vector<uint8_t> out(10 + dict.size());
    std::memcpy(out.data(), k_npy_magic, k_npy_magic_size);
    out[6] = 1;
    out[7] = 0;
    out[8] = static_cast<uint8_t>(dict.size() & 0xff);
    out[9] = static_cast<uint8_t>(dict.size() >> 8);
    std::memcpy(out.data() + 10, dict.data(), dict.size());
    const std::size_t data_bytes = image.sample_count() * (image.bit_depth() / 8);
    const auto* samples = image.bit_depth() == 8 ? reinterpret_cast<const uint8_t*>(image.data8())
                                                 : reinterpret_cast<const uint8_t*>(image.data16());
    out.insert(out.end(), samples, samples + data_bytes);
    return out;
}

// Writes the image as .npy atomically (temporary file, then rename).
inline void write_npy(const std::filesystem::path& path, const Image& image) {
    const std::vector<uint8_t> bytes = encode_npy(image);
    write_file_atomically(path, bytes.data(), bytes.size());
}

}  // namespace sr::io
