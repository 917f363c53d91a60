// Whole models on the CPU: forward (inference) of the baseline profiles on one 480x270 LR image,
// and a training step (forward, L1 loss, backward, Adam) on a batch of 16 48x48 LR patches, with
// GFLOP/s and the fraction of the measured FMA peak (a training step counted as 3 forwards).
//
// Build and run:
//   cmake --build build --target model_bench && OMP_PROC_BIND=close OMP_PLACES=cores ./build/bench/model_bench
// Options: --threads=N (default 2), Google Benchmark's own (--benchmark_repetitions=3 ...).
// Variants: forward of edsr-16 x2, wdsr-a-16 x2, wdsr-b-32 x4 (weight norm folded, no gradient
// recording); train_step of edsr-16 x2, wdsr-a-16 x2, wdsr-b-16 x2; train_step_checked/wdsr-b-16 and
// edsr-16: the same step with sr-train's divergence checks (loss read and tested, every gradient
// tested by nn::first_non_finite_gradient before Adam), and finite_check/<profile>: those checks
// alone on the step's gradients, so their share of a step reads directly.
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "bench_support.hpp"
#include "sr/models/forward_cost.hpp"
#include "sr/models/model.hpp"
#include "sr/models/profiles.hpp"
#include "sr/nn/finite_check.hpp"
#include "sr/ops/loss.hpp"
#include "sr/optim/adam.hpp"

namespace {
int g_threads = 2;
double g_peak = 0;

void run_model(benchmark::State& state, const char* profile, int scale) {
    sr::set_num_threads(g_threads);
    sr::Rng rng(1);
    const auto config = sr::models::make_config(profile, scale);
    const auto model = sr::models::AnyModel<float>(config, rng).fold_weight_norm();
    const int64_t height = 270, width = 480;
    auto lr = sr::Tensor<float>::empty({1, height, width, 3});
    for (int64_t i = 0; i < lr.numel(); ++i) lr.data()[i] = static_cast<float>(rng.uniform(0, 255));
    // Measured, so a profile of any registered architecture reports GFLOP/s (sr/models/forward_cost.hpp).
    const double flops = sr::models::measure_forward_cost(model).flops(height, width);
    sr::NoGradGuard no_grad;
    auto out = model(lr);  // warm-up (primitive creation, buffers)
    if (out.dim(1) != height * scale) std::abort();
    sr::bench::wait_until_quiet();
    for (auto _ : state) benchmark::DoNotOptimize(model(lr).data());
    sr::bench::report_flops(state, flops, g_peak);
}
// checks: as sr-train's CPU loop, test the loss and the gradients for NaN/inf before the update.
void run_train_step(benchmark::State& state, const char* profile, int scale, bool checks) {
    sr::set_num_threads(g_threads);
    sr::Rng rng(2);
    const auto config = sr::models::make_config(profile, scale);
    const sr::models::AnyModel<float> model(config, rng);
    sr::optim::Adam<float, sr::Cpu> adam(model.parameters(), {1e-4});
    const int64_t batch = 16, patch = 48;
    auto lr = sr::Tensor<float>::empty({batch, patch, patch, 3});
    auto hr = sr::Tensor<float>::empty({batch, patch * scale, patch * scale, 3});
    for (int64_t i = 0; i < lr.numel(); ++i) lr.data()[i] = static_cast<float>(rng.uniform(0, 255));
    for (int64_t i = 0; i < hr.numel(); ++i) hr.data()[i] = static_cast<float>(rng.uniform(0, 255));
    auto step = [&] {
        adam.zero_grad();
        auto loss = sr::l1_loss(model(lr), hr);
        if (checks && !std::isfinite(loss.item())) std::abort();
        loss.backward();
        if (checks && sr::nn::first_non_finite_gradient(adam.parameters())) std::abort();
        adam.step();
    };
    step();
    // A batch of n patches is n times one patch's work (same-padded convolutions).
    const double flops = 3 * static_cast<double>(batch) * sr::models::measure_forward_cost(model).flops(patch, patch);
    sr::bench::wait_until_quiet();
    for (auto _ : state) step();
    sr::bench::report_flops(state, flops, g_peak);
}

// The divergence checks alone, on the gradients of one real step (what they add to a step).
void run_finite_check(benchmark::State& state, const char* profile, int scale) {
    sr::set_num_threads(g_threads);
    sr::Rng rng(2);
    const sr::models::AnyModel<float> model(sr::models::make_config(profile, scale), rng);
    auto lr = sr::Tensor<float>::full({2, 16, 16, 3}, 100.f);
    auto hr = sr::Tensor<float>::full({2, 16 * scale, 16 * scale, 3}, 90.f);
    sr::l1_loss(model(lr), hr).backward();
    int64_t elements = 0;
    for (const auto& p : model.parameters()) elements += p.tensor.numel();
    sr::bench::wait_until_quiet();
    for (auto _ : state) benchmark::DoNotOptimize(sr::nn::first_non_finite_gradient(model.parameters()));
    state.counters["gradient_MB"] = static_cast<double>(elements) * 4 / 1e6;
}
}  // namespace

int main(int argc, char** argv) {
    const auto setup = sr::bench::setup(argc, argv);
    g_threads = setup.threads;
    g_peak = setup.peak_flops;
    for (auto [profile, scale] : {std::pair{"edsr-16", 2}, std::pair{"wdsr-a-16", 2}, std::pair{"wdsr-b-32", 4}}) {
        const std::string name = std::string("forward_480x270/") + profile + "_x" + std::to_string(scale);
        benchmark::RegisterBenchmark(name.c_str(), [profile = profile, scale = scale](benchmark::State& s) {
            run_model(s, profile, scale);
        })->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
    }
    for (auto [profile, scale] : {std::pair{"edsr-16", 2}, std::pair{"wdsr-a-16", 2}, std::pair{"wdsr-b-16", 2}}) {
        const std::string name = std::string("train_step_16x48x48/") + profile + "_x" + std::to_string(scale);
        benchmark::RegisterBenchmark(name.c_str(), [profile = profile, scale = scale](benchmark::State& s) {
            run_train_step(s, profile, scale, false);
        })->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3.0);
    }
    for (auto [profile, scale] : {std::pair{"edsr-16", 2}, std::pair{"wdsr-b-16", 2}}) {
        const std::string name = std::string("train_step_checked_16x48x48/") + profile + "_x" + std::to_string(scale);
        benchmark::RegisterBenchmark(name.c_str(), [profile = profile, scale = scale](benchmark::State& s) {
            run_train_step(s, profile, scale, true);
        })->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3.0);
        const std::string check = std::string("finite_check/") + profile + "_x" + std::to_string(scale);
        benchmark::RegisterBenchmark(check.c_str(), [profile = profile, scale = scale](benchmark::State& s) {
            run_finite_check(s, profile, scale);
        })->Unit(benchmark::kMicrosecond)->UseRealTime()->MinTime(1.0);
    }
    benchmark::Initialize(&argc, argv);
    sr::bench::FlopsTableReporter reporter(g_peak);
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
    return 0;
}
