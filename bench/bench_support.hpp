#pragma once
// Shared by the benchmarks: the machine's name and its FP32 FMA peak, measured at start-up with
// independent 512-bit (or 256-bit) FMA chains in registers, so every GFLOP/s figure can be shown
// as a fraction of what this CPU can do with the threads used.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "sr/ops/cpu/conv2d_direct.hpp"
#include "sr/ops/cpu/precision.hpp"

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
// Compiled for AVX-512 and AVX2+FMA by target attributes and chosen from the running CPU, so the
// peak is the machine's whatever -march the benchmark was built with (SR_NATIVE_ARCH is off).
#if defined(__x86_64__)
__attribute__((target("avx512f"))) inline double fma_burst_avx512(long iterations) {
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
}
__attribute__((target("avx2,fma"))) inline double fma_burst_avx2(long iterations) {
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
}
#endif
inline double fma_burst(long iterations) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f")) return fma_burst_avx512(iterations);
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return fma_burst_avx2(iterations);
#endif
    (void)iterations;
    return 0;
}
}  // namespace detail

// Measured FP32 FMA peak in FLOP/s with `threads` threads (best of 5 bursts of ~50 ms, after a
// warm-up burst that wakes the threads and raises the clock).
inline double measured_peak_flops(int threads) {
    double best = 0;
#pragma omp parallel num_threads(threads)
    detail::fma_burst(2000000);
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

// The common start of every benchmark program: --threads=N (default 2) and --precision=fp32|bf16
// (the CPU convolutions' arithmetic, sr/ops/cpu/precision.hpp) from the command line, the measured
// peak for that many threads, and a line naming the machine.
struct BenchSetup {
    int threads = 2;
    double peak_flops = 0;
};
inline BenchSetup setup(int argc, char** argv) {
    BenchSetup b;
    for (int i = 1; i < argc; ++i)
        if (std::string(argv[i]).rfind("--threads=", 0) == 0)
            b.threads = std::stoi(argv[i] + 10);
        else if (std::string(argv[i]).rfind("--precision=", 0) == 0)
            set_cpu_precision(parse_precision(argv[i] + 12));
    b.peak_flops = measured_peak_flops(b.threads);
    std::printf("machine: %s, %d threads, measured FMA peak %.1f GFLOP/s, conv precision %s (bf16 unit: %s), "
                "direct kernels %s\n",
                cpu_name().c_str(), b.threads, b.peak_flops / 1e9, precision_name(cpu_precision()), cpu_bf16_unit(),
                sr::ops::direct::isa_name(sr::ops::direct::isa()));
    return b;
}

// Adds GFLOP/s and "% of peak" counters for a benchmark doing `flop_per_iteration` each iteration.
inline void report_flops(benchmark::State& state, double flop_per_iteration, double /*peak_flops*/) {
    state.counters["GFLOP/s"] = benchmark::Counter(flop_per_iteration / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

// Other work shares the dev VM: wait (up to max_seconds) until the CPUs are under 8 % busy over
// 300 ms before timing, as the measurements in perf-limits.md did.
inline void wait_until_quiet(double max_seconds = 20) {
    auto read = [](long long& busy, long long& total) {
        std::ifstream in("/proc/stat");
        std::string cpu;
        long long v[10] = {0};
        in >> cpu;
        for (auto& x : v) in >> x;
        total = 0;
        for (int i = 0; i < 8; ++i) total += v[i];
        busy = total - v[3] - v[4];
    };
    const auto start = std::chrono::steady_clock::now();
    while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < max_seconds) {
        long long b0, t0, b1, t1;
        read(b0, t0);
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        read(b1, t1);
        if (t1 > t0 && double(b1 - b0) / double(t1 - t0) < 0.08) return;
    }
}

// Console output plus a closing table: GFLOP/s and percent of the measured peak per benchmark
// (Google Benchmark can only print rates with a "/s" suffix). With --benchmark_repetitions the
// table keeps each benchmark's best repetition: other work on a shared VM only ever slows a run
// down, so the fastest is the closest to what the code can do.
class FlopsTableReporter : public benchmark::ConsoleReporter {
public:
    explicit FlopsTableReporter(double peak_flops) : m_peak(peak_flops) {}
    void ReportRuns(const std::vector<Run>& runs) override {
        benchmark::ConsoleReporter::ReportRuns(runs);
        for (const auto& run : runs) {
            if (run.run_type == Run::RT_Aggregate) continue;
            auto it = run.counters.find("GFLOP/s");
            if (it == run.counters.end()) continue;
            const std::string name = run.run_name.function_name;
            auto row = std::find_if(m_rows.begin(), m_rows.end(), [&](const Row& r) { return r.name == name; });
            if (row == m_rows.end())
                m_rows.push_back({name, run.GetAdjustedRealTime(), double(it->second)});
            else if (double(it->second) > row->gflops)
                *row = {name, run.GetAdjustedRealTime(), double(it->second)};
        }
    }
    void Finalize() override {
        benchmark::ConsoleReporter::Finalize();
        std::printf("\n%-60s %10s %10s %8s\n", "benchmark", "ms", "GFLOP/s", "% peak");
        for (const auto& row : m_rows)
            std::printf("%-60s %10.2f %10.1f %7.1f%%\n", row.name.c_str(), row.ms, row.gflops,
                        row.gflops * 1e9 / m_peak * 100.0);
        std::fflush(stdout);
    }

private:
    struct Row {
        std::string name;
        double ms, gflops;
    };
    double m_peak;
    std::vector<Row> m_rows;
};

}  // namespace sr::bench
