#pragma once
// What defines a model: its architecture and sizes. A ModelConfig is all a model file's metadata
// needs to rebuild the network (sr/models/model_file.hpp), and what a profile names.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "sr/core/error.hpp"

namespace sr::models {

enum class Architecture { edsr, wdsr_a, wdsr_b };

inline const char* architecture_name(Architecture a) {
    switch (a) {
        case Architecture::edsr: return "edsr";
        case Architecture::wdsr_a: return "wdsr-a";
        case Architecture::wdsr_b: return "wdsr-b";
    }
    return "?";
}

inline Architecture parse_architecture(const std::string& name) {
    if (name == "edsr") return Architecture::edsr;
    if (name == "wdsr-a") return Architecture::wdsr_a;
    if (name == "wdsr-b") return Architecture::wdsr_b;
    fail("unknown architecture '", name, "' (expected edsr, wdsr-a or wdsr-b)");
}

struct ModelConfig {
    Architecture architecture = Architecture::wdsr_b;
    int scale = 2;             // 2, 3 or 4
    int64_t num_filters = 32;  // F: channels of the residual trunk
    int64_t num_blocks = 8;    // residual blocks
    int64_t expansion = 4;     // WDSR: block width r*F (WDSR-B's profiles use 6)
    double res_scale = 1.0;    // residual scaling, applied before the add; 1 = none
    double low_rank_ratio = 0.8;  // WDSR-B: the linear 1x1 reduces to int(ratio * F) channels

    // WDSR-B's linear low-rank width: int(0.8 * F) (25 for F = 32), as the reference code floors.
    int64_t low_rank_channels() const { return static_cast<int64_t>(std::floor(low_rank_ratio * num_filters + 1e-9)); }

    void validate() const {
        SR_CHECK(scale == 2 || scale == 3 || scale == 4, "model: scale must be 2, 3 or 4, got ", scale);
        SR_CHECK(num_filters >= 1 && num_blocks >= 0, "model: num_filters must be >= 1 and num_blocks >= 0, got ",
                 num_filters, " and ", num_blocks);
        SR_CHECK(architecture == Architecture::edsr || expansion >= 1, "model: expansion must be >= 1, got ", expansion);
        SR_CHECK(architecture != Architecture::wdsr_b || low_rank_channels() >= 1,
                 "model: low-rank width int(", low_rank_ratio, " * ", num_filters, ") must be >= 1");
        SR_CHECK(res_scale > 0, "model: res_scale must be positive, got ", res_scale);
    }
};

// LR-pixel radius of the network's receptive field: how far an output pixel's value reaches
// into the input. Tiles overlapping by at least this much reproduce whole-image inference.
inline int64_t receptive_radius(const ModelConfig& c) {
    switch (c.architecture) {
        case Architecture::wdsr_a: return std::max<int64_t>(2, 1 + 2 * c.num_blocks + 1);  // head, 2 per block, tail; skip 5x5
        case Architecture::wdsr_b: return std::max<int64_t>(2, 1 + c.num_blocks + 1);      // one 3x3 per block
        case Architecture::edsr: {
            // head, 2 per block, body end, first upsampler conv (all at LR), then the convs at
            // higher resolution, each worth 1/(their resolution) LR pixels, rounded up.
            double radius = 1 + 2.0 * c.num_blocks + 1 + 1;
            radius += c.scale == 4 ? 0.5 + 0.25 : 1.0 / c.scale;
            return static_cast<int64_t>(std::ceil(radius));
        }
    }
    return 0;
}

}  // namespace sr::models
