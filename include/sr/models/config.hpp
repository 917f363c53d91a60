#pragma once
// What defines a model: the name of its architecture in the model registry
// (sr/models/registry.hpp), its scale and its sizes. A ModelConfig is all a model file's metadata
// needs to rebuild the network (sr/models/model_file.hpp), and what a profile names.
//
// The sizes most SR networks share (filters, blocks, expansion, residual scaling, WDSR-B's
// low-rank ratio) are fields; anything else an architecture needs is a named option, read from and
// written to the model file under the keys of the architecture's registered schema.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>

#include "sr/core/error.hpp"

namespace sr::models {

// The name an architecture is registered under: "edsr", "wdsr-a", "wdsr-b", or an application's
// own (any name accepted by register_model).
class Architecture {
public:
    Architecture() = default;
    Architecture(std::string name) : m_name(std::move(name)) {}  // NOLINT: a name is an architecture
    Architecture(const char* name) : m_name(name) {}             // NOLINT

    const std::string& name() const { return m_name; }
    friend bool operator==(const Architecture&, const Architecture&) = default;

    static const Architecture edsr, wdsr_a, wdsr_b;

private:
    std::string m_name = "wdsr-b";
};

inline const Architecture Architecture::edsr{"edsr"};
inline const Architecture Architecture::wdsr_a{"wdsr-a"};
inline const Architecture Architecture::wdsr_b{"wdsr-b"};

// The registered name, as a C string living as long as `a`.
inline const char* architecture_name(const Architecture& a) { return a.name().c_str(); }

inline bool is_builtin(const Architecture& a) {
    return a == Architecture::edsr || a == Architecture::wdsr_a || a == Architecture::wdsr_b;
}

struct ModelConfig {
    Architecture architecture = Architecture::wdsr_b;
    int scale = 2;             // 2, 3 or 4
    int64_t num_filters = 32;  // F: channels of the residual trunk
    int64_t num_blocks = 8;    // residual blocks
    int64_t expansion = 4;     // WDSR: block width r*F (WDSR-B's profiles use 6)
    double res_scale = 1.0;    // residual scaling, applied before the add; 1 = none
    double low_rank_ratio = 0.8;  // WDSR-B: the linear 1x1 reduces to int(ratio * F) channels
    // An architecture's own settings by schema key (values as written in the model file).
    std::map<std::string, std::string> options;

    // WDSR-B's linear low-rank width: int(0.8 * F) (25 for F = 32), as the reference code floors.
    int64_t low_rank_channels() const { return static_cast<int64_t>(std::floor(low_rank_ratio * num_filters + 1e-9)); }

    // The option `key` as an integer / a number; an error naming the key when absent or malformed.
    int64_t option_int(const std::string& key) const {
        const std::string& text = option(key);
        try {
            std::size_t used = 0;
            const long long v = std::stoll(text, &used);
            if (used == text.size()) return static_cast<int64_t>(v);
        } catch (const std::exception&) {
        }
        fail("model ", architecture.name(), ": option '", key, "' = '", text, "' is not an integer");
    }
    double option_double(const std::string& key) const {
        const std::string& text = option(key);
        try {
            std::size_t used = 0;
            const double v = std::stod(text, &used);
            if (used == text.size()) return v;
        } catch (const std::exception&) {
        }
        fail("model ", architecture.name(), ": option '", key, "' = '", text, "' is not a number");
    }
    const std::string& option(const std::string& key) const {
        const auto it = options.find(key);
        SR_CHECK(it != options.end(), "model ", architecture.name(), ": no option '", key, "' in its config");
        return it->second;
    }

    // The checks every architecture shares; each one's own come from its registry entry.
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

// LR-pixel radius of a built-in network's receptive field: how far an output pixel's value
// reaches into the input. Tiles overlapping by at least this much reproduce whole-image inference.
// Any registered model's radius: models::receptive_radius (sr/models/registry.hpp).
inline int64_t builtin_receptive_radius(const ModelConfig& c) {
    if (c.architecture == Architecture::wdsr_a)
        return std::max<int64_t>(2, 1 + 2 * c.num_blocks + 1);  // head, 2 per block, tail; skip 5x5
    if (c.architecture == Architecture::wdsr_b) return std::max<int64_t>(2, 1 + c.num_blocks + 1);  // one 3x3 per block
    SR_CHECK(c.architecture == Architecture::edsr, "builtin_receptive_radius: '", c.architecture.name(),
             "' is not a built-in architecture");
    // head, 2 per block, body end, first upsampler conv (all at LR), then the convs at higher
    // resolution, each worth 1/(their resolution) LR pixels, rounded up.
    double radius = 1 + 2.0 * c.num_blocks + 1 + 1;
    radius += c.scale == 4 ? 0.5 + 0.25 : 1.0 / c.scale;
    return static_cast<int64_t>(std::ceil(radius));
}

}  // namespace sr::models
