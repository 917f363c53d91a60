#pragma once
// PNG through libpng (Debian's libpng16): 8- and 16-bit, gray, gray+alpha, RGB, RGBA, palette and
// low-bit-depth gray expanded to 8 bits, tRNS turned into an alpha channel, interlaced files.
// libpng rather than stb because stb writes 8-bit PNG only and does not check chunk CRCs.
//
// libpng reports errors by longjmp. The functions that call setjmp keep every C++ object they own
// outside the jump (in a state struct owned by the caller, or declared before setjmp), so the
// jump never skips a destructor; the caller turns the recorded message into an ImageError.
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "sr/io/image_transform.hpp"
#include "sr/io/image_types.hpp"
#include "sr/io/read_file.hpp"

namespace sr::io {

inline constexpr uint8_t k_png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

namespace detail {

struct PngReadState {
    const uint8_t* data = nullptr;
    std::size_t size = 0, position = 0;
    int64_t max_pixels = 0;
    int first_row = 0, row_count = -1;  // rows to keep; -1: through the last row
    bool truncated = false, too_large = false, bad_window = false;
    int64_t width = 0, height = 0;
    char message[256] = {};
    char ihdr_warning[128] = {};  // why libpng found IHDR invalid (it says only "Invalid IHDR data")
    Image image;
    std::vector<png_bytep> rows;
    std::vector<png_byte> scratch;
};

struct PngWriteState {
    std::vector<uint8_t>* out = nullptr;
    char message[256] = {};
    std::vector<png_bytep> rows;
};

template <class State>
[[noreturn]] void png_error_handler(png_structp png, png_const_charp message) {
    auto* state = static_cast<State*>(png_get_error_ptr(png));
    std::strncpy(state->message, message ? message : "libpng error", sizeof(state->message) - 1);
    if constexpr (std::is_same_v<State, PngReadState>)
        if (state->ihdr_warning[0] && message && std::strcmp(message, "Invalid IHDR data") == 0)
            std::snprintf(state->message, sizeof(state->message), "Invalid IHDR data: %s", state->ihdr_warning);
    png_longjmp(png, 1);
}
inline void png_ignore_warning(png_structp, png_const_charp) {}
// libpng reports each bad IHDR field as a warning ("Image width is zero in IHDR"), then fails with
// "Invalid IHDR data"; the first such warning goes into the error so it says which field.
inline void png_keep_ihdr_warning(png_structp png, png_const_charp message) {
    auto* state = static_cast<PngReadState*>(png_get_error_ptr(png));
    if (message && std::strstr(message, "IHDR") && state->ihdr_warning[0] == 0)
        std::strncpy(state->ihdr_warning, message, sizeof(state->ihdr_warning) - 1);
}

inline void png_read_from_memory(png_structp png, png_bytep out, png_size_t bytes) {
    auto* state = static_cast<PngReadState*>(png_get_io_ptr(png));
    if (state->size - state->position < bytes) {
        state->truncated = true;
        png_error(png, "the file ends before the image does");
    }
    std::memcpy(out, state->data + state->position, bytes);
    state->position += bytes;
}

inline void png_write_to_vector(png_structp png, png_bytep data, png_size_t bytes) {
    auto* state = static_cast<PngWriteState*>(png_get_io_ptr(png));
    state->out->insert(state->out->end(), data, data + bytes);
}
inline void png_flush_nothing(png_structp) {}

struct PngReadGuard {
    png_structp* png;
    png_infop* info;
    ~PngReadGuard() { png_destroy_read_struct(png, info, nullptr); }
};
struct PngWriteGuard {
    png_structp* png;
    png_infop* info;
    ~PngWriteGuard() { png_destroy_write_struct(png, info); }
};

// Decodes into state.image; false (with state.message / flags set) on failure.
inline bool png_decode_into(PngReadState& state) {
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &state, png_error_handler<PngReadState>,
                                             png_keep_ihdr_warning);
    png_infop info = png ? png_create_info_struct(png) : nullptr;
    PngReadGuard guard{&png, &info};
    if (!png || !info) {
        std::strncpy(state.message, "libpng could not allocate its decoder", sizeof(state.message) - 1);
        return false;
    }
    if (setjmp(png_jmpbuf(png))) return false;

