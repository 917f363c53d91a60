// Whole-model forward (inference) on the CPU: the baseline profiles on one 480x270 LR image, with
// GFLOP/s and the fraction of the measured FMA peak.
//
// Build and run:
//   cmake --build build --target model_bench && OMP_PROC_BIND=close OMP_PLACES=cores ./build/bench/model_bench
// Options: --threads=N (default 2), Google Benchmark's own (--benchmark_repetitions=3 ...).
// Variants: edsr-16 x2, wdsr-a-16 x2, wdsr-b-32 x4 (weight norm folded, no gradient recording).
#include <cstdlib>
#include <cstring>

#include "bench_support.hpp"
#include "sr/models/flops.hpp"
#include "sr/models/model.hpp"
#include "sr/models/profiles.hpp"

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
    sr::NoGradGuard no_grad;
    auto out = model(lr);  // warm-up (primitive creation, buffers)
    if (out.dim(1) != height * scale) std::abort();
    sr::bench::wait_until_quiet();
    for (auto _ : state) benchmark::DoNotOptimize(model(lr).data());
    sr::bench::report_flops(state, sr::models::forward_flops(config, height, width), g_peak);
}
}  // namespace

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i)
        if (std::strncmp(argv[i], "--threads=", 10) == 0) g_threads = std::atoi(argv[i] + 10);
    g_peak = sr::bench::measured_peak_flops(g_threads);
    std::printf("machine: %s, %d threads, measured FMA peak %.1f GFLOP/s\n", sr::bench::cpu_name().c_str(), g_threads,
                g_peak / 1e9);
    for (auto [profile, scale] : {std::pair{"edsr-16", 2}, std::pair{"wdsr-a-16", 2}, std::pair{"wdsr-b-32", 4}}) {
        const std::string name = std::string("forward_480x270/") + profile + "_x" + std::to_string(scale);
        benchmark::RegisterBenchmark(name.c_str(), [profile = profile, scale = scale](benchmark::State& s) {
            run_model(s, profile, scale);
        })->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
    }
    benchmark::Initialize(&argc, argv);
    sr::bench::FlopsTableReporter reporter(g_peak);
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
    return 0;
}
