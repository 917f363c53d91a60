// Forward values of the non-convolution ops against direct formulas and naive loops: elementwise,
// reductions, losses, pixel shuffle (TensorFlow depth_to_space order), normalisation, weight norm.
#include <catch2/catch.hpp>

#include <cmath>

#include "sr/core/rng.hpp"
#include "sr/ops/elementwise.hpp"
#include "sr/ops/loss.hpp"
#include "sr/ops/normalize.hpp"
#include "sr/ops/pixel_shuffle.hpp"
#include "sr/ops/reduce.hpp"
#include "sr/ops/weight_norm.hpp"
#include "test_support.hpp"

namespace test_ops {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

using sr::Shape;
using sr::Tensor;

namespace {
Tensor<double> random_tensor(const Shape& shape, uint64_t seed, double low = -1, double high = 1) {
    sr::Rng rng(seed);
    auto t = Tensor<double>::empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = rng.uniform(low, high);
    return t;
}
}  // namespace

TEST_CASE("elementwise ops compute their formulas on large tensors (threaded path)", "[ops]") {
    const Shape shape{3, 70, 90, 5};  // above the parallel grain
    auto a = random_tensor(shape, 1), b = random_tensor(shape, 2);
    auto sum = a + b, diff = a - b, scaled = sr::add_scaled(a, b, 0.25), prod = sr::multiply(a, b), r = sr::relu(a);
    auto s = 3.0 * a;
    for (int64_t i = 0; i < a.numel(); i += 97) {
        const double x = a.data()[i], y = b.data()[i];
        CHECK(sum.data()[i] == x + y);
        CHECK(diff.data()[i] == x - y);
        CHECK(scaled.data()[i] == x + 0.25 * y);
        CHECK(prod.data()[i] == x * y);
        CHECK(r.data()[i] == (x > 0 ? x : 0.0));
        CHECK(s.data()[i] == 3.0 * x);
    }
    CHECK_THROWS_WITH(a + random_tensor({3, 70, 90, 4}, 3), Catch::Contains("shapes differ"));
}

TEST_CASE("sum, mean and the losses match direct sums", "[ops]") {
    auto a = random_tensor({2, 33, 41, 3}, 4, 0, 255), b = random_tensor({2, 33, 41, 3}, 5, 0, 255);
    double total = 0, abs_diff = 0, sq_diff = 0;
    for (int64_t i = 0; i < a.numel(); ++i) {
        total += a.data()[i];
        abs_diff += std::abs(a.data()[i] - b.data()[i]);
        sq_diff += (a.data()[i] - b.data()[i]) * (a.data()[i] - b.data()[i]);
    }
    const double n = static_cast<double>(a.numel());
    CHECK(sr::sum(a).item() == Approx(total).epsilon(1e-12));
    CHECK(sr::mean(a).item() == Approx(total / n).epsilon(1e-12));
    CHECK(sr::l1_loss(a, b).item() == Approx(abs_diff / n).epsilon(1e-12));
    CHECK(sr::mse_loss(a, b).item() == Approx(sq_diff / n).epsilon(1e-12));
    // Float sums accumulate in double: a million ones sum exactly.
    CHECK(sr::sum(Tensor<float>::full({1000, 1000}, 1.f)).item() == 1e6f);
}

TEST_CASE("pixel shuffle follows TensorFlow depth_to_space and unshuffle inverts it", "[ops]") {
    for (int s : {2, 3, 4}) {
        for (int64_t c : {1, 3, 5}) {
            auto x = random_tensor({2, 3, 4, c * s * s}, 10 + s);
            auto y = sr::pixel_shuffle(x, s);
            REQUIRE(y.shape() == Shape({2, 3 * s, 4 * s, c}));
            // Naive definition: y[n, h*s+i, w*s+j, ch] = x[n, h, w, (i*s + j)*C + ch].
            for (int64_t n = 0; n < 2; ++n)
                for (int64_t h = 0; h < 3; ++h)
                    for (int64_t w = 0; w < 4; ++w)
                        for (int64_t i = 0; i < s; ++i)
                            for (int64_t j = 0; j < s; ++j)
                                for (int64_t ch = 0; ch < c; ++ch)
                                    REQUIRE(y.at({n, h * s + i, w * s + j, ch}) == x.at({n, h, w, (i * s + j) * c + ch}));
            auto back = sr::pixel_unshuffle(y, s);
            CHECK(back.to_vector() == x.to_vector());
        }
    }
    CHECK_THROWS_WITH(sr::pixel_shuffle(random_tensor({1, 2, 2, 6}, 1), 2), Catch::Contains("divisible by scale^2 = 4"));
}

TEST_CASE("normalize and denormalize use the DIV2K mean and 127.5", "[ops]") {
    auto x = random_tensor({2, 5, 7, 3}, 20, 0, 255);
    auto y = sr::normalize(x);
    for (int64_t c = 0; c < 3; ++c)
        CHECK(y.at({1, 2, 3, c}) == Approx((x.at({1, 2, 3, c}) - 255.0 * sr::k_div2k_rgb_mean[c]) / 127.5).epsilon(1e-14));
    auto back = sr::denormalize(y);
    CHECK(sr::test::normalized_max_error(back, x) < 1e-14);
    CHECK_THROWS_WITH(sr::normalize(random_tensor({1, 2, 2, 4}, 1)), Catch::Contains("RGB"));
}

TEST_CASE("weight norm forward matches g * v / ||v|| per output channel", "[ops]") {
    auto v = random_tensor({6, 3, 3, 5}, 30), g = random_tensor({6}, 31, 0.5, 2);
    auto w = sr::weight_norm(v, g);
    for (int64_t o = 0; o < 6; ++o) {
        double norm = 0;
        for (int64_t k = 0; k < 45; ++k) norm += v.data()[o * 45 + k] * v.data()[o * 45 + k];
        norm = std::sqrt(norm);
        for (int64_t k = 0; k < 45; k += 7)
            CHECK(w.data()[o * 45 + k] == Approx(g.data()[o] * v.data()[o * 45 + k] / norm).epsilon(1e-14));
    }
    // g = ||v|| reproduces v.
    auto same = sr::weight_norm(v, sr::row_norms(v));
    CHECK(sr::test::normalized_max_error(same, v) < 1e-14);
    auto zero_row = Tensor<double>::zeros({2, 4});
    CHECK_THROWS_WITH(sr::weight_norm(zero_row, Tensor<double>::full({2}, 1.0)), Catch::Contains("all zeros"));
}

}  // namespace test_ops
