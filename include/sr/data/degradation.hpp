#pragma once
// Degradations that make an LR image from an HR one: the benchmark bicubic (sr/data/bicubic.hpp)
// and bicubic followed by a JPEG round trip at quality Q, the seed's `bicubic_jpeg_Q` downgrades
// (its convert.py saved the bicubic LR with PIL at quality Q and 4:2:0 chroma; stb's encoder uses
// the same IJG quality scaling and 4:2:0 up to quality 90, so artefacts are alike, not bit-equal).
#include <cstdlib>
#include <string>
#include <string_view>

#include "sr/data/bicubic.hpp"
#include "sr/io/image.hpp"

namespace sr::data {

struct Degradation {
    enum class Kind { bicubic, bicubic_jpeg };
    Kind kind = Kind::bicubic;
    int jpeg_quality = 90;  // for bicubic_jpeg

    // "bicubic" or "bicubic_jpeg_<Q>" (Q in 1..100), the names of the seed's DOWNGRADES.
    static Degradation parse(std::string_view name) {
        if (name == "bicubic") return {};
        constexpr std::string_view k_jpeg = "bicubic_jpeg_";
        if (name.substr(0, k_jpeg.size()) == k_jpeg) {
            const std::string digits(name.substr(k_jpeg.size()));
            char* end = nullptr;
            const long q = std::strtol(digits.c_str(), &end, 10);
            if (!digits.empty() && *end == '\0' && q >= 1 && q <= 100) return {Kind::bicubic_jpeg, static_cast<int>(q)};
        }
        fail("degradation '", name, "' is not known (expected bicubic or bicubic_jpeg_<quality 1..100>)");
    }
    std::string name() const {
        return kind == Kind::bicubic ? "bicubic" : "bicubic_jpeg_" + std::to_string(jpeg_quality);
    }
    // Whether an LR window depends only on nearby HR pixels (so it can be made from a crop).
    bool is_local() const { return kind == Kind::bicubic; }
};

// Encodes and decodes an 8-bit gray or RGB image as JPEG at `quality`; 8-bit RGB comes back.
inline Image jpeg_round_trip(const Image& image, int quality) {
    const std::vector<uint8_t> bytes = io::encode_jpeg(image, "<jpeg degradation>", quality);
    return io::to_rgb8(io::decode_image(bytes.data(), bytes.size(), "<jpeg degradation>"));
}

// LR image for `hr` at `scale`: HR cropped top-left to a multiple of scale, shrunk by it.
inline Image degrade(const Image& hr, int scale, const Degradation& degradation) {
    Image lr = bicubic_downscale(hr, scale);
    if (degradation.kind == Degradation::Kind::bicubic_jpeg) lr = jpeg_round_trip(io::to_rgb8(lr), degradation.jpeg_quality);
    return lr;
}

}  // namespace sr::data
