#pragma once
// Test fixtures for the image and data tests: synthetic images, and minimal encoders for PNG
// (stored deflate blocks), BMP and TGA written from the format specifications, independent of
// the codecs under test, so decoding is checked against bytes we laid out ourselves.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "sr/core/rng.hpp"
#include "sr/io/image_types.hpp"

namespace sr::test {

using Bytes = std::vector<uint8_t>;

// Smooth gradients plus a little noise: compresses like a photo, exercises every channel.
inline io::Image synthetic_image(int height, int width, int channels, int bit_depth = 8, uint64_t seed = 1) {
    io::Image image(height, width, channels, bit_depth);
    Rng rng(seed);
    const int max_value = image.max_value();
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x)
            for (int c = 0; c < channels; ++c) {
                const double base = (c % 2 ? double(y) / std::max(1, height - 1) : double(x) / std::max(1, width - 1));
                const double v = (0.1 + 0.8 * base) * max_value + (rng.uniform() - 0.5) * 0.05 * max_value;
                image.set(y, x, c, static_cast<int>(std::clamp(v, 0.0, double(max_value))));
            }
    return image;
}

// Uniform random samples (incompressible; exact round trips).
inline io::Image random_image(int height, int width, int channels, int bit_depth = 8, uint64_t seed = 2) {
    io::Image image(height, width, channels, bit_depth);
    Rng rng(seed);
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x)
            for (int c = 0; c < channels; ++c) image.set(y, x, c, static_cast<int>(rng.below(image.max_value() + 1u)));
    return image;
}

inline void write_bytes(const std::filesystem::path& path, const Bytes& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}
inline Bytes read_bytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), {});
}

inline void put_be32(Bytes& b, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}
inline void put_le16(Bytes& b, uint32_t v) {
    b.push_back(static_cast<uint8_t>(v));
    b.push_back(static_cast<uint8_t>(v >> 8));
}
inline void put_le32(Bytes& b, uint32_t v) {
    put_le16(b, v & 0xffff);
    put_le16(b, v >> 16);
}

