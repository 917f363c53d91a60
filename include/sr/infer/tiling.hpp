#pragma once
// Seam-exact tiling for images of any size.
//
// The LR image is cut into cores of at most tile x tile pixels. Each core is run through the
// network with a margin of `overlap` pixels on every side where the image continues, and only the
// core's part of the output is kept. A network with receptive radius R (sr/models/model_concept.hpp)
// computes each output pixel from the inputs within R of it; the zero padding the network sees at
// a tile's cut edge only disturbs outputs within R of that edge, which lie in the discarded
// margin. So with overlap >= R every kept pixel is computed from exactly the inputs, and with the
// same arithmetic, as in a whole-image pass: tiled output equals whole-image output (tests check
// it), where tools with a fixed 10-pixel pad only approximate it.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "sr/core/error.hpp"
#include "sr/models/config.hpp"

namespace sr::infer {

// One tile in LR pixels: the core [top, top + height) x [left, left + width) whose output is
// kept, and the input window around it that the network runs on.
struct Tile {
    int64_t top = 0, left = 0, height = 0, width = 0;               // core
    int64_t in_top = 0, in_left = 0, in_height = 0, in_width = 0;  // core plus margins, clipped to the image
};

// Tiles covering an image_height x image_width LR image with cores of at most tile x tile
// (tile <= 0: one tile) and margins of `overlap`. Cores are evened out (a 1000-pixel side with
// tile 512 gives two 500-pixel cores, not 512 + 488).
inline std::vector<Tile> plan_tiles(int64_t image_height, int64_t image_width, int64_t tile, int64_t overlap) {
    SR_CHECK(image_height > 0 && image_width > 0, "tiling: empty image ", image_height, "x", image_width);
    SR_CHECK(overlap >= 0, "tiling: overlap must be >= 0, got ", overlap);
    auto cuts = [&](int64_t length) {
        const int64_t count = tile <= 0 ? 1 : (length + tile - 1) / tile;
        std::vector<int64_t> edges;
        for (int64_t i = 0; i <= count; ++i) edges.push_back(length * i / count);
        return edges;
    };
    const auto rows = cuts(image_height), cols = cuts(image_width);
    std::vector<Tile> tiles;
    for (std::size_t r = 0; r + 1 < rows.size(); ++r)
        for (std::size_t c = 0; c + 1 < cols.size(); ++c) {
            Tile t;
            t.top = rows[r], t.height = rows[r + 1] - rows[r];
            t.left = cols[c], t.width = cols[c + 1] - cols[c];
            t.in_top = std::max<int64_t>(0, t.top - overlap);
            t.in_left = std::max<int64_t>(0, t.left - overlap);
            t.in_height = std::min(image_height, t.top + t.height + overlap) - t.in_top;
            t.in_width = std::min(image_width, t.left + t.width + overlap) - t.in_left;
            tiles.push_back(t);
        }
    return tiles;
}

// Bytes of activations per LR pixel during a forward pass without gradients, an upper estimate
// from the widest tensors alive at once (input, trunk, the widest block tensor, upsampled output).
// An architecture other than the built-ins is estimated as the wider of EDSR and WDSR of its sizes.
inline double activation_bytes_per_lr_pixel(const models::ModelConfig& c) {
    const double f = static_cast<double>(c.num_filters), s2 = static_cast<double>(c.scale * c.scale);
    const bool edsr = c.architecture == models::Architecture::edsr, builtin = models::is_builtin(c.architecture);
    const double wide = edsr ? f : static_cast<double>(c.expansion) * f;
    const double upsampled = edsr || !builtin ? 2 * s2 * f : 4 * 3 * s2;
    // x2 for the convolution's padded input band and the weight-norm-free copy of outputs.
    return 4.0 * 2.0 * (6 + 3 * f + wide + upsampled);
}

// Memory the OS would give us now (MemAvailable), in bytes; 0 when unknown.
inline double available_memory_bytes() {
    std::ifstream meminfo("/proc/meminfo");
    std::string key;
    double kib = 0;
    std::string unit;
    while (meminfo >> key >> kib >> unit)
        if (key == "MemAvailable:") return kib * 1024.0;
    return 0;
}

// The largest tile core whose padded input fits in `budget_bytes` of activations (-t 0): at least
// 32 pixels, and whole-image (0) when the image fits.
inline int64_t auto_tile_size(const models::ModelConfig& config, int64_t image_height, int64_t image_width,
                              int64_t overlap, double budget_bytes) {
    const double per_pixel = activation_bytes_per_lr_pixel(config);
    if (per_pixel * static_cast<double>(image_height) * static_cast<double>(image_width) <= budget_bytes) return 0;
    const double side = std::sqrt(budget_bytes / per_pixel) - 2.0 * static_cast<double>(overlap);
    return std::max<int64_t>(32, static_cast<int64_t>(side));
}

}  // namespace sr::infer
