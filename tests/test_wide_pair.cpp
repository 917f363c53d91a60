// wide_pair (sr/ops/wide_pair.hpp): WDSR-B's 1x1 expand, ReLU, 1x1 reduce fused on the CPU,
// forward and backward, against the naive double-precision convolutions composed by hand, in
// every direct-kernel variant this CPU runs; and a WDSR-B model with the fusion on against the
// same model with it off.
//
// Tolerance: each float result sums at most Wd = 192 products of values near 1 (twice: expand,
// then reduce) and, for the weight gradients, a few hundred pixels: rounding stays under 1e-5 of
// the largest magnitude; a wrong channel, pixel, bias or ReLU mask is an O(1) error.
#include <catch2/catch.hpp>

#include <string>

#include "reference/conv2d_naive.hpp"
#include "sr/autograd/backward.hpp"
#include "sr/core/rng.hpp"
#include "sr/models/profiles.hpp"
#include "sr/models/wdsr.hpp"
#include "sr/ops/reduce.hpp"
#include "sr/ops/wide_pair.hpp"
#include "test_support.hpp"

namespace test_wide_pair {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

namespace {

using sr::Tensor;
using Link = sr::ConvLink<float, sr::Cpu>;

// Uniform in [offset - scale, offset + scale).
Tensor<float> uniform(const sr::Shape& shape, uint64_t seed, double scale = 1.0, double offset = 0.0) {
    sr::Rng rng(seed);
    auto t = Tensor<float>::empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(offset + rng.uniform(-scale, scale));
    return t;
}

struct FusionScope {
    explicit FusionScope(bool fused) : previous(sr::fused_cpu_blocks()) { sr::set_fused_cpu_blocks(fused); }
    ~FusionScope() { sr::set_fused_cpu_blocks(previous); }
    bool previous;
};

// Runs check() once per direct-kernel variant the CPU supports; false when there is none.
template <class Check>
bool for_each_variant(Check&& check) {
    using sr::ops::direct::Isa;
    if (!sr::ops::direct::available()) return false;
    const Isa previous = sr::ops::direct::isa();
    for (Isa isa : {Isa::avx2, Isa::avx512}) {
        if (!sr::ops::direct::supported(isa)) continue;
        INFO("kernel variant " << sr::ops::direct::isa_name(isa));
        sr::ops::direct::set_isa(isa);
        check();
    }
    sr::ops::direct::set_isa(previous);
    return true;
}

// Whether the graph that produced t holds a node of that name (so a test knows which path ran).
bool graph_has(const Tensor<float>& t, const std::string& name) {
    std::vector<const sr::autograd::Node<float, sr::Cpu>*> stack;
    if (t.grad_fn()) stack.push_back(t.grad_fn().get());
    for (std::size_t i = 0; i < stack.size(); ++i) {  // a tree walk is enough for these small graphs
        if (name == stack[i]->name()) return true;
        for (const auto& input : stack[i]->inputs())
            if (input.grad_fn()) stack.push_back(input.grad_fn().get());
    }
    return false;
}

struct PairCase {
    int64_t n, h, w, c, wide, out;
};

// WDSR-B's shapes (32 -> 192 -> 25, 16 -> 96 -> 12) and odd ones: channel counts that are no
// multiple of 8 or 16 (padding), and pixel counts around the 64-pixel tile.
const PairCase k_cases[] = {
    {2, 7, 9, 32, 192, 25}, {1, 8, 8, 16, 96, 12}, {1, 5, 13, 5, 13, 3}, {3, 3, 11, 24, 40, 17}, {1, 1, 1, 7, 9, 2},
    {1, 8, 16, 32, 48, 32},
};

std::string describe(const PairCase& c) {
    return "N=" + std::to_string(c.n) + " H=" + std::to_string(c.h) + " W=" + std::to_string(c.w) + " C=" +
           std::to_string(c.c) + " Wd=" + std::to_string(c.wide) + " O=" + std::to_string(c.out);
}

void check_pair(const PairCase& cs) {
    INFO(describe(cs));
    auto x = uniform({cs.n, cs.h, cs.w, cs.c}, 1);
    auto we = uniform({cs.wide, 1, 1, cs.c}, 2, 0.5);
    auto be = uniform({cs.wide}, 3, 0.5);  // some activations positive, some cut by the ReLU
    auto wr = uniform({cs.out, 1, 1, cs.wide}, 4, 0.3);
    auto br = uniform({cs.out}, 5);
    auto grad_y = uniform({cs.n, cs.h, cs.w, cs.out}, 6);

    // The reference: two naive double convolutions with the ReLU between, and their adjoints.
    auto pre = sr::reference::conv2d_forward(x, we, be);
    auto wide = pre.clone();
    for (int64_t i = 0; i < wide.numel(); ++i) wide.data()[i] = std::max(0.0, wide.data()[i]);
    const auto ref_y = sr::reference::conv2d_forward(wide, wr.cast<double>(), br.cast<double>());
    auto grad_wide = sr::reference::conv2d_backward_data(grad_y.cast<double>(), wr.cast<double>(), cs.wide);
    for (int64_t i = 0; i < grad_wide.numel(); ++i)
        if (!(pre.data()[i] > 0)) grad_wide.data()[i] = 0;
    const auto ref_grad_x = sr::reference::conv2d_backward_data(grad_wide, we.cast<double>(), cs.c);
    Tensor<double> ref_grad_we, ref_grad_be, ref_grad_wr, ref_grad_br;
    sr::reference::conv2d_backward_weights(x.cast<double>(), grad_wide, 1, ref_grad_we, ref_grad_be);
    sr::reference::conv2d_backward_weights(wide, grad_y.cast<double>(), 1, ref_grad_wr, ref_grad_br);

    x.set_requires_grad(true), we.set_requires_grad(true), be.set_requires_grad(true);
    wr.set_requires_grad(true), br.set_requires_grad(true);
    const auto y = sr::wide_pair(x, Link{we, be, true}, Link{wr, br, false});
    REQUIRE(y.grad_fn() != nullptr);
    CHECK(std::string(y.grad_fn()->name()) == "wide_pair");
    CHECK(sr::test::normalized_max_error(y, ref_y) < 1e-5);
    sr::sum(sr::multiply(y, grad_y)).backward();
    CHECK(sr::test::normalized_max_error(x.grad(), ref_grad_x) < 1e-5);
    CHECK(sr::test::normalized_max_error(we.grad(), ref_grad_we) < 1e-5);
    CHECK(sr::test::normalized_max_error(be.grad(), ref_grad_be) < 1e-5);
    CHECK(sr::test::normalized_max_error(wr.grad(), ref_grad_wr) < 1e-5);
    CHECK(sr::test::normalized_max_error(br.grad(), ref_grad_br) < 1e-5);

    // Without recording: the same values, no node.
    sr::NoGradGuard no_grad;
    const auto y_inference = sr::wide_pair(x, Link{we, be, true}, Link{wr, br, false});
    CHECK(y_inference.grad_fn() == nullptr);
    CHECK(sr::test::normalized_max_error(y_inference, y) == 0);
}

}  // namespace

TEST_CASE("wide_pair fused on the CPU matches the naive 1x1-ReLU-1x1 reference, forward and backward", "[wide_pair]") {
    FusionScope fused(true);
    const bool ran = for_each_variant([] {
        for (const auto& cs : k_cases) check_pair(cs);
    });
    if (!ran) SR_SKIP("this CPU has neither AVX2+FMA nor AVX-512: wide_pair runs as two convolutions");
}

TEST_CASE("wide_pair: only the input's gradient when the weights are frozen, tiles independent of the batch",
          "[wide_pair]") {
    FusionScope fused(true);
    const bool ran = for_each_variant([] {
        // 3 images of 50 pixels: tiles of 64 pixels straddle images; each pixel's result must not
        // depend on where a tile starts (image 1 alone gives its slice of the batch bit for bit).
        auto x = uniform({3, 5, 10, 32}, 11);
        const Link expand{uniform({192, 1, 1, 32}, 12, 0.5), uniform({192}, 13, 0.5), true};
        const Link reduce{uniform({25, 1, 1, 192}, 14, 0.3), uniform({25}, 15), false};
        sr::NoGradGuard no_grad;
        const auto whole = sr::wide_pair(x, expand, reduce);
        const auto one = sr::wide_pair(x.slice_batch(1, 2).contiguous(), expand, reduce);
        CHECK(sr::test::normalized_max_error(one, whole.slice_batch(1, 2)) == 0);
    });
    if (!ran) SR_SKIP("this CPU has neither AVX2+FMA nor AVX-512");
    const bool ran_grad = for_each_variant([] {
        auto x = uniform({1, 9, 9, 16}, 21);
        const Link expand{uniform({96, 1, 1, 16}, 22, 0.5), uniform({96}, 23, 0.5), true};
        const Link reduce{uniform({12, 1, 1, 96}, 24, 0.3), uniform({12}, 25), false};
        x.set_requires_grad(true);
        const auto g = uniform({1, 9, 9, 12}, 26);
        sr::sum(sr::multiply(sr::wide_pair(x, expand, reduce), g)).backward();
        const auto fused_grad = x.grad().clone();
        x.zero_grad();
        {
            FusionScope off(false);
            sr::sum(sr::multiply(sr::wide_pair(x, expand, reduce), g)).backward();
        }
        CHECK(!expand.weight.grad().defined());
        CHECK(sr::test::normalized_max_error(fused_grad, x.grad()) < 1e-5);
    });
    CHECK(ran_grad);
}

TEST_CASE("WDSR-B with the fused wide pair equals WDSR-B on plain convolutions, output and gradients", "[wide_pair]") {
    if (!sr::ops::direct::available()) SR_SKIP("this CPU has neither AVX2+FMA nor AVX-512");
    auto config = sr::models::make_config("wdsr-b-16", 2);
    config.num_blocks = 3;
    sr::Rng rng(7);
    const sr::models::WdsrB<float> model(config, rng);
    const auto lr = uniform({2, 12, 10, 3}, 31, 127.5, 127.5);
    sr::nn::ParameterList<float, sr::Cpu> params;
    model.collect_parameters(params);
    auto run = [&](bool fused) {
        FusionScope scope(fused);
        for (auto& p : params) p.tensor.zero_grad();
        const auto sr_image = model(lr);
        CHECK(graph_has(sr_image, "wide_pair") == fused);  // the path this run claims to test ran
        sr::mean(sr_image).backward();
        std::vector<Tensor<float>> grads;
        for (auto& p : params) {
            REQUIRE(p.tensor.grad().defined());
            grads.push_back(p.tensor.grad().clone());
        }
        return std::make_pair(sr_image.detach(), grads);
    };
    const auto [fused_out, fused_grads] = run(true);
    const auto [plain_out, plain_grads] = run(false);
    CHECK(sr::test::normalized_max_error(fused_out, plain_out) < 1e-5);
    REQUIRE(fused_grads.size() == plain_grads.size());
    for (std::size_t i = 0; i < fused_grads.size(); ++i) {
        INFO("parameter " << params[i].name);
        CHECK(sr::test::normalized_max_error(fused_grads[i], plain_grads[i]) < 1e-4);
    }
}

}  // namespace test_wide_pair
