// Adam against values computed by hand from the update formula, and the learning-rate schedules.
#include <catch2/catch.hpp>

#include <cmath>

#include "sr/optim/adam.hpp"
#include "sr/optim/schedule.hpp"
#include "test_support.hpp"

namespace test_optim {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

TEST_CASE("Adam's first two steps match hand-computed values", "[optim]") {
    // One parameter p = [1, -2], lr 0.1, beta1 0.9, beta2 0.999, eps 1e-8.
    auto p = sr::Tensor<double>::from_vector({2}, {1.0, -2.0});
    p.set_requires_grad(true);
    sr::optim::Adam<double, sr::Cpu> adam({{"p", p}}, {0.1, 0.9, 0.999, 1e-8});

    // Step 1 with g = [0.5, -4]: m = 0.1 g, v = 0.001 g^2, m_hat = g, v_hat = g^2,
    // so p -= 0.1 * g / (|g| + 1e-8) = 0.1 * sign(g) (to 1e-8 relative).
    p.accumulate_grad(sr::Tensor<double>::from_vector({2}, {0.5, -4.0}));
    adam.step();
    CHECK(p.data()[0] == Approx(1.0 - 0.1 * 0.5 / (0.5 + 1e-8)).epsilon(1e-15));
    CHECK(p.data()[1] == Approx(-2.0 + 0.1 * 4.0 / (4.0 + 1e-8)).epsilon(1e-15));

    // Step 2 with g = [1, 0]:
    //   m = 0.9 * 0.05 + 0.1 * 1 = 0.145,  v = 0.999 * 0.00025 + 0.001 * 1 = 0.00124975
    //   bc1 = 1 - 0.81 = 0.19, bc2 = 1 - 0.998001 = 0.001999
    //   p0 -= 0.1 / 0.19 * 0.145 / (sqrt(0.00124975) / sqrt(0.001999) + 1e-8)
    //   m1 = 0.9 * -0.4 = -0.36, v1 = 0.999 * 0.016 = 0.015984
    //   p1 -= 0.1 / 0.19 * -0.36 / (sqrt(0.015984) / sqrt(0.001999) + 1e-8)
    const double p0 = p.data()[0], p1 = p.data()[1];
    adam.zero_grad();
    p.accumulate_grad(sr::Tensor<double>::from_vector({2}, {1.0, 0.0}));
    adam.step();
    const double expected0 = p0 - 0.1 / 0.19 * 0.145 / (std::sqrt(0.00124975) / std::sqrt(0.001999) + 1e-8);
    const double expected1 = p1 - 0.1 / 0.19 * -0.36 / (std::sqrt(0.015984) / std::sqrt(0.001999) + 1e-8);
    CHECK(p.data()[0] == Approx(expected0).epsilon(1e-13));
    CHECK(p.data()[1] == Approx(expected1).epsilon(1e-13));
    CHECK(adam.step_count() == 2);

    // The state round-trips into a fresh optimizer, which then takes the same step.
    auto q = p.clone();
    q.set_requires_grad(true);
    sr::optim::Adam<double, sr::Cpu> restored({{"p", q}}, {0.1, 0.9, 0.999, 1e-8});
    restored.load_state(adam.state(), adam.step_count());
    for (auto* opt : {&adam, &restored}) {
        const auto& param = opt->parameters()[0].tensor;
        param.zero_grad();
        param.accumulate_grad(sr::Tensor<double>::from_vector({2}, {-0.3, 0.7}));
        opt->step();
    }
    CHECK(q.to_vector() == p.to_vector());
}

TEST_CASE("Adam skips parameters without a gradient", "[optim]") {
    auto a = sr::Tensor<float>::full({3}, 1.f), b = sr::Tensor<float>::full({3}, 1.f);
    a.set_requires_grad(true);
    b.set_requires_grad(true);
    sr::optim::Adam<float, sr::Cpu> adam({{"a", a}, {"b", b}}, {});
    a.accumulate_grad(sr::Tensor<float>::full({3}, 1.f));
    adam.step();
    CHECK(a.data()[0] < 1.f);
    CHECK(b.data()[0] == 1.f);
    CHECK(adam.state()[2].tensor.data()[0] == 0.f);  // b's first moment untouched
}

TEST_CASE("learning-rate schedules", "[optim]") {
    sr::optim::PiecewiseConstant seed{{200000}, {1e-3, 5e-4}};
    CHECK(seed.at(0) == 1e-3);
    CHECK(seed.at(199999) == 1e-3);
    CHECK(seed.at(200000) == 5e-4);
    CHECK(seed.at(299999) == 5e-4);

    sr::optim::MultiStep multi{1e-4, {10, 20}, 0.5};
    CHECK(multi.at(9) == 1e-4);
    CHECK(multi.at(10) == 5e-5);
    CHECK(multi.at(25) == 2.5e-5);

    sr::optim::Cosine cosine{1.0, 100, 0.1};
    CHECK(cosine.at(0) == Approx(1.0));
    CHECK(cosine.at(50) == Approx(0.55));
    CHECK(cosine.at(100) == Approx(0.1));
    CHECK(cosine.at(150) == Approx(0.1));

    // The seed's CLI: halve every 200 epochs of 1000 steps over 300 epochs.
    auto decay = sr::optim::step_decay(1e-3, 200000, 0.5, 300000);
    CHECK(sr::optim::learning_rate_at(decay, 199999) == 1e-3);
    CHECK(sr::optim::learning_rate_at(decay, 250000) == 5e-4);
    CHECK_THROWS(sr::optim::PiecewiseConstant{{1, 2}, {1.0}}.at(0));
}

}  // namespace test_optim
