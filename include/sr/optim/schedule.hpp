#pragma once
// Learning-rate schedules, functions of the 0-based optimizer step:
//   PiecewiseConstant: values[i] from boundaries[i-1] on (the seed: 1e-3, halved from step 200k)
//   MultiStep:         base * gamma^(number of milestones <= step)   (torch MultiStepLR)
//   Cosine:            min + (base - min) * (1 + cos(pi * min(step, total) / total)) / 2
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "sr/core/error.hpp"

namespace sr::optim {

struct PiecewiseConstant {
    std::vector<int64_t> boundaries;  // increasing steps where the value changes
    std::vector<double> values;       // boundaries.size() + 1 values

    double at(int64_t step) const {
        SR_CHECK(values.size() == boundaries.size() + 1, "PiecewiseConstant: ", boundaries.size(),
                 " boundaries need ", boundaries.size() + 1, " values, got ", values.size());
        std::size_t i = 0;
        while (i < boundaries.size() && step >= boundaries[i]) ++i;
        return values[i];
    }
};

struct MultiStep {
    double base = 1e-3;
    std::vector<int64_t> milestones;
    double gamma = 0.5;

    double at(int64_t step) const {
        int passed = 0;
        for (int64_t m : milestones) passed += step >= m ? 1 : 0;
        return base * std::pow(gamma, passed);
    }
};

struct Cosine {
    double base = 1e-3;
    int64_t total_steps = 1;
    double minimum = 0;

    double at(int64_t step) const {
        SR_CHECK(total_steps > 0, "Cosine schedule: total_steps must be positive, got ", total_steps);
        const double progress = static_cast<double>(std::min(step, total_steps)) / static_cast<double>(total_steps);
        return minimum + (base - minimum) * 0.5 * (1.0 + std::cos(3.14159265358979323846 * progress));
    }
};

using Schedule = std::variant<PiecewiseConstant, MultiStep, Cosine>;

inline double learning_rate_at(const Schedule& schedule, int64_t step) {
    return std::visit([step](const auto& s) { return s.at(step); }, schedule);
}

// The seed's schedule: `base` until `decay_step`, then multiplied by `decay` every decay_step steps
// (krasserm/wdsr halves the rate every 200 epochs of 1000 steps; 300k steps see one halving).
inline Schedule step_decay(double base, int64_t decay_step, double decay, int64_t total_steps) {
    SR_CHECK(decay_step > 0, "step decay: the step size must be positive, got ", decay_step);
    MultiStep s{base, {}, decay};
    for (int64_t m = decay_step; m < std::max<int64_t>(total_steps, decay_step + 1); m += decay_step) s.milestones.push_back(m);
    return s;
}

}  // namespace sr::optim
