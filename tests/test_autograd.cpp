// Autograd: every op's backward against central finite differences in double (gradcheck), a
// composite residual block with a skip connection, accumulation when a tensor is used twice,
// NoGradGuard, zero_grad and the graph's release after backward.
#include <catch2/catch.hpp>

#include "sr/autograd/backward.hpp"
#include "sr/autograd/gradcheck.hpp"
#include "sr/core/rng.hpp"
#include "sr/nn/conv2d.hpp"
#include "sr/ops/conv2d.hpp"
#include "sr/ops/loss.hpp"
#include "sr/ops/normalize.hpp"
#include "sr/ops/pixel_shuffle.hpp"
#include "sr/ops/weight_norm.hpp"
#include "test_support.hpp"

namespace test_autograd {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

using sr::Shape;
using Tensor = sr::Tensor<double>;
using Inputs = std::vector<Tensor>;

namespace {
Tensor leaf(const Shape& shape, uint64_t seed, double low = -1, double high = 1) {
    sr::Rng rng(seed);
    auto t = Tensor::empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = rng.uniform(low, high);
    t.set_requires_grad(true);
    return t;
}

void require_gradcheck(const sr::GradcheckFunction& f, const Inputs& inputs) {
    auto result = sr::gradcheck(f, inputs);
    INFO(result.report);
    CHECK(result.checked > 0);
    CHECK(result.ok);
}
}  // namespace

TEST_CASE("gradcheck: elementwise ops", "[autograd]") {
    auto a = leaf({2, 3, 4, 2}, 1), b = leaf({2, 3, 4, 2}, 2);
    require_gradcheck([](const Inputs& in) { return in[0] + in[1]; }, {a, b});
    require_gradcheck([](const Inputs& in) { return in[0] - in[1]; }, {a, b});
    require_gradcheck([](const Inputs& in) { return sr::add_scaled(in[0], in[1], 0.3); }, {a, b});
    require_gradcheck([](const Inputs& in) { return 2.5 * in[0]; }, {a});
    require_gradcheck([](const Inputs& in) { return sr::multiply(in[0], in[1]); }, {a, b});
    require_gradcheck([](const Inputs& in) { return sr::relu(in[0]); }, {a});
}

TEST_CASE("gradcheck: reductions and losses", "[autograd]") {
    auto a = leaf({2, 4, 3, 3}, 3), b = leaf({2, 4, 3, 3}, 4);
    require_gradcheck([](const Inputs& in) { return sr::sum(in[0]); }, {a});
    require_gradcheck([](const Inputs& in) { return sr::mean(in[0]); }, {a});
    require_gradcheck([](const Inputs& in) { return sr::l1_loss(in[0], in[1]); }, {a, b});
    require_gradcheck([](const Inputs& in) { return sr::mse_loss(in[0], in[1]); }, {a, b});
}

TEST_CASE("gradcheck: pixel shuffle, normalisation, weight norm", "[autograd]") {
    require_gradcheck([](const Inputs& in) { return sr::pixel_shuffle(in[0], 2); }, {leaf({2, 2, 3, 12}, 5)});
    require_gradcheck([](const Inputs& in) { return sr::pixel_shuffle(in[0], 3); }, {leaf({1, 2, 2, 9}, 6)});
    require_gradcheck([](const Inputs& in) { return sr::pixel_unshuffle(in[0], 2); }, {leaf({1, 4, 6, 3}, 7)});
    require_gradcheck([](const Inputs& in) { return sr::normalize(in[0]); }, {leaf({1, 3, 2, 3}, 8, 0, 255)});
    require_gradcheck([](const Inputs& in) { return sr::denormalize(in[0]); }, {leaf({1, 3, 2, 3}, 9)});
    require_gradcheck([](const Inputs& in) { return sr::weight_norm(in[0], in[1]); },
                      {leaf({4, 3, 3, 2}, 10), leaf({4}, 11, 0.5, 1.5)});
}

TEST_CASE("gradcheck: conv2d with and without bias, kernels 1, 3, 5", "[autograd]") {
    for (int64_t k : {1, 3, 5}) {
        INFO("k = " << k);
        auto x = leaf({2, 5, 4, 3}, 12), w = leaf({4, k, k, 3}, 13), b = leaf({4}, 14);
        require_gradcheck([](const Inputs& in) { return sr::conv2d(in[0], in[1], in[2]); }, {x, w, b});
        require_gradcheck([](const Inputs& in) { return sr::conv2d(in[0], in[1]); }, {x, w});
        require_gradcheck([](const Inputs& in) { return sr::conv2d(in[0], in[1], in[2], true); }, {x, w, b});
    }
}

TEST_CASE("gradcheck: a weight-normalised residual block with a skip connection", "[autograd]") {
    // y = x + 0.7 * conv(relu(conv(x, wn(v1, g1)) + b1), wn(v2, g2)) + b2; x feeds both branches.
    auto x = leaf({2, 4, 5, 3}, 20);
    auto v1 = leaf({6, 3, 3, 3}, 21), g1 = leaf({6}, 22, 0.5, 1.5), b1 = leaf({6}, 23);
    auto v2 = leaf({3, 1, 1, 6}, 24), g2 = leaf({3}, 25, 0.5, 1.5), b2 = leaf({3}, 26);
    require_gradcheck(
        [](const Inputs& in) {
            auto hidden = sr::conv2d(in[0], sr::weight_norm(in[1], in[2]), in[3], true);
            return sr::add_scaled(in[0], sr::conv2d(hidden, sr::weight_norm(in[4], in[5]), in[6]), 0.7);
        },
        {x, v1, g1, b1, v2, g2, b2});
}

TEST_CASE("a tensor used twice receives the sum of both gradients", "[autograd]") {
    auto x = leaf({3}, 30);
    auto y = sr::sum(sr::multiply(x, x) + 3.0 * x);  // dy/dx = 2x + 3
    y.backward();
    for (int64_t i = 0; i < 3; ++i) CHECK(x.grad().data()[i] == Approx(2 * x.data()[i] + 3));
    // A second backward over a new graph accumulates into the leaf's gradient.
    sr::sum(x).backward();
    for (int64_t i = 0; i < 3; ++i) CHECK(x.grad().data()[i] == Approx(2 * x.data()[i] + 4));
    x.zero_grad();
    CHECK_FALSE(x.grad().defined());
}

TEST_CASE("NoGradGuard records nothing and backward checks its input", "[autograd]") {
    auto x = leaf({2, 2}, 40);
    {
        sr::NoGradGuard guard;
        auto y = sr::sum(x + x);
        CHECK_FALSE(y.requires_grad());
        CHECK_FALSE(y.grad_fn());
        CHECK_THROWS_WITH(y.backward(), Catch::Contains("does not depend"));
    }
    auto y = x + x;
    CHECK(y.grad_fn());
    CHECK_THROWS_WITH(y.backward(), Catch::Contains("must be a scalar"));
}

TEST_CASE("backward releases the graph and intermediate gradients", "[autograd]") {
    auto x = leaf({4}, 50);
    auto hidden = 2.0 * x;
    auto loss = sr::sum(hidden);
    std::weak_ptr<sr::autograd::Node<double, sr::Cpu>> node = hidden.grad_fn();
    loss.backward();
    CHECK_FALSE(hidden.grad().defined());
    CHECK(node.expired());
    CHECK(x.grad().defined());
}

TEST_CASE("nn::Conv2d with weight norm trains g and v through autograd", "[autograd]") {
    sr::Rng rng(60);
    sr::nn::Conv2d<double> conv({3, 4, 3, true}, rng);
    auto params = sr::nn::parameters_of(conv, "head.0");
    REQUIRE(params.size() == 3);
    CHECK(params[0].name == "head.0.weight_g");
    CHECK(params[1].name == "head.0.weight_v");
    CHECK(params[2].name == "head.0.bias");
    auto x = leaf({1, 4, 4, 3}, 61);
    require_gradcheck([&](const Inputs& in) { return conv(in[0]); }, {x, params[0].tensor, params[1].tensor, params[2].tensor});
}

}  // namespace test_autograd
