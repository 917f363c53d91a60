#pragma once
// Profiles: named model configs with the learning rate each one trains with (sr-train --profile).
// The seed's (krasserm/wdsr train.py set_profile) are built in; an application adds its own with
// register_profile, for any registered architecture (sr/models/registry.hpp). Overrides (filters,
// blocks, expansion, res-scale) apply on top, as the seed's command-line flags do.
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "sr/models/registry.hpp"

namespace sr::models {

struct Profile {
    std::string name;
    ModelConfig config;  // scale is set by the caller
    double learning_rate;
};

namespace detail {
inline std::mutex& profiles_mutex() {
    static std::mutex mutex;
    return mutex;
}
inline std::vector<Profile>& profile_list() {
    static std::vector<Profile> list = [] {
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
}  // namespace detail

// The profiles known now (a copy: registration may add to them meanwhile).
inline std::vector<Profile> profiles() {
    std::lock_guard lock(detail::profiles_mutex());
    return detail::profile_list();
}

// Adds a profile (its config's architecture must be registered); an error if the name is taken.
inline void register_profile(Profile profile) {
    model_info(profile.config.architecture);
    SR_CHECK(profile.learning_rate > 0, "register_profile: '", profile.name, "' needs a positive learning rate, got ",
             profile.learning_rate);
    std::lock_guard lock(detail::profiles_mutex());
    for (const auto& p : detail::profile_list())
        SR_CHECK(p.name != profile.name, "register_profile: a profile named '", profile.name, "' exists already");
    detail::profile_list().push_back(std::move(profile));
}

inline std::string profile_names() {
    std::string names;
    for (const auto& p : profiles()) names += (names.empty() ? "" : ", ") + p.name;
    return names;
}

inline Profile find_profile(const std::string& name) {
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
    validate_config(c);
    return c;
}

}  // namespace sr::models
