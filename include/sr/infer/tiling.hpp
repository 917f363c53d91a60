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
#include "sr/models/forward_cost.hpp"

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

// Memory a tile may need beyond the tensors measure_forward_cost sees (sr/models/forward_cost.hpp):
// convolution scratch (padded input bands, oneDNN and cuDNN workspaces), allocator rounding and
// fragmentation. Measured tensor peaks against the architecture formula this replaced
// (4 * 2 * (6 + 3F + widest block tensor + upsampled output) bytes per LR pixel), folded models
// on the CPU: edsr-16 x2 2828 vs 6192, wdsr-a-16 x2 792 vs 2224, wdsr-b-16 x4 1112 vs 3888,
// edsr x4 38924 vs 73776; the formula was 1.9 to 3.5 times the tensors, so 2 keeps the tile sizes
// of the large models and gives the lean WDSR ones larger tiles.
inline constexpr double k_activation_headroom = 2.0;

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

// The largest tile core whose input window (core plus overlap on each side) fits in
// `budget_bytes` with k_activation_headroom times the model's measured activations (-t 0): at
// least 32 pixels, and whole-image (0) when the image fits.
inline int64_t auto_tile_size(const models::ForwardCost& cost, int64_t image_height, int64_t image_width,
                              int64_t overlap, double budget_bytes) {
    SR_CHECK(cost.activation_bytes_per_lr_pixel > 0, "auto_tile_size: the model's activation bytes per LR pixel must "
             "be positive (measure_forward_cost), got ", cost.activation_bytes_per_lr_pixel);
    const double usable = budget_bytes / k_activation_headroom;
    if (cost.activation_bytes(image_height, image_width) <= usable) return 0;
    const double pixels = std::max(0.0, usable - cost.fixed_activation_bytes) / cost.activation_bytes_per_lr_pixel;
    const double side = std::sqrt(pixels) - 2.0 * static_cast<double>(overlap);
    return std::max<int64_t>(32, static_cast<int64_t>(side));
}

}  // namespace sr::infer
