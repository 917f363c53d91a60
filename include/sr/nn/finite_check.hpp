#pragma once
// Finding the parameter whose gradient or value holds a NaN or an infinity, so that a diverging
// run stops naming it before a non-finite value reaches the optimizer state or a checkpoint.
//
// CPU: an exact test of every element (exponent bits all ones), one read of each tensor; the
// loop has no branch and vectorises, and threads split large tensors, so a step pays about one
// extra read of its gradients (bench/model_bench's "train" rows measure it).
// CUDA: each tensor is summed on the device and the sums are read at once (one wait); a sum is
// non-finite when an element is, and also when finite elements add up past float's range
// (|sum| > 3.4e38), which only a run that has diverged anyway reaches.
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sr/core/parallel.hpp"
#include "sr/nn/parameters.hpp"
#include "sr/ops/reduce.hpp"

namespace sr::nn {

namespace detail {

// Whether any of x[0..n) is NaN or +-infinity.
inline bool any_non_finite(const float* x, int64_t n) {
    std::atomic<bool> found{false};
    parallel_for(n, k_elementwise_grain, [&](int64_t begin, int64_t end) {
        uint32_t bad = 0;
#pragma omp simd reduction(| : bad)
        for (int64_t i = begin; i < end; ++i)
            bad |= static_cast<uint32_t>((std::bit_cast<uint32_t>(x[i]) & 0x7f800000u) == 0x7f800000u);
        if (bad) found.store(true, std::memory_order_relaxed);
    });
    return found.load();
}

// The index in `tensors` of the first one holding a non-finite element (undefined ones skipped).
template <class D>
std::optional<std::size_t> first_non_finite(const std::vector<Tensor<float, D>>& tensors) {
    if constexpr (is_cpu_v<D>) {
        for (std::size_t i = 0; i < tensors.size(); ++i) {
            if (!tensors[i].defined()) continue;
            const Tensor<float, D> t = tensors[i].contiguous();
            if (any_non_finite(t.data(), t.numel())) return i;
        }
        return std::nullopt;
    } else {
        NoGradGuard no_grad;
        std::vector<Tensor<float, D>> sums(tensors.size());
        for (std::size_t i = 0; i < tensors.size(); ++i) {
            if (!tensors[i].defined()) continue;
            sums[i] = Tensor<float, D>::empty(Shape{});
            ops::sum_into(sums[i], tensors[i].contiguous(), 1.f);
        }
        for (std::size_t i = 0; i < tensors.size(); ++i)
            if (sums[i].defined() && !std::isfinite(sums[i].item())) return i;
        return std::nullopt;
    }
}

}  // namespace detail

// Name of the first parameter (in list order) whose gradient holds a NaN or an infinity;
// parameters without a gradient are skipped.
template <class D>
std::optional<std::string> first_non_finite_gradient(const ParameterList<float, D>& parameters) {
    std::vector<Tensor<float, D>> gradients;
    gradients.reserve(parameters.size());
    for (const auto& p : parameters) gradients.push_back(p.tensor.grad());
    const auto index = detail::first_non_finite(gradients);
    if (!index) return std::nullopt;
    return parameters[*index].name;
}

// Name of the first parameter whose value holds a NaN or an infinity.
template <class D>
std::optional<std::string> first_non_finite_value(const ParameterList<float, D>& parameters) {
    std::vector<Tensor<float, D>> values;
    values.reserve(parameters.size());
    for (const auto& p : parameters) values.push_back(p.tensor);
    const auto index = detail::first_non_finite(values);
    if (!index) return std::nullopt;
    return parameters[*index].name;
}

}  // namespace sr::nn
