// residual_conv_chain (sr/ops/residual_chain.hpp): the fused inference paths (fp32: residual add in
// the last convolution's epilogue; bf16: one oneDNN chain with bf16 intermediates) against the
// naive double reference of the same composition, and against the unfused op-by-op path.
//
// Tolerances: fp32 1e-5 normalized, as every float conv test (tests/test_conv2d.cpp): float
// accumulation order is the only difference. bf16 against the unfused bf16 path 1e-5: both round
// the same operands (x, weights, each intermediate after its ReLU) to nearest even and accumulate
// in float. bf16 against the double reference on bf16-rounded operands and intermediates 2e-3: an
// intermediate that the reference computes in double may sit within a float ulp of a bf16
// rounding boundary and round the other way, moving one input of the next link by one bf16 ulp
// (2^-8 relative); everything else is again float accumulation order.
#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

#include "reference/conv2d_naive.hpp"
#include "sr/core/rng.hpp"
#include "sr/ops/residual_chain.hpp"
#include "reference/bf16_round.hpp"
#include "test_support.hpp"

namespace test_residual_chain {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

namespace {

using sr::test::round_to_bf16;

sr::Tensor<float> random_tensor(const sr::Shape& shape, uint64_t seed, double scale = 1.0) {
    sr::Rng rng(seed);
    auto t = sr::Tensor<float>::empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(rng.uniform(-scale, scale));
    return t;
}

sr::Tensor<double> to_double(const sr::Tensor<float>& t, bool bf16) {
    auto out = sr::Tensor<double>::empty(t.shape());
    for (int64_t i = 0; i < t.numel(); ++i) out.data()[i] = bf16 ? round_to_bf16(t.data()[i]) : t.data()[i];
    return out;
}

// x + res_scale * chain(x) in double; with bf16, x, the weights and every intermediate (after its
// ReLU, before the next link) rounded to bf16 as the CPU's bf16 convolutions see them.
sr::Tensor<double> reference_chain(const sr::Tensor<float>& x, const std::vector<sr::ConvLink<float, sr::Cpu>>& links,
                                   double res_scale, bool bf16) {
    auto h = to_double(x, bf16);
    for (std::size_t i = 0; i < links.size(); ++i) {
        const auto& link = links[i];
        const auto bias = link.bias.defined() ? to_double(link.bias, false) : sr::Tensor<double>();
        h = sr::reference::conv2d_forward(h, to_double(link.weight, bf16), bias);
        for (int64_t j = 0; j < h.numel(); ++j) {
            double v = link.relu_after ? std::max(0.0, h.data()[j]) : h.data()[j];
            if (bf16 && i + 1 < links.size()) v = round_to_bf16(static_cast<float>(v));
            h.data()[j] = v;
        }
    }
    auto y = sr::Tensor<double>::empty(x.shape());
    for (int64_t j = 0; j < y.numel(); ++j) y.data()[j] = double(x.data()[j]) + res_scale * h.data()[j];
    return y;
}

struct ChainCase {
    const char* name;
    std::vector<int64_t> channels;  // c, then each link's outputs (the last equals c)
    std::vector<int64_t> kernels;
    std::vector<bool> relu, bias;
    float res_scale;
};

const ChainCase k_cases[] = {
    {"edsr block", {16, 16, 16}, {3, 3}, {true, false}, {true, true}, 1.f},
    {"edsr block, res_scale 0.1", {16, 16, 16}, {3, 3}, {true, false}, {true, true}, 0.1f},
    {"wdsr-a block", {8, 32, 8}, {3, 3}, {true, false}, {true, true}, 1.f},
    {"wdsr-b block", {8, 48, 6, 8}, {1, 1, 3}, {true, false, false}, {true, true, true}, 1.f},
    {"no bias, ReLU on the last link", {8, 24, 8}, {1, 3}, {true, true}, {false, false}, 0.5f},
    {"one link", {8, 8}, {5}, {false}, {true}, 1.f},
};

std::vector<sr::ConvLink<float, sr::Cpu>> make_links(const ChainCase& cs, uint64_t seed) {
    std::vector<sr::ConvLink<float, sr::Cpu>> links;
    for (std::size_t i = 0; i + 1 < cs.channels.size(); ++i) {
        const int64_t c = cs.channels[i], o = cs.channels[i + 1], k = cs.kernels[i];
        const double bound = 1.0 / std::sqrt(double(c * k * k));
        links.push_back({random_tensor({o, k, k, c}, seed + 2 * i, bound),
                         cs.bias[i] ? random_tensor({o}, seed + 2 * i + 1, 0.5) : sr::Tensor<float>(), cs.relu[i]});
    }
    return links;
}

struct PrecisionScope {
    explicit PrecisionScope(sr::Precision p) : previous(sr::cpu_precision()) { sr::set_cpu_precision(p); }
    ~PrecisionScope() { sr::set_cpu_precision(previous); }
    sr::Precision previous;
};
struct BackendScope {
    explicit BackendScope(sr::ConvBackend b) : previous(sr::conv_backend()) { sr::set_conv_backend(b); }
    ~BackendScope() { sr::set_conv_backend(previous); }
    sr::ConvBackend previous;
};

}  // namespace

TEST_CASE("residual_conv_chain in fp32 equals the reference, fused and recorded", "[conv2d][chain]") {
    PrecisionScope precision(sr::Precision::fp32);
    for (const auto backend : {sr::ConvBackend::automatic, sr::ConvBackend::onednn, sr::ConvBackend::gemm}) {
        BackendScope scope(backend);
        for (const auto& cs : k_cases) {
            INFO(cs.name << ", backend " << int(backend));
            const auto x = random_tensor({2, 7, 9, cs.channels.front()}, 11);
            const auto links = make_links(cs, 20);
            const auto expected = reference_chain(x, links, cs.res_scale, false);
            {
                sr::NoGradGuard no_grad;
                CHECK(sr::test::normalized_max_error(sr::residual_conv_chain(x, links, cs.res_scale), expected) < 1e-5);
            }
            // Recording a gradient takes the op-by-op path: same values, and the graph reaches x.
            auto x_leaf = x.clone();
            x_leaf.set_requires_grad(true);
            const auto y = sr::residual_conv_chain(x_leaf, links, cs.res_scale);
            CHECK(y.requires_grad());
            CHECK(sr::test::normalized_max_error(y, expected) < 1e-5);
        }
    }
}

TEST_CASE("residual_conv_chain in bf16 keeps bf16 intermediates and matches the unfused bf16 path", "[conv2d][chain][bf16]") {
    if (!sr::cpu_supports_bf16()) SR_SKIP("this CPU has neither AMX-BF16 nor AVX512-BF16");
    INFO("bf16 unit: " << sr::cpu_bf16_unit());
    PrecisionScope precision(sr::Precision::bf16);
    sr::NoGradGuard no_grad;
    for (const auto& cs : k_cases) {
        INFO(cs.name);
        for (const int64_t batch : {1, 3}) {
            const auto x = random_tensor({batch, 6, 11, cs.channels.front()}, 31 + batch);
            const auto links = make_links(cs, 40);
            const auto fused = sr::residual_conv_chain(x, links, cs.res_scale);
            const auto unfused = sr::ops::detail::residual_chain_unfused(x, links, cs.res_scale);
            CHECK(sr::test::normalized_max_error(fused, unfused.cast<double>()) < 1e-5);
            CHECK(sr::test::normalized_max_error(fused, reference_chain(x, links, cs.res_scale, true)) < 2e-3);
            // bf16 really ran: the float reference is further away than float rounding explains.
            CHECK(sr::test::normalized_max_error(fused, reference_chain(x, links, cs.res_scale, false)) > 1e-4);
        }
    }
}

TEST_CASE("residual_conv_chain refuses links whose channels do not chain", "[conv2d][chain]") {
    sr::NoGradGuard no_grad;
    const auto x = random_tensor({1, 4, 4, 8}, 1);
    const std::vector<sr::ConvLink<float, sr::Cpu>> wrong_input{{random_tensor({8, 3, 3, 6}, 2), {}, false}};
    CHECK_THROWS_WITH(sr::residual_conv_chain(x, wrong_input, 1.f), Catch::Contains("expect 6"));
    const std::vector<sr::ConvLink<float, sr::Cpu>> wrong_output{{random_tensor({5, 1, 1, 8}, 3), {}, false}};
    CHECK_THROWS(sr::residual_conv_chain(x, wrong_output, 1.f));
    CHECK_THROWS_WITH(sr::residual_conv_chain(x, {}, 1.f), Catch::Contains("no convolutions"));
}

}  // namespace test_residual_chain
