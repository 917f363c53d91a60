// Whole models on a CUDA GPU, through the same headers as the CPU (AnyModel<float, Cuda>,
// Tensor<float, Cuda>, infer::Upscaler, optim::Adam):
//   - forward of one 1920x1080 LR image with the x2 models and of one 960x540 LR image with the x4
//     model (weight norm folded, no gradient recording), over the tiles infer::Upscaler plans for
//     that image on this device (one tile when it fits in half the free memory);
//   - a training step (forward, L1 loss, backward, Adam) on a batch of 16 x 48x48 and of
//     64 x 64x64 LR patches;
// for edsr-16 x2, wdsr-a-16 x2 and wdsr-b-32 x4. Each row: median time of CUDA-event timed runs on
// the compute stream, images/s, GFLOP/s (a training step counted as 3 forwards) and the peak of the
// device memory pool during the timed runs (weights and optimizer state included).
// Before timing, each model's forward is checked against the CPU model on a small image
// (normalised max error <= 1e-4).
//
// Build and run (a CUDA build; bench/pytorch_gpu_peer.py runs it beside PyTorch):
//   cmake --build build --target gpu_model_bench && ./build/bench/gpu_model_bench
// Options: --device=N, --only=SUBSTRING (rows whose name contains it), --json=PATH (rows for
// pytorch_gpu_peer.py), --markdown (a table after a "<!-- table -->" line), --quick (fewer runs).
// TF32 stays off (sr::cuda::ConvSettings), as in PyTorch with allow_tf32 = False.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gpu_bench_support.hpp"
#include "sr/autograd/backward.hpp"
#include "sr/autograd/grad_mode.hpp"
#include "sr/core/rng.hpp"
#include "sr/infer/upscaler.hpp"
#include "sr/models/flops.hpp"
#include "sr/models/model.hpp"
#include "sr/models/profiles.hpp"
#include "sr/ops/loss.hpp"
#include "sr/optim/adam.hpp"

namespace {

namespace gpu = sr::bench::gpu;
using sr::Cuda;
using CpuModel = sr::models::AnyModel<float, sr::Cpu>;
using GpuModel = sr::models::AnyModel<float, Cuda>;

struct Row {
    std::string name, profile, kind;  // kind: forward | train_step
    int scale = 0;
    int64_t batch = 0, height = 0, width = 0, tiles = 0;
    double ms = 0, images_per_s = 0, gflops = 0, peak_mib = 0;
};

sr::Tensor<float> random_pixels(const sr::Shape& shape, sr::Rng& rng) {
    auto t = sr::Tensor<float>::empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(rng.uniform(0, 255));
    return t;
}

// The device model must compute what the CPU model computes before its speed means anything.
void check_against_cpu(const CpuModel& cpu_model, const GpuModel& gpu_model, sr::Rng& rng) {
    sr::NoGradGuard no_grad;
    const auto lr = random_pixels({2, 24, 20, 3}, rng);
    const auto expected = cpu_model.fold_weight_norm()(lr);
    const auto actual = gpu_model.fold_weight_norm()(lr.to<Cuda>()).to_vector();
    double diff = 0, scale = 1e-30;
    for (int64_t i = 0; i < expected.numel(); ++i) {
        // Not std::max, which would drop a NaN: a NaN anywhere must fail the check below.
        const double d = std::abs(double(actual[i]) - double(expected.data()[i]));
        if (std::isnan(d) || d > diff) diff = d;
        scale = std::max(scale, std::abs(double(expected.data()[i])));
    }
    SR_CHECK(diff / scale <= 1e-4, "gpu_model_bench: ", sr::models::architecture_name(cpu_model.config().architecture), " forward on the GPU differs from "
             "the CPU by ", diff / scale, " (max error / max value, limit 1e-4)");
}

Row forward_row(const std::string& profile, int scale, int64_t height, int64_t width, bool quick) {
    sr::Rng rng(1);
    const auto config = sr::models::make_config(profile, scale);
    const CpuModel cpu_model(config, rng);
    const GpuModel gpu_model = cpu_model.to<Cuda>();
    check_against_cpu(cpu_model, gpu_model, rng);
    const sr::infer::Upscaler upscaler(gpu_model);
    const auto tiles = upscaler.plan(height, width, {});
    const GpuModel folded = gpu_model.fold_weight_norm();
    const auto lr = random_pixels({1, height, width, 3}, rng).to<Cuda>();
    // Tile inputs cut on the device, as contiguous copies (what the network is given per tile).
    std::vector<sr::Tensor<float, Cuda>> inputs;
    for (const auto& t : tiles) inputs.push_back(lr.crop(t.in_top, t.in_left, t.in_height, t.in_width).contiguous());
    sr::NoGradGuard no_grad;
    auto run = [&] {
        for (const auto& input : inputs) folded(input);
    };
    run();
    sr::cuda::synchronize();
    sr::cuda::reset_peak_memory_stats();
    const auto t = quick ? gpu::time_on_stream(run, 1, 3, 5, 0.1) : gpu::time_on_stream(run, 2, 5, 50, 1.0);
    Row row;
    row.profile = profile, row.scale = scale, row.kind = "forward";
    row.batch = 1, row.height = height, row.width = width, row.tiles = static_cast<int64_t>(tiles.size());
    row.name = profile + " x" + std::to_string(scale) + " forward 1x" + std::to_string(width) + "x" + std::to_string(height);
    row.ms = t.median_ms;
    row.images_per_s = 1e3 / t.median_ms;
    double flop = 0;
    // Measured when plan() chose the tiles (sr/models/forward_cost.hpp), for any architecture.
    for (const auto& tile : tiles) flop += upscaler.forward_cost().flops(tile.in_height, tile.in_width);
    row.gflops = flop / (t.median_ms * 1e-3) / 1e9;
    row.peak_mib = gpu::mib(sr::cuda::memory_stats().peak_in_use);
    return row;
}

Row train_row(const std::string& profile, int scale, int64_t batch, int64_t patch, bool quick) {
    sr::Rng rng(2);
    const auto config = sr::models::make_config(profile, scale);
    sr::cuda::synchronize();
    sr::cuda::reset_peak_memory_stats();
    const GpuModel model = CpuModel(config, rng).to<Cuda>();
    sr::optim::Adam<float, Cuda> adam(model.parameters(), {1e-4});
    const auto lr = random_pixels({batch, patch, patch, 3}, rng).to<Cuda>();
    const auto hr = random_pixels({batch, patch * scale, patch * scale, 3}, rng).to<Cuda>();
    auto step = [&] {
        adam.zero_grad();
        auto loss = sr::l1_loss(model(lr), hr);
        loss.backward();
        adam.step();
    };
    const auto t = quick ? gpu::time_on_stream(step, 2, 3, 5, 0.1) : gpu::time_on_stream(step, 3, 10, 100, 1.5);
    Row row;
    row.profile = profile, row.scale = scale, row.kind = "train_step";
    row.batch = batch, row.height = patch, row.width = patch, row.tiles = 0;
    row.name = profile + " x" + std::to_string(scale) + " train_step " + std::to_string(batch) + "x" +
               std::to_string(patch) + "x" + std::to_string(patch);
    row.ms = t.median_ms;
    row.images_per_s = static_cast<double>(batch) * 1e3 / t.median_ms;
    row.gflops = 3 * sr::models::forward_flops(config, batch * patch, patch) / (t.median_ms * 1e-3) / 1e9;
    row.peak_mib = gpu::mib(sr::cuda::memory_stats().peak_in_use);
    return row;
}

}  // namespace

