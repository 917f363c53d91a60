#pragma once
// Shared by the benchmarks: the machine's name and its FP32 FMA peak, measured at start-up with
// independent 512-bit (or 256-bit) FMA chains in registers, so every GFLOP/s figure can be shown
// as a fraction of what this CPU can do with the threads used.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <chrono>
#include <fstream>
#include <string>

namespace sr::bench {

inline std::string cpu_name() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    return "unknown CPU";
}

namespace detail {
// 12 independent accumulators hide the 4-cycle FMA latency on 2 FMA pipes. Returns FLOP done.
inline double fma_burst(long iterations) {
#if defined(__AVX512F__)
    for (long i = 0; i < iterations; ++i)
        asm volatile(
            ".rept 10\n\t"
            "vfmadd231ps %%zmm30,%%zmm31,%%zmm0\n\t vfmadd231ps %%zmm30,%%zmm31,%%zmm1\n\t"
            "vfmadd231ps %%zmm30,%%zmm31,%%zmm2\n\t vfmadd231ps %%zmm30,%%zmm31,%%zmm3\n\t"
            "vfmadd231ps %%zmm30,%%zmm31,%%zmm4\n\t vfmadd231ps %%zmm30,%%zmm31,%%zmm5\n\t"
            "vfmadd231ps %%zmm30,%%zmm31,%%zmm6\n\t vfmadd231ps %%zmm30,%%zmm31,%%zmm7\n\t"
            "vfmadd231ps %%zmm30,%%zmm31,%%zmm8\n\t vfmadd231ps %%zmm30,%%zmm31,%%zmm9\n\t"
            "vfmadd231ps %%zmm30,%%zmm31,%%zmm10\n\t vfmadd231ps %%zmm30,%%zmm31,%%zmm11\n\t"
            ".endr" ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11");
    return 2.0 * 16 * 120 * iterations;
#elif defined(__FMA__)
    for (long i = 0; i < iterations; ++i)
        asm volatile(
            ".rept 10\n\t"
            "vfmadd231ps %%ymm14,%%ymm15,%%ymm0\n\t vfmadd231ps %%ymm14,%%ymm15,%%ymm1\n\t"
            "vfmadd231ps %%ymm14,%%ymm15,%%ymm2\n\t vfmadd231ps %%ymm14,%%ymm15,%%ymm3\n\t"
            "vfmadd231ps %%ymm14,%%ymm15,%%ymm4\n\t vfmadd231ps %%ymm14,%%ymm15,%%ymm5\n\t"
            "vfmadd231ps %%ymm14,%%ymm15,%%ymm6\n\t vfmadd231ps %%ymm14,%%ymm15,%%ymm7\n\t"
            "vfmadd231ps %%ymm14,%%ymm15,%%ymm8\n\t vfmadd231ps %%ymm14,%%ymm15,%%ymm9\n\t"
            "vfmadd231ps %%ymm14,%%ymm15,%%ymm10\n\t vfmadd231ps %%ymm14,%%ymm15,%%ymm11\n\t"
            ".endr" ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11");
    return 2.0 * 8 * 120 * iterations;
#else
    (void)iterations;
    return 0;
#endif
}
}  // namespace detail

// Measured FP32 FMA peak in FLOP/s with `threads` threads (best of 5 bursts of ~50 ms).
inline double measured_peak_flops(int threads) {
    double best = 0;
    for (int trial = 0; trial < 5; ++trial) {
        const auto start = std::chrono::steady_clock::now();
        double flop = 0;
#pragma omp parallel num_threads(threads) reduction(+ : flop)
        flop += detail::fma_burst(4000000);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        best = std::max(best, flop / seconds);
    }
    return best;
}

// Adds GFLOP/s and "% of peak" counters for a benchmark doing `flop_per_iteration` each iteration.
inline void report_flops(benchmark::State& state, double flop_per_iteration, double peak_flops) {
    state.counters["GFLOP/s"] = benchmark::Counter(flop_per_iteration / 1e9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["peak%"] =
        benchmark::Counter(flop_per_iteration / peak_flops * 100.0, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace sr::bench
