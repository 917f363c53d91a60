#pragma once
// A walk over a JPEG's marker segments, before any pixel is decoded. It finds what stb_image does
// not tell us: the EXIF orientation (APP1 "Exif", TIFF tag 0x0112), whether the file reaches its
// end-of-image marker (stb decodes a cut-off file without complaint, filling the rest with gray),
// and the frame header, to name unsupported variants (arithmetic coding, 12-bit) precisely.
#include <cstdint>
#include <string>

namespace sr::io {

struct JpegStructure {
    bool complete = false;      // an EOI marker follows the last scan
    bool corrupt = false;       // a segment is malformed (see problem)
    std::string problem;        // what is wrong, when !complete
    int orientation = 1;        // EXIF orientation 1..8; 1 when absent or unreadable
    bool has_frame = false;     // a start-of-frame segment was seen
    int sof_marker = 0;         // 0xC0..0xCF
    int precision = 8, height = 0, width = 0, components = 0;
};

namespace detail {

// EXIF orientation from an APP1 payload that starts with "Exif\0\0"; 1 when anything is off.
inline int exif_orientation(const uint8_t* p, std::size_t n) {
    if (n < 6 + 8 || p[0] != 'E' || p[1] != 'x' || p[2] != 'i' || p[3] != 'f' || p[4] != 0 || p[5] != 0) return 1;
    const uint8_t* tiff = p + 6;
    const std::size_t size = n - 6;
    const bool little = tiff[0] == 'I' && tiff[1] == 'I';
    if (!little && !(tiff[0] == 'M' && tiff[1] == 'M')) return 1;
    auto u16 = [&](std::size_t at) -> uint32_t {
        return little ? tiff[at] | (uint32_t{tiff[at + 1]} << 8) : (uint32_t{tiff[at]} << 8) | tiff[at + 1];
    };
    auto u32 = [&](std::size_t at) -> uint32_t {
        return little ? u16(at) | (u16(at + 2) << 16) : (u16(at) << 16) | u16(at + 2);
    };
    if (u16(2) != 42) return 1;
    const std::size_t ifd = u32(4);
    if (ifd + 2 > size) return 1;
    const uint32_t entries = u16(ifd);
    for (uint32_t e = 0; e < entries; ++e) {
        const std::size_t at = ifd + 2 + std::size_t{e} * 12;
        if (at + 12 > size) return 1;
        if (u16(at) == 0x0112 && u16(at + 2) == 3 /* SHORT */) {
            const uint32_t value = u16(at + 8);
            return value >= 1 && value <= 8 ? static_cast<int>(value) : 1;
        }
    }
    return 1;
}

}  // namespace detail

inline bool is_jpeg(const uint8_t* bytes, std::size_t size) {
    return size >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;
}

inline JpegStructure scan_jpeg(const uint8_t* data, std::size_t size) {
    JpegStructure s;
    auto truncated = [&](const char* where) {
        s.problem = std::string("the file ends ") + where + " (no end-of-image marker)";
        return s;
    };
    if (!is_jpeg(data, size)) {
        s.corrupt = true;
        s.problem = "not a JPEG file (no start-of-image marker)";
        return s;
    }
    std::size_t pos = 2;
    for (;;) {
        while (pos < size && data[pos] != 0xFF) ++pos;  // stray bytes between segments: skipped, as libjpeg does
        while (pos < size && data[pos] == 0xFF) ++pos;  // fill bytes
        if (pos >= size) return truncated("between segments");
        const int marker = data[pos++];
        if (marker == 0xD9) {
            s.complete = true;
            return s;
        }
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // no length field
        if (pos + 2 > size) return truncated("inside a segment header");
        const std::size_t length = (std::size_t{data[pos]} << 8) | data[pos + 1];
        if (length < 2) {
            s.corrupt = true;
            s.problem = "segment with a length below 2";
            return s;
        }
        if (pos + length > size) {
            // A file that still ends with its end-of-image marker was not cut off: a length field
            // (or a marker invented by a damaged scan) points past it.
            if (size >= 4 && data[size - 2] == 0xFF && data[size - 1] == 0xD9) {
                s.corrupt = true;
                s.problem = "a segment's length runs past the end-of-image marker";
                return s;
            }
            return truncated("inside a segment");
        }
        const uint8_t* payload = data + pos + 2;
        const std::size_t payload_size = length - 2;
        const bool is_frame = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
        if (is_frame && !s.has_frame) {
            if (payload_size < 6) {
                s.corrupt = true;
                s.problem = "frame header too short";
                return s;
            }
            s.has_frame = true;
            s.sof_marker = marker;
            s.precision = payload[0];
            s.height = (payload[1] << 8) | payload[2];
            s.width = (payload[3] << 8) | payload[4];
            s.components = payload[5];
        } else if (marker == 0xE1 && s.orientation == 1) {
            s.orientation = detail::exif_orientation(payload, payload_size);
        }
        pos += length;
        if (marker == 0xDA) {
            // Entropy-coded data runs to the next marker that is neither a stuffed 0xFF00 nor a restart.
            for (;;) {
                while (pos < size && data[pos] != 0xFF) ++pos;
                if (pos + 1 >= size) return truncated("inside the compressed image data");
                const uint8_t next = data[pos + 1];
                if (next == 0x00 || (next >= 0xD0 && next <= 0xD7) || next == 0xFF) {
                    pos += next == 0xFF ? 1 : 2;
                    continue;
                }
                break;
            }
        }
    }
}

}  // namespace sr::io
