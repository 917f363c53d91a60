#pragma once
// gradcheck: compares the gradients backward() computes with central finite differences, in double.
//
// f maps the inputs to an output tensor of any shape. To check every output at once, the scalar
// L = sum(f(inputs) * R) is differentiated, with R a fixed random tensor of the output's shape;
// for every element of every input that requires a gradient,
//   numeric = (L(x + eps) - L(x - eps)) / (2 eps)
// must match the analytic dL/dx within atol + rtol * |numeric|. Central differences have an error
// of O(eps^2 * f''') plus O(1e-16 / eps) rounding, so eps = 1e-6 in double leaves about 1e-9:
// the default tolerances are far above that and far below any real bug.
#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "sr/autograd/backward.hpp"
#include "sr/core/rng.hpp"
#include "sr/ops/elementwise.hpp"
#include "sr/ops/reduce.hpp"

namespace sr {

struct GradcheckOptions {
    double eps = 1e-6;
    double atol = 1e-6;
    double rtol = 1e-5;
    uint64_t seed = 1234;
    int max_reported = 5;  // mismatches listed in the report
};

struct GradcheckResult {
    bool ok = true;
    double max_abs_error = 0;
    int64_t checked = 0;
    std::string report;  // the first mismatches, "input i element j: analytic a, numeric n"
};

using GradcheckFunction = std::function<Tensor<double>(const std::vector<Tensor<double>>&)>;

inline GradcheckResult gradcheck(const GradcheckFunction& f, const std::vector<Tensor<double>>& inputs,
                                 const GradcheckOptions& options = {}) {
    GradcheckResult result;
    std::ostringstream report;

    // Analytic gradients of L = sum(f(x) * R).
    for (const auto& x : inputs) x.zero_grad();
    Tensor<double> output = f(inputs);
    Rng rng(options.seed);
    auto projection = Tensor<double>::empty(output.shape());
    for (int64_t i = 0; i < projection.numel(); ++i) projection.data()[i] = rng.uniform(-1.0, 1.0);
    sum(multiply(output, projection)).backward();

    auto loss_at = [&]() {
        NoGradGuard no_grad;
        Tensor<double> out = f(inputs).contiguous();
        double total = 0;
        for (int64_t i = 0; i < out.numel(); ++i) total += out.data()[i] * projection.data()[i];
        return total;
    };

    int reported = 0;
    for (std::size_t which = 0; which < inputs.size(); ++which) {
        const auto& x = inputs[which];
        if (!x.requires_grad()) continue;
        SR_CHECK(x.is_contiguous(), "gradcheck: input ", which, " must be contiguous");
        Tensor<double> analytic = x.grad();
        for (int64_t i = 0; i < x.numel(); ++i) {
            double& value = x.data()[i];
            const double saved = value;
            value = saved + options.eps;
            const double plus = loss_at();
            value = saved - options.eps;
            const double minus = loss_at();
            value = saved;
            const double numeric = (plus - minus) / (2 * options.eps);
            const double a = analytic.defined() ? analytic.data()[i] : 0.0;
            const double error = std::abs(a - numeric);
            result.max_abs_error = std::max(result.max_abs_error, error);
            ++result.checked;
            if (error > options.atol + options.rtol * std::abs(numeric)) {
                result.ok = false;
                if (reported++ < options.max_reported)
                    report << "input " << which << " element " << i << ": analytic " << a << ", numeric " << numeric
                           << "\n";
            }
        }
    }
    result.report = report.str();
    return result;
}

}  // namespace sr