    png_set_read_fn(png, &state, png_read_from_memory);
    png_read_info(png, info);
    png_uint_32 width = 0, height = 0;
    int depth = 0, color_type = 0;
    png_get_IHDR(png, info, &width, &height, &depth, &color_type, nullptr, nullptr, nullptr);
    state.width = width;
    state.height = height;
    if (int64_t{width} * int64_t{height} > state.max_pixels) {
        state.too_large = true;
        return false;
    }
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    if (depth == 16) png_set_swap(png);  // PNG stores 16-bit samples big-endian; this host is little-endian
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    const int channels = png_get_channels(png, info);
    const int bit_depth = png_get_bit_depth(png, info);
    const int64_t rows = state.row_count < 0 ? int64_t{height} - state.first_row : state.row_count;
    if (state.first_row < 0 || rows < 0 || state.first_row + rows > int64_t{height}) {
        state.bad_window = true;
        return false;
    }
    // Interlaced images spread every row over 7 passes: decode all rows, the caller crops.
    const bool whole = png_get_interlace_type(png, info) != PNG_INTERLACE_NONE;
    const int64_t first = whole ? 0 : state.first_row, kept = whole ? int64_t{height} : rows;
    state.image = Image(static_cast<int>(kept), static_cast<int>(width), channels, bit_depth);
    const std::size_t row_bytes = static_cast<std::size_t>(width) * channels * (bit_depth / 8);
    auto* base = bit_depth == 8 ? reinterpret_cast<png_bytep>(state.image.data8())
                                : reinterpret_cast<png_bytep>(state.image.data16());
    if (whole) {
        state.rows.resize(height);
        for (png_uint_32 y = 0; y < height; ++y) state.rows[y] = base + y * row_bytes;
        png_read_image(png, state.rows.data());
    } else {
        // Rows are decoded in order; those above the window go through one scratch row, and
        // decoding stops after the window's last row.
        state.scratch.resize(row_bytes);
        for (int64_t y = 0; y < first + kept; ++y)
            png_read_row(png, y >= first ? base + (y - first) * row_bytes : state.scratch.data(), nullptr);
    }
    // Reading on to IEND catches a file cut short after the pixels (only when all rows were asked for).
    if (first + kept == int64_t{height}) png_read_end(png, nullptr);
    return true;
}

inline bool png_encode_into(PngWriteState& state, const Image& image, int compression_level) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &state, png_error_handler<PngWriteState>,
                                              png_ignore_warning);
    png_infop info = png ? png_create_info_struct(png) : nullptr;
    PngWriteGuard guard{&png, &info};
    if (!png || !info) {
        std::strncpy(state.message, "libpng could not allocate its encoder", sizeof(state.message) - 1);
        return false;
    }
    if (setjmp(png_jmpbuf(png))) return false;

    constexpr int k_color_types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                      PNG_COLOR_TYPE_RGBA};
    png_set_write_fn(png, &state, png_write_to_vector, png_flush_nothing);
    png_set_IHDR(png, info, static_cast<png_uint_32>(image.width()), static_cast<png_uint_32>(image.height()),
                 image.bit_depth(), k_color_types[image.channels()], PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, compression_level);
    png_write_info(png, info);
    if (image.bit_depth() == 16) png_set_swap(png);
    const std::size_t row_bytes = static_cast<std::size_t>(image.width()) * image.channels() * (image.bit_depth() / 8);
    auto* base = image.bit_depth() == 8 ? reinterpret_cast<png_bytep>(const_cast<uint8_t*>(image.data8()))
                                        : reinterpret_cast<png_bytep>(const_cast<uint16_t*>(image.data16()));
    state.rows.resize(static_cast<std::size_t>(image.height()));
    for (int y = 0; y < image.height(); ++y) state.rows[y] = base + y * row_bytes;
    png_write_image(png, state.rows.data());
    png_write_end(png, nullptr);
    return true;
}

