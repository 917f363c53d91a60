// Layers: PyTorch-matching initialisation statistics, weight-norm start point, state-dict names,
// folding weight norm for inference.
#include <catch2/catch.hpp>

#include <cmath>

#include "sr/autograd/backward.hpp"
#include "sr/nn/conv2d.hpp"
#include "sr/nn/layers.hpp"
#include "test_support.hpp"

namespace test_nn {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

TEST_CASE("Conv2d initialises weights and biases in U(-1/sqrt(fan_in), 1/sqrt(fan_in))", "[nn]") {
    sr::Rng rng(1);
    sr::nn::Conv2d<float> conv({64, 64, 3, false}, rng);
    const double bound = 1.0 / std::sqrt(64.0 * 9.0);
    auto w = conv.weight();
    double min = 1, max = -1, sum = 0, sum_sq = 0;
    for (int64_t i = 0; i < w.numel(); ++i) {
        const double v = w.data()[i];
        min = std::min(min, v), max = std::max(max, v), sum += v, sum_sq += v * v;
    }
    const double n = static_cast<double>(w.numel());
    CHECK(min >= -bound);
    CHECK(max <= bound);
    CHECK(max > 0.99 * bound);   // 36864 draws reach the edges
    CHECK(std::abs(sum / n) < 0.02 * bound);
    CHECK(sum_sq / n == Approx(bound * bound / 3).epsilon(0.02));  // variance of U(-b, b)
    for (int64_t i = 0; i < 64; ++i) CHECK(std::abs(conv.bias().data()[i]) <= bound);
}

TEST_CASE("weight-normalised Conv2d starts at g = ||v||, so its weight equals v", "[nn]") {
    sr::Rng rng(2);
    sr::nn::Conv2d<double> conv({5, 7, 3, true}, rng);
    auto params = sr::nn::parameters_of(conv, "layer");
    const auto& g = sr::nn::find_parameter(params, "layer.weight_g");
    const auto& v = sr::nn::find_parameter(params, "layer.weight_v");
    CHECK(g.shape() == sr::Shape({7}));
    CHECK(v.shape() == sr::Shape({7, 3, 3, 5}));
    CHECK(sr::test::normalized_max_error(conv.weight(), v) < 1e-14);
    CHECK(sr::nn::count_elements(params) == 7 + 7 * 45 + 7);
    CHECK_THROWS_WITH(sr::nn::find_parameter(params, "layer.weight"), Catch::Contains("layer.weight"));
}

TEST_CASE("folding weight norm gives the same outputs without g and v", "[nn]") {
    sr::Rng rng(3);
    sr::nn::Conv2d<double> conv({3, 4, 3, true}, rng);
    auto params = sr::nn::parameters_of(conv);
    sr::nn::find_parameter(params, "weight_g").data()[1] *= 1.7;  // move g away from ||v||
    auto x = sr::Tensor<double>::full({1, 5, 5, 3}, 0.3);
    x.at({0, 2, 2, 1}) = -1.0;
    auto folded = conv.fold_weight_norm();
    CHECK_FALSE(folded.has_weight_norm());
    CHECK(sr::test::normalized_max_error(folded(x), conv(x)) < 1e-14);
    auto names = sr::nn::parameters_of(folded);
    CHECK(names[0].name == "weight");
}

TEST_CASE("parameter-free layers compose", "[nn]") {
    auto x = sr::Tensor<float>::full({1, 2, 2, 12}, 100.f);
    sr::nn::PixelShuffle shuffle{2};
    sr::nn::Normalize normalize;
    sr::nn::Denormalize denormalize;
    auto y = denormalize(normalize(shuffle(x)));
    CHECK(y.shape() == sr::Shape({1, 4, 4, 3}));
    CHECK(y.at({0, 3, 3, 2}) == Approx(100.f));
    CHECK(sr::nn::ReLU{}(sr::Tensor<float>::full({2}, -1.f)).data()[0] == 0.f);
}

}  // namespace test_nn
