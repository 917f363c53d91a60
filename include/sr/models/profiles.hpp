#pragma once
// The seed's profiles (krasserm/wdsr train.py set_profile), by name, with the learning rate each
// one trains with. Overrides (filters, blocks, expansion, res-scale) apply on top, as the seed's
// command-line flags do.
#include <optional>
#include <string>
#include <vector>

#include "sr/models/config.hpp"

namespace sr::models {

struct Profile {
    std::string name;
    ModelConfig config;  // scale is set by the caller
    double learning_rate;
};

inline const std::vector<Profile>& profiles() {
    static const std::vector<Profile> list = [] {
        std::vector<Profile> p;
        auto wdsr = [&](const char* name, Architecture a, int64_t blocks, int64_t expansion) {
            ModelConfig c;
            c.architecture = a, c.num_filters = 32, c.num_blocks = blocks, c.expansion = expansion;
            p.push_back({name, c, 1e-3});
        };
        // wdsr-a profiles keep the CLI's expansion default (4); wdsr-b profiles set 6.
        wdsr("wdsr-a-8", Architecture::wdsr_a, 8, 4);
        wdsr("wdsr-a-16", Architecture::wdsr_a, 16, 4);
        wdsr("wdsr-a-32", Architecture::wdsr_a, 32, 4);
        wdsr("wdsr-b-8", Architecture::wdsr_b, 8, 6);
        wdsr("wdsr-b-16", Architecture::wdsr_b, 16, 6);
        wdsr("wdsr-b-32", Architecture::wdsr_b, 32, 6);
        auto edsr = [&](const char* name, int64_t filters, int64_t blocks, double res_scale) {
            ModelConfig c;
            c.architecture = Architecture::edsr, c.num_filters = filters, c.num_blocks = blocks, c.res_scale = res_scale;
            p.push_back({name, c, 1e-4});
        };
        edsr("edsr-8", 64, 8, 1.0);
        edsr("edsr-16", 64, 16, 1.0);
        edsr("edsr", 256, 32, 0.1);
        return p;
    }();
    return list;
}

inline std::string profile_names() {
    std::string names;
    for (const auto& p : profiles()) names += (names.empty() ? "" : ", ") + p.name;
    return names;
}

inline const Profile& find_profile(const std::string& name) {
    for (const auto& p : profiles())
        if (p.name == name) return p;
    fail("unknown profile '", name, "' (known: ", profile_names(), ")");
}

// Optional changes on top of a profile, as the seed's --num-filters, --num-res-blocks,
// --res-expansion and --res-scaling flags.
struct ProfileOverrides {
    std::optional<int64_t> num_filters, num_blocks, expansion;
    std::optional<double> res_scale;
};

inline ModelConfig make_config(const std::string& profile, int scale, const ProfileOverrides& overrides = {}) {
    ModelConfig c = find_profile(profile).config;
    c.scale = scale;
    if (overrides.num_filters) c.num_filters = *overrides.num_filters;
    if (overrides.num_blocks) c.num_blocks = *overrides.num_blocks;
    if (overrides.expansion) c.expansion = *overrides.expansion;
    if (overrides.res_scale) c.res_scale = *overrides.res_scale;
    c.validate();
    return c;
}

}  // namespace sr::models
