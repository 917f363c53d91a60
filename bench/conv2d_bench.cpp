// conv2d on the CPU: forward, backward-data and backward-weights on the shapes that dominate EDSR
// and WDSR, through the shipped op (sr/ops/conv2d.hpp, oneDNN for float). Each variant is checked
// against the Eigen GEMM path on a few outputs before it is timed.
//
// Build and run:
//   cmake --build build --target conv2d_bench && OMP_PROC_BIND=close OMP_PLACES=cores ./build/bench/conv2d_bench
// Options: --threads=N (default 2), plus Google Benchmark's own (--benchmark_filter=...).
// Variants: backend direct (ours) | onednn | automatic (the measured choice the models get), times fwd | bwd_data | bwd_weights, for
//   3x3 64->64, 3x3 32->128, 3x3 128->32, 1x1 32->192, 1x1 192->25 at batch 16 of 48x48,
//   3x3 64->64 on one 480x270 image.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "bench_support.hpp"
#include "sr/core/rng.hpp"
#include "sr/ops/conv2d.hpp"

namespace {

int g_threads = 2;
double g_peak = 0;

struct ConvCase {
    const char* label;
    int64_t n, h, w, c, o, k;
    double flop() const { return 2.0 * n * h * w * c * o * k * k; }
};

const ConvCase k_cases[] = {
    {"3x3_64to64_b16_48x48", 16, 48, 48, 64, 64, 3},   {"3x3_32to128_b16_48x48", 16, 48, 48, 32, 128, 3},
    {"3x3_128to32_b16_48x48", 16, 48, 48, 128, 32, 3}, {"1x1_32to192_b16_48x48", 16, 48, 48, 32, 192, 1},
    {"1x1_192to25_b16_48x48", 16, 48, 48, 192, 25, 1}, {"3x3_64to64_b1_270x480", 1, 270, 480, 64, 64, 3},
};

sr::Tensor<float> random_tensor(const sr::Shape& shape, uint64_t seed, double scale) {
    sr::Rng rng(seed);
    auto t = sr::Tensor<float>::empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(rng.uniform(-scale, scale));
    return t;
}

// Compares one element of a float result with the double-precision Eigen path; aborts on mismatch
// so a broken variant is never timed.
void check_close(const char* what, double got, double expected) {
    if (std::abs(got - expected) > 1e-3 * std::max(1.0, std::abs(expected))) {
        std::fprintf(stderr, "%s: result %g differs from the reference %g\n", what, got, expected);
        std::exit(1);
    }
}

enum class Pass { fwd, bwd_data, bwd_weights };

void run_case(benchmark::State& state, ConvCase cs, Pass pass, sr::ConvBackend backend) {
    sr::set_num_threads(g_threads);
    sr::set_conv_backend(backend);
    auto x = random_tensor({cs.n, cs.h, cs.w, cs.c}, 1, 1.0);
    auto w = random_tensor({cs.o, cs.k, cs.k, cs.c}, 2, 1.0 / std::sqrt(double(cs.c * cs.k * cs.k)));
    auto b = random_tensor({cs.o}, 3, 0.1);
    auto y = random_tensor({cs.n, cs.h, cs.w, cs.o}, 4, 1.0);
    auto gx = sr::Tensor<float>::empty(x.shape());
    auto gw = sr::Tensor<float>::empty(w.shape());
    auto gb = sr::Tensor<float>::empty(b.shape());
    auto step = [&] {
        switch (pass) {
            case Pass::fwd: sr::ops::conv2d_forward(x, w, b, y, {}, true); break;
            case Pass::bwd_data: sr::ops::conv2d_backward_data(y, w, gx); break;
            case Pass::bwd_weights: sr::ops::conv2d_backward_weights(x, y, gw, gb); break;
        }
    };
    step();
    {
        // Reference on a one-image slice in double: the same op on the Eigen GEMM path.
        auto xd = x.slice_batch(0, 1).contiguous().cast<double>(), wd = w.cast<double>(), bd = b.cast<double>();
        auto yd = y.slice_batch(0, 1).contiguous().cast<double>();
        if (pass == Pass::fwd) {
            auto ref = sr::Tensor<double>::empty(yd.shape());
            sr::ops::conv2d_forward(xd, wd, bd, ref);
            check_close("fwd", y.data()[7], ref.data()[7]);
        } else if (pass == Pass::bwd_data) {
            auto ref = sr::Tensor<double>::empty(xd.shape());
            sr::ops::conv2d_backward_data(yd, wd, ref);
            check_close("bwd_data", gx.data()[5], ref.data()[5]);
        } else if (cs.n == 1) {
            auto ref_w = sr::Tensor<double>::empty(wd.shape()), ref_b = sr::Tensor<double>::empty(bd.shape());
            sr::ops::conv2d_backward_weights(xd, yd, ref_w, ref_b);
            check_close("bwd_weights", gw.data()[3], ref_w.data()[3]);
        }
    }
    sr::bench::wait_until_quiet();
    for (auto _ : state) step();
    sr::bench::report_flops(state, cs.flop(), g_peak);
}

}  // namespace

int main(int argc, char** argv) {
    const auto setup = sr::bench::setup(argc, argv);
    g_threads = setup.threads;
    g_peak = setup.peak_flops;
    const std::pair<sr::ConvBackend, const char*> backends[] = {{sr::ConvBackend::direct, "direct"},
                                                                 {sr::ConvBackend::onednn, "onednn"},
                                                                 {sr::ConvBackend::automatic, "automatic"}};
    for (const auto& cs : k_cases)
        for (auto [backend, backend_name] : backends) {
            // Under --precision=bf16 every backend setting runs oneDNN's bf16 kernels: one row each.
            if (backend == sr::ConvBackend::direct &&
                (!sr::ops::direct::available() || sr::cpu_precision() == sr::Precision::bf16))
                continue;
            for (auto [pass, name] : {std::pair{Pass::fwd, "fwd"}, std::pair{Pass::bwd_data, "bwd_data"},
                                      std::pair{Pass::bwd_weights, "bwd_weights"}}) {
                benchmark::RegisterBenchmark((std::string(backend_name) + "/" + name + "/" + cs.label).c_str(),
                                             [cs, pass = pass, backend = backend](benchmark::State& s) {
                                                 run_case(s, cs, pass, backend);
                                             })
                    ->Unit(benchmark::kMillisecond)
                    ->UseRealTime()
                    ->MinTime(1.0);
            }
        }
    benchmark::Initialize(&argc, argv);
    sr::bench::FlopsTableReporter reporter(g_peak);
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
    return 0;
}