int main(int argc, char** argv) try {
    const int device = std::stoi(gpu::option(argc, argv, "device", "0"));
    const std::string only = gpu::option(argc, argv, "only");
    const std::string json_path = gpu::option(argc, argv, "json");
    const bool markdown = !gpu::option(argc, argv, "markdown").empty();
    const bool quick = !gpu::option(argc, argv, "quick").empty();
    const gpu::Card card = gpu::card(device);
    std::printf("card: %s\n", gpu::describe(card).c_str());
    auto settings = sr::cuda::conv_settings();
    settings.allow_tf32 = false;
    sr::cuda::set_conv_settings(settings);

    struct Job {
        std::string name;
        std::function<Row()> run;
    };
    std::vector<Job> jobs;
    const std::pair<const char*, int> models[] = {{"edsr-16", 2}, {"wdsr-a-16", 2}, {"wdsr-b-32", 4}};
    for (auto [profile, scale] : models) {
        const int64_t height = scale == 2 ? 1080 : 540, width = scale == 2 ? 1920 : 960;
        const std::string p = profile;
        const std::string tag = p + " x" + std::to_string(scale);
        jobs.push_back({tag + " forward 1x" + std::to_string(width) + "x" + std::to_string(height),
                        [=] { return forward_row(p, scale, height, width, quick); }});
        jobs.push_back({tag + " train_step 16x48x48", [=] { return train_row(p, scale, 16, 48, quick); }});
        jobs.push_back({tag + " train_step 64x64x64", [=] { return train_row(p, scale, 64, 64, quick); }});
    }

    std::vector<Row> rows;
    for (const auto& job : jobs) {
        if (!only.empty() && job.name.find(only) == std::string::npos) continue;
        Row row = job.run();
        std::printf("%-42s %9.2f ms %9.1f images/s %9.0f GFLOP/s (%4.1f%% of FP32 peak) peak %8.0f MiB%s\n",
                    row.name.c_str(), row.ms, row.images_per_s, row.gflops, 100.0 * row.gflops * 1e9 / card.fp32_peak_flops,
                    row.peak_mib, row.tiles > 1 ? (" (" + std::to_string(row.tiles) + " tiles)").c_str() : "");
        std::fflush(stdout);
        rows.push_back(row);
    }

    if (!json_path.empty()) {
        nlohmann::json out;
        out["card"] = gpu::describe(card);
        out["rows"] = nlohmann::json::array();
        for (const auto& r : rows)
            out["rows"].push_back({{"name", r.name},     {"profile", r.profile}, {"scale", r.scale},
                                   {"kind", r.kind},     {"batch", r.batch},     {"height", r.height},
                                   {"width", r.width},   {"tiles", r.tiles},     {"ms", r.ms},
                                   {"images_per_s", r.images_per_s},             {"gflops", r.gflops},
                                   {"peak_mib", r.peak_mib}});
        std::ofstream(json_path) << out.dump(2) << "\n";
    }
    if (markdown) {
        std::printf("<!-- table -->\nCard: %s. Float, TF32 off; median of CUDA-event timed runs.\n\n",
                    gpu::describe(card).c_str());
        std::printf("| run | tiles | ms | images/s | GFLOP/s | %% FP32 peak | peak MiB |\n| --- | --- | --- | --- | --- | --- | --- |\n");
        for (const auto& r : rows)
            std::printf("| %s | %lld | %.2f | %.1f | %.0f | %.1f %% | %.0f |\n", r.name.c_str(),
                        static_cast<long long>(r.tiles), r.ms, r.images_per_s, r.gflops,
                        100.0 * r.gflops * 1e9 / card.fp32_peak_flops, r.peak_mib);
    }
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "gpu_model_bench: %s\n", e.what());
    return 1;
}
