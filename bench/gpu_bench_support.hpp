#pragma once
// Shared by the GPU benchmarks (gpu_conv_bench, gpu_model_bench): the card's name and FP32 peak,
// CUDA-event timing on the engine's compute stream, and the output that bench/gpu_check.sh and
// bench/pytorch_gpu_peer.py read (a markdown table after a "<!-- table -->" line, JSON rows).
// Benchmarks time what the engine enqueues, so they include the CUDA runtime directly; the engine's
// own headers stay free of it (sr/cuda/ holds plain declarations).
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "sr/core/error.hpp"
#include "sr/cuda/memory.hpp"
#include "stream.cuh"

#define SR_BENCH_CUDA(call)                                                                          \
    do {                                                                                             \
        cudaError_t sr_bench_status = (call);                                                        \
        if (sr_bench_status != cudaSuccess)                                                          \
            ::sr::fail("CUDA error in ", #call, ": ", cudaGetErrorString(sr_bench_status));          \
    } while (false)

namespace sr::bench::gpu {

// FP32 lanes per multiprocessor by compute capability (CUDA C Programming Guide, "Arithmetic
// Instructions"): the non-tensor-core ceiling that float convolutions with TF32 off are held to.
inline int fp32_lanes_per_sm(int major, int minor) {
    if (major == 8 && minor == 0) return 64;
    if (major == 7) return 64;
    if (major == 6 && minor == 0) return 64;
    return 128;  // 6.1+, 8.6, 8.9, 9.0, 10.x, 12.x
}

struct Card {
    int device = 0;
    std::string name;
    int major = 0, minor = 0, multiprocessors = 0;
    double max_clock_ghz = 0;
    double fp32_peak_flops = 0;  // multiprocessors x lanes x 2 FLOP x max SM clock
    double memory_gib = 0;
};

inline Card card(int device) {
    SR_CHECK(sr::cuda::device_count() > device, "gpu bench: CUDA device ", device, " is not present (",
             sr::cuda::device_count(), " visible)");
    sr::cuda::set_device(device);
    const auto props = sr::cuda::device_properties(device);
    Card c;
    c.device = device;
    c.name = props.name;
    c.major = props.compute_major, c.minor = props.compute_minor;
    c.multiprocessors = props.multiprocessors;
    int clock_khz = 0;
    SR_BENCH_CUDA(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, device));
    c.max_clock_ghz = clock_khz / 1e6;
    c.fp32_peak_flops = 2.0 * c.multiprocessors * fp32_lanes_per_sm(c.major, c.minor) * clock_khz * 1e3;
    c.memory_gib = static_cast<double>(props.total_memory) / (1u << 30);
    return c;
}

inline std::string describe(const Card& c) {
    char line[256];
    std::snprintf(line, sizeof line, "%s (cuda:%d), compute %d.%d, %d SMs at up to %.2f GHz, %.0f GiB; FP32 peak %.1f TFLOP/s",
                  c.name.c_str(), c.device, c.major, c.minor, c.multiprocessors, c.max_clock_ghz, c.memory_gib,
                  c.fp32_peak_flops / 1e12);
    return line;
}

struct Timing {
    double median_ms = 0, min_ms = 0;
    int runs = 0;
};

// Times `work` (anything that enqueues on the compute stream of the current device) with a pair
// of CUDA events around each run: `warmup` untimed runs first (plan searches, pool growth), then
// runs until `min_runs` are done and `min_seconds` have passed, at most `max_runs`. Host waits
// inside `work` (if any) show up as stream idle time between the events, i.e. as wall time.
template <class Work>
Timing time_on_stream(Work&& work, int warmup = 3, int min_runs = 10, int max_runs = 200, double min_seconds = 0.5) {
    const cudaStream_t stream = sr::cuda::detail::compute_stream();
    for (int i = 0; i < warmup; ++i) work();
    sr::cuda::synchronize();
    std::vector<cudaEvent_t> starts, stops;
    const auto begin = std::chrono::steady_clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count(); };
    while (static_cast<int>(starts.size()) < max_runs &&
           (static_cast<int>(starts.size()) < min_runs || elapsed() < min_seconds)) {
        cudaEvent_t start, stop;
        SR_BENCH_CUDA(cudaEventCreate(&start));
        SR_BENCH_CUDA(cudaEventCreate(&stop));
        SR_BENCH_CUDA(cudaEventRecord(start, stream));
        work();
        SR_BENCH_CUDA(cudaEventRecord(stop, stream));
        starts.push_back(start), stops.push_back(stop);
        // Keep the host at most a few runs ahead, so elapsed() tracks the device.
        if (starts.size() >= 4) SR_BENCH_CUDA(cudaEventSynchronize(stops[starts.size() - 4]));
    }
    sr::cuda::synchronize();
    std::vector<double> ms;
    for (std::size_t i = 0; i < starts.size(); ++i) {
        float run_ms = 0;
        SR_BENCH_CUDA(cudaEventElapsedTime(&run_ms, starts[i], stops[i]));
        ms.push_back(run_ms);
        cudaEventDestroy(starts[i]);
        cudaEventDestroy(stops[i]);
    }
    std::sort(ms.begin(), ms.end());
    return {ms[ms.size() / 2], ms.front(), static_cast<int>(ms.size())};
}

inline double mib(std::size_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

// "--name=value" or "--name" from the command line; `fallback` when absent.
inline std::string option(int argc, char** argv, const std::string& name, const std::string& fallback = "") {
    const std::string key = "--" + name;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == key) return "1";
        if (arg.rfind(key + "=", 0) == 0) return arg.substr(key.size() + 1);
    }
    return fallback;
}

}  // namespace sr::bench::gpu