inline uint32_t png_read_u32(const uint8_t* p) {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace detail

inline bool is_png(const uint8_t* bytes, std::size_t size) {
    return size >= 8 && std::memcmp(bytes, k_png_signature, 8) == 0;
}

// Decodes PNG bytes, or only rows [first_row, first_row + row_count) of them (row_count -1: to
// the bottom). A row window stops decoding after its last row, so it costs the rows above and in
// it, and damage further down goes unnoticed until the whole image is read. `file` names the
// source in errors.
inline Image decode_png(const uint8_t* bytes, std::size_t size, const std::string& file, int64_t max_pixels,
                        int first_row = 0, int row_count = -1) {
    if (!is_png(bytes, size)) image_fail(ImageErrorKind::corrupt, file, "not a PNG file (bad signature)");
    detail::PngReadState state;
    state.data = bytes;
    state.size = size;
    state.max_pixels = max_pixels;
    state.first_row = first_row;
    state.row_count = row_count;
    if (!detail::png_decode_into(state)) {
        if (state.too_large)
            image_fail(ImageErrorKind::too_large, file, state.width, "x", state.height, " pixels exceed the limit of ",
                       max_pixels, " (ReadOptions::max_pixels)");
        SR_CHECK(!state.bad_window, file, ": rows ", first_row, "..", first_row + row_count - 1,
                 " are outside the image's ", state.height, " rows");
        image_fail(state.truncated ? ImageErrorKind::truncated : ImageErrorKind::corrupt, file, "PNG: ", state.message);
    }
    if (state.image.height() != (row_count < 0 ? state.height - first_row : row_count))  // interlaced: cropped here
        return crop(state.image, Window{first_row, 0, row_count < 0 ? static_cast<int>(state.height) - first_row : row_count,
                                        state.image.width()});
    return std::move(state.image);
}

// PNG bytes of an image (any layout, 8 or 16 bits). compression_level: zlib 0..9.
inline std::vector<uint8_t> encode_png(const Image& image, const std::string& file, int compression_level = 6) {
    SR_CHECK(compression_level >= 0 && compression_level <= 9, file, ": PNG compression level ", compression_level,
             " is outside 0..9");
    std::vector<uint8_t> out;
    detail::PngWriteState state;
    state.out = &out;
    if (!detail::png_encode_into(state, image, compression_level))
        image_fail(ImageErrorKind::io, file, "PNG encoder: ", state.message);
    return out;
}

// Size, channels (tRNS counted as alpha) and depth from the chunks before the first IDAT.
inline ImageInfo read_png_info(const FileHandle& file) {
    uint8_t head[33];
    if (file.read_at(head, sizeof(head), 0) < sizeof(head) || !is_png(head, sizeof(head)))
        image_fail(ImageErrorKind::corrupt, file.path(), "not a PNG file or no IHDR");
    if (std::memcmp(head + 12, "IHDR", 4) != 0) image_fail(ImageErrorKind::corrupt, file.path(), "PNG: IHDR missing");
    ImageInfo info;
    const uint32_t width = detail::png_read_u32(head + 16), height = detail::png_read_u32(head + 20);
    // PNG allows 1..2^31-1 (libpng's decoder enforces it; this reader must not wrap to a negative int).
    if (width == 0 || height == 0 || width > INT32_MAX || height > INT32_MAX)
        image_fail(ImageErrorKind::corrupt, file.path(), "PNG: size ", width, "x", height, " is not valid");
    info.width = static_cast<int>(width);
    info.height = static_cast<int>(height);
    const int depth = head[24], color_type = head[25];
    info.bit_depth = depth == 16 ? 16 : 8;
    info.channels = color_type == 0 ? 1 : color_type == 4 ? 2 : color_type == 6 ? 4 : 3;
    int64_t offset = 33;
    for (int chunk = 0; chunk < 10000; ++chunk) {
        uint8_t header[8];
        if (file.read_at(header, 8, offset) < 8) break;
        if (std::memcmp(header + 4, "IDAT", 4) == 0 || std::memcmp(header + 4, "IEND", 4) == 0) break;
        if (std::memcmp(header + 4, "tRNS", 4) == 0 && (info.channels == 1 || info.channels == 3)) ++info.channels;
        offset += 12 + int64_t{detail::png_read_u32(header)};
    }
    return info;
}

}  // namespace sr::io
