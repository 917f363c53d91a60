// Example (c): a new op with its backward (box_mean.hpp), checked against a direct formula and
// its gradient against central finite differences with the library's gradcheck.
#include <cmath>
#include <cstdio>

#include <sr/engine.hpp>

#include "box_mean.hpp"

int main() {
    sr::Rng rng(7);
    auto x = sr::Tensor<double>::empty({2, 5, 6, 3});
    for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = rng.uniform(-1.0, 1.0);

    // Forward: pixel (0, 0) of image 1, channel 2, sees rows 0..1 and columns 0..1 with r = 1.
    const auto y = example::box_mean(x, 1);
    double expected = 0;
    for (int u = 0; u < 2; ++u)
        for (int v = 0; v < 2; ++v) expected += x.data()[((1 * 5 + u) * 6 + v) * 3 + 2] / 9.0;
    const double forward_error = std::abs(y.data()[((1 * 5 + 0) * 6 + 0) * 3 + 2] - expected);

    // Backward: gradcheck differentiates sum(box_mean(x) * R) both ways, for r = 0, 1, 2.
    x.set_requires_grad(true);
    bool ok = forward_error < 1e-12;
    for (int64_t r : {0, 1, 2}) {
        const auto result = sr::gradcheck([r](const auto& in) { return example::box_mean(in[0], r); }, {x});
        std::printf("box_mean r=%lld: gradcheck %s, %lld elements, max error %.3g\n", static_cast<long long>(r),
                    result.ok ? "passed" : "FAILED", static_cast<long long>(result.checked), result.max_abs_error);
        ok = ok && result.ok && result.checked == x.numel();
    }
    std::printf("forward error %.3g\n", forward_error);
    return ok ? 0 : 1;
}
