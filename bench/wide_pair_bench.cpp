// WDSR-B's 1x1 pair (expand 32->192, ReLU, reduce 192->25) on the CPU, fused (sr/ops/wide_pair.hpp)
// against the two convolutions it replaces (each on the backend the automatic choice measures),
// at WDSR-B's inference shape (one 480x270 image) and training shape (16 patches of 48x48).
//
// Build and run:
//   cmake --build build --target wide_pair_bench && OMP_PROC_BIND=close OMP_PLACES=cores ./build/bench/wide_pair_bench
// Options: --threads=N (default 2), plus Google Benchmark's own.
// Variants: fused | convs, times fwd (inference, no recording) | train (forward recorded, then the
// backward of sum(y * g): the pair's gradients for x and all four weights and biases). GFLOP/s
// counts the pair's forward FLOPs (2 * pixels * (32*192 + 192*25)), three times for train, as
// model_bench counts a training step.
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "bench_support.hpp"
#include "sr/autograd/backward.hpp"
#include "sr/core/rng.hpp"
#include "sr/ops/reduce.hpp"
#include "sr/ops/wide_pair.hpp"

namespace {

int g_threads = 2;
double g_peak = 0;

struct PairCase {
    const char* label;
    int64_t n, h, w, c, wide, out;
    double forward_flop() const { return 2.0 * n * h * w * (c * wide + wide * out); }
};

const PairCase k_cases[] = {
    {"32to192to25_b1_270x480", 1, 270, 480, 32, 192, 25},
    {"32to192to25_b16_48x48", 16, 48, 48, 32, 192, 25},
};

sr::Tensor<float> random_tensor(const sr::Shape& shape, uint64_t seed, double scale) {
    sr::Rng rng(seed);
    auto t = sr::Tensor<float>::empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(rng.uniform(-scale, scale));
    return t;
}

void run_case(benchmark::State& state, PairCase cs, bool fused, bool train) {
    sr::set_num_threads(g_threads);
    sr::set_fused_cpu_blocks(fused);
    auto x = random_tensor({cs.n, cs.h, cs.w, cs.c}, 1, 1.0);
    const sr::ConvLink<float, sr::Cpu> expand{random_tensor({cs.wide, 1, 1, cs.c}, 2, 1.0 / std::sqrt(double(cs.c))),
                                             random_tensor({cs.wide}, 3, 0.1), true};
    const sr::ConvLink<float, sr::Cpu> reduce{random_tensor({cs.out, 1, 1, cs.wide}, 4, 1.0 / std::sqrt(double(cs.wide))),
                                             random_tensor({cs.out}, 5, 0.1), false};
    const auto g = random_tensor({cs.n, cs.h, cs.w, cs.out}, 6, 1.0);
    if (fused && !sr::ops::detail::wide_pair_fusable(x, expand, reduce)) {
        state.SkipWithError("the fused kernel does not run on this CPU or precision");
        return;
    }
    if (train) {
        x.set_requires_grad(true);
        for (const auto* t : {&expand.weight, &expand.bias, &reduce.weight, &reduce.bias}) t->set_requires_grad(true);
    }
    auto step = [&] {
        if (!train) {
            sr::NoGradGuard no_grad;
            benchmark::DoNotOptimize(sr::wide_pair(x, expand, reduce).data());
            return;
        }
        x.zero_grad();
        for (const auto* t : {&expand.weight, &expand.bias, &reduce.weight, &reduce.bias}) t->zero_grad();
        sr::sum(sr::multiply(sr::wide_pair(x, expand, reduce), g)).backward();
    };
    step();  // warm-up: backend measurements, oneDNN primitives, buffers
    sr::bench::wait_until_quiet();
    for (auto _ : state) step();
    sr::bench::report_flops(state, cs.forward_flop() * (train ? 3 : 1), g_peak);
}

}  // namespace

int main(int argc, char** argv) {
    const auto setup = sr::bench::setup(argc, argv);
    g_threads = setup.threads;
    g_peak = setup.peak_flops;
    for (const auto& cs : k_cases)
        for (bool train : {false, true})
            for (bool fused : {true, false}) {
                const std::string name = std::string(fused ? "fused" : "convs") + "/" + (train ? "train" : "fwd") + "/" + cs.label;
                benchmark::RegisterBenchmark(name.c_str(), [cs, fused, train](benchmark::State& s) { run_case(s, cs, fused, train); })
                    ->Unit(benchmark::kMillisecond)
                    ->UseRealTime()
                    ->MinTime(1.0);
            }
    benchmark::Initialize(&argc, argv);
    sr::bench::FlopsTableReporter reporter(g_peak);
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
    return 0;
}