inline uint32_t crc32(const uint8_t* data, std::size_t n, uint32_t crc = 0) {
    crc = ~crc;
    for (std::size_t i = 0; i < n; ++i) {
        crc ^= data[i];
        for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

inline void png_chunk(Bytes& out, const char* type, const Bytes& payload) {
    put_be32(out, static_cast<uint32_t>(payload.size()));
    Bytes body(type, type + 4);
    body.insert(body.end(), payload.begin(), payload.end());
    out.insert(out.end(), body.begin(), body.end());
    put_be32(out, crc32(body.data(), body.size()));
}

// zlib stream of stored (uncompressed) deflate blocks (RFC 1950/1951).
inline Bytes zlib_stored(const Bytes& raw) {
    Bytes z = {0x78, 0x01};
    std::size_t pos = 0;
    do {
        const std::size_t n = std::min<std::size_t>(65535, raw.size() - pos);
        z.push_back(pos + n == raw.size() ? 1 : 0);
        put_le16(z, static_cast<uint32_t>(n));
        put_le16(z, static_cast<uint32_t>(~n & 0xffff));
        z.insert(z.end(), raw.begin() + static_cast<std::ptrdiff_t>(pos), raw.begin() + static_cast<std::ptrdiff_t>(pos + n));
        pos += n;
    } while (pos < raw.size());
    uint32_t a = 1, b = 0;
    for (uint8_t v : raw) {  // Adler-32
        a = (a + v) % 65521;
        b = (b + a) % 65521;
    }
    put_be32(z, (b << 16) | a);
    return z;
}

// A PNG of the image (colour type from the channel count, 8 or 16 bits, filter 0), optionally
// Adam7-interlaced: 7 passes over the pixel grids (x0 + i*dx, y0 + j*dy) (PNG spec 8.2).
inline Bytes hand_png(const io::Image& image, bool interlaced = false) {
    static const uint8_t k_color_type[5] = {0, 0, 4, 2, 6};
    Bytes out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    Bytes ihdr;
    put_be32(ihdr, static_cast<uint32_t>(image.width()));
    put_be32(ihdr, static_cast<uint32_t>(image.height()));
    ihdr.insert(ihdr.end(), {static_cast<uint8_t>(image.bit_depth()), k_color_type[image.channels()], 0, 0,
                             static_cast<uint8_t>(interlaced ? 1 : 0)});
    png_chunk(out, "IHDR", ihdr);
    struct Pass {
        int x0, y0, dx, dy;
    };
    const std::vector<Pass> passes = interlaced ? std::vector<Pass>{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4},
                                                                    {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}
                                                : std::vector<Pass>{{0, 0, 1, 1}};
    Bytes raw;
    for (const Pass& pass : passes) {
        if (pass.x0 >= image.width()) continue;  // an empty pass has no rows at all
        for (int y = pass.y0; y < image.height(); y += pass.dy) {
            raw.push_back(0);
            for (int x = pass.x0; x < image.width(); x += pass.dx)
                for (int c = 0; c < image.channels(); ++c) {
                    const int v = image.at(y, x, c);
                    if (image.bit_depth() == 16) raw.push_back(static_cast<uint8_t>(v >> 8));
                    raw.push_back(static_cast<uint8_t>(v));
                }
        }
    }
    png_chunk(out, "IDAT", zlib_stored(raw));
    png_chunk(out, "IEND", {});
    return out;
}

// A palette PNG: `indices` (8-bit) into `palette` (RGB triples), with optional per-entry alpha.
inline Bytes hand_palette_png(int height, int width, const Bytes& indices, const Bytes& palette, const Bytes& alpha) {
    Bytes out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    Bytes ihdr;
    put_be32(ihdr, static_cast<uint32_t>(width));
    put_be32(ihdr, static_cast<uint32_t>(height));
    ihdr.insert(ihdr.end(), {8, 3, 0, 0, 0});
    png_chunk(out, "IHDR", ihdr);
    png_chunk(out, "PLTE", palette);
    if (!alpha.empty()) png_chunk(out, "tRNS", alpha);
    Bytes raw;
    for (int y = 0; y < height; ++y) {
        raw.push_back(0);
        raw.insert(raw.end(), indices.begin() + y * width, indices.begin() + (y + 1) * width);
    }
    png_chunk(out, "IDAT", zlib_stored(raw));
    png_chunk(out, "IEND", {});
    return out;
}

// 24-bit BMP (BITMAPINFOHEADER, BGR, rows padded to 4 bytes), bottom-up or top-down.
inline Bytes hand_bmp24(const io::Image& rgb, bool top_down = false) {
    const int w = rgb.width(), h = rgb.height();
    const int row = (w * 3 + 3) / 4 * 4;
    Bytes out = {'B', 'M'};
    put_le32(out, static_cast<uint32_t>(54 + row * h));
    put_le32(out, 0);
    put_le32(out, 54);
    put_le32(out, 40);
    put_le32(out, static_cast<uint32_t>(w));
    put_le32(out, static_cast<uint32_t>(top_down ? -h : h));
    put_le16(out, 1);
    put_le16(out, 24);
    for (int i = 0; i < 6; ++i) put_le32(out, 0);
    for (int r = 0; r < h; ++r) {
        const int y = top_down ? r : h - 1 - r;
        for (int x = 0; x < w; ++x)
            for (int c = 2; c >= 0; --c) out.push_back(static_cast<uint8_t>(rgb.at(y, x, c)));
        for (int p = w * 3; p < row; ++p) out.push_back(0);
    }
    return out;
}

// Uncompressed TGA (type 2 true colour BGR or type 3 gray), origin bottom-left.
inline Bytes hand_tga(const io::Image& image) {
    const bool gray = image.channels() == 1;
    Bytes out = {0, 0, static_cast<uint8_t>(gray ? 3 : 2), 0, 0, 0, 0, 0, 0, 0, 0, 0};
    put_le16(out, static_cast<uint32_t>(image.width()));
    put_le16(out, static_cast<uint32_t>(image.height()));
    out.push_back(gray ? 8 : 24);
    out.push_back(0);
    for (int r = image.height() - 1; r >= 0; --r)
        for (int x = 0; x < image.width(); ++x) {
            if (gray)
                out.push_back(static_cast<uint8_t>(image.at(r, x, 0)));
            else
                for (int c = 2; c >= 0; --c) out.push_back(static_cast<uint8_t>(image.at(r, x, c)));
        }
    return out;
}

// Run-length TGA (type 10, 24-bit, origin top-left): each row as one repeat packet of its first
// pixel's run, then raw packets, so both packet kinds occur.
inline Bytes hand_tga_rle(const io::Image& rgb) {
    Bytes out = {0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    put_le16(out, static_cast<uint32_t>(rgb.width()));
    put_le16(out, static_cast<uint32_t>(rgb.height()));
    out.push_back(24);
    out.push_back(0x20);  // top-left origin
    auto pixel = [&](int y, int x) {
        for (int c = 2; c >= 0; --c) out.push_back(static_cast<uint8_t>(rgb.at(y, x, c)));
    };
    for (int y = 0; y < rgb.height(); ++y) {
        int x = 0;
        while (x < rgb.width()) {
            int run = 1;
            while (x + run < rgb.width() && run < 128 && rgb.at(y, x + run, 0) == rgb.at(y, x, 0) &&
                   rgb.at(y, x + run, 1) == rgb.at(y, x, 1) && rgb.at(y, x + run, 2) == rgb.at(y, x, 2))
                ++run;
            if (run > 1) {
                out.push_back(static_cast<uint8_t>(0x80 | (run - 1)));
                pixel(y, x);
            } else {
                out.push_back(0);
                pixel(y, x);
            }
            x += run;
        }
    }
    return out;
}

}  // namespace sr::test
