// Device convolutions (sr/cuda/conv2d.hpp) on every convolution shape of edsr-16 x2, wdsr-a-16 x2
// and wdsr-b-32 x4 at a training batch (16 x 48x48 LR): forward (with bias), backward-data and
// backward-weights (with the bias gradient), through cuDNN, and for the 1x1 convolutions of WDSR-B
// also through cuBLASLt GEMMs. Each variant is first checked against the CPU convolution on the same
// data (normalised max error <= 1e-4, TF32 off), then timed with CUDA events on the compute stream;
// GFLOP/s (2*N*H*W*C*O*K^2 per pass) is shown against the card's FP32 peak.
//
// Build and run (a CUDA build; bench/gpu_check.sh does both on a GPU machine):
//   cmake --build build --target gpu_conv_bench && ./build/bench/gpu_conv_bench
// Options: --device=N (default 0), --batch=N --size=S (LR batch, default 16 x 48), --markdown
// (a table after a "<!-- table -->" line), --quick (fewer runs).
// Variants: path cudnn | cublaslt (1x1 only), pass forward | backward_data | backward_weights.
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "gpu_bench_support.hpp"
#include "sr/core/parallel.hpp"
#include "sr/core/rng.hpp"
#include "sr/cuda/conv2d.hpp"
#include "sr/models/profiles.hpp"
#include "sr/ops/conv2d.hpp"

namespace {

using sr::cuda::ConvPath;
using sr::cuda::ConvShape;

struct ConvCase {
    std::string layers;  // which layers of which models have this shape, e.g. "edsr-16 x2 body (33x)"
    ConvShape shape;
};

// The convolutions of one model on an n x h x w LR batch, mirroring the networks (sr/models/edsr.hpp,
// wdsr.hpp) as sr/models/flops.hpp counts them.
std::vector<std::tuple<std::string, ConvShape, int>> model_convs(const sr::models::ModelConfig& c, int64_t n, int64_t h,
                                                                   int64_t w) {
    const int64_t f = c.num_filters, s = c.scale;
    std::vector<std::tuple<std::string, ConvShape, int>> convs;
    auto add = [&](const std::string& name, int64_t hh, int64_t ww, int64_t cin, int64_t cout, int64_t k, int count) {
        convs.emplace_back(name, ConvShape{n, hh, ww, cin, cout, k}, count);
    };
    add("head", h, w, 3, f, 3, 1);
    if (c.architecture == sr::models::Architecture::edsr) {
        add("body", h, w, f, f, 3, static_cast<int>(2 * c.num_blocks + 1));
        if (s == 4) {
            add("upsample 1", h, w, f, 4 * f, 3, 1);
            add("upsample 2", 2 * h, 2 * w, f, 4 * f, 3, 1);
        } else {
            add("upsample", h, w, f, s * s * f, 3, 1);
        }
        add("tail", s * h, s * w, f, 3, 3, 1);
    } else if (c.architecture == sr::models::Architecture::wdsr_a) {
        add("block expand", h, w, f, c.expansion * f, 3, static_cast<int>(c.num_blocks));
        add("block project", h, w, c.expansion * f, f, 3, static_cast<int>(c.num_blocks));
        add("tail", h, w, f, 3 * s * s, 3, 1);
        add("skip", h, w, 3, 3 * s * s, 5, 1);
    } else if (c.architecture == sr::models::Architecture::wdsr_b) {
        add("block expand 1x1", h, w, f, c.expansion * f, 1, static_cast<int>(c.num_blocks));
        add("block reduce 1x1", h, w, c.expansion * f, c.low_rank_channels(), 1, static_cast<int>(c.num_blocks));
        add("block spatial", h, w, c.low_rank_channels(), f, 3, static_cast<int>(c.num_blocks));
        add("tail", h, w, f, 3 * s * s, 3, 1);
        add("skip", h, w, 3, 3 * s * s, 5, 1);
    }
    return convs;
}

sr::Tensor<float> random_tensor(const sr::Shape& shape, sr::Rng& rng) {
    auto t = sr::Tensor<float>::empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(rng.uniform(-1, 1));
    return t;
}

// max |gpu - cpu| / max |cpu|: one number per tensor, independent of its size.
double normalised_error(const sr::Tensor<float, sr::Cuda>& gpu, const sr::Tensor<float>& cpu) {
    const auto g = gpu.to_vector();
    double diff = 0, scale = 1e-30;
    for (int64_t i = 0; i < cpu.numel(); ++i) {
        // Not std::max, which would drop a NaN: a NaN anywhere makes the error NaN, a MISMATCH.
        const double d = std::abs(double(g[i]) - double(cpu.data()[i]));
        if (std::isnan(d) || d > diff) diff = d;
        scale = std::max(scale, std::abs(double(cpu.data()[i])));
    }
    return diff / scale;
}

const char* pass_name(int pass) {
    return pass == 0 ? "forward" : pass == 1 ? "backward-data" : "backward-weights";
}

}  // namespace

int main(int argc, char** argv) try {
    namespace gpu = sr::bench::gpu;
    const int device = std::stoi(gpu::option(argc, argv, "device", "0"));
    const int64_t batch = std::stoll(gpu::option(argc, argv, "batch", "16"));
    const int64_t size = std::stoll(gpu::option(argc, argv, "size", "48"));
    const bool markdown = !gpu::option(argc, argv, "markdown").empty();
    const bool quick = !gpu::option(argc, argv, "quick").empty();
    const gpu::Card card = gpu::card(device);
    std::printf("card: %s\n", gpu::describe(card).c_str());
    std::printf("convolutions of a training batch of %lld x %lldx%lld LR patches, float, TF32 off\n",
                static_cast<long long>(batch), static_cast<long long>(size), static_cast<long long>(size));

    // Distinct shapes, each with the layers that have it.
    std::map<std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t>, ConvCase> cases;
    for (auto [profile, scale] : {std::pair{"edsr-16", 2}, std::pair{"wdsr-a-16", 2}, std::pair{"wdsr-b-32", 4}}) {
        const auto config = sr::models::make_config(profile, scale);
        for (const auto& [layer, shape, count] : model_convs(config, batch, size, size)) {
            auto& entry = cases[{shape.h, shape.w, shape.c, shape.o, shape.k, shape.n}];
            entry.shape = shape;
            if (!entry.layers.empty()) entry.layers += "; ";
            entry.layers += std::string(profile) + " x" + std::to_string(scale) + " " + layer +
                            (count > 1 ? " (" + std::to_string(count) + "x)" : "");
        }
    }

    sr::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    sr::Rng rng(7);
    struct Row {
        std::string shape, layers, pass, path;
        double ms, gflops, error;
        bool ok;
    };
    std::vector<Row> rows;
    bool all_ok = true;
    const double tolerance = 1e-4;
    for (const auto& [key, conv] : cases) {
        const ConvShape& s = conv.shape;
        const auto x = random_tensor({s.n, s.h, s.w, s.c}, rng);
        const auto w = random_tensor({s.o, s.k, s.k, s.c}, rng);
        const auto b = random_tensor({s.o}, rng);
        const auto grad_y = random_tensor({s.n, s.h, s.w, s.o}, rng);
        // CPU references, once per shape.
        auto y_ref = sr::Tensor<float>::empty({s.n, s.h, s.w, s.o});
        auto grad_x_ref = sr::Tensor<float>::empty({s.n, s.h, s.w, s.c});
        auto grad_w_ref = sr::Tensor<float>::empty({s.o, s.k, s.k, s.c});
        auto grad_b_ref = sr::Tensor<float>::empty({s.o});
        sr::ops::conv2d_forward(x, w, b, y_ref);
        sr::ops::conv2d_backward_data(grad_y, w, grad_x_ref);
        sr::ops::conv2d_backward_weights(x, grad_y, grad_w_ref, grad_b_ref);

        const auto dx = x.to<sr::Cuda>(), dw = w.to<sr::Cuda>(), db = b.to<sr::Cuda>(), dgy = grad_y.to<sr::Cuda>();
        auto dy = sr::Tensor<float, sr::Cuda>::empty(y_ref.shape());
        auto dgx = sr::Tensor<float, sr::Cuda>::empty(grad_x_ref.shape());
        auto dgw = sr::Tensor<float, sr::Cuda>::empty(grad_w_ref.shape());
        auto dgb = sr::Tensor<float, sr::Cuda>::empty(grad_b_ref.shape());
        const double flop = 2.0 * s.n * s.h * s.w * s.c * s.o * s.k * s.k;
        char shape_text[96];
        std::snprintf(shape_text, sizeof shape_text, "%lldx%lld %lld->%lld, %lld x %lldx%lld",
                      static_cast<long long>(s.k), static_cast<long long>(s.k), static_cast<long long>(s.c),
                      static_cast<long long>(s.o), static_cast<long long>(s.n), static_cast<long long>(s.h),
                      static_cast<long long>(s.w));

        std::vector<ConvPath> paths{ConvPath::cudnn};
        if (s.k == 1) paths.push_back(ConvPath::cublaslt);
        for (const ConvPath path : paths) {
            auto settings = sr::cuda::conv_settings();
            settings.path = path;
            settings.allow_tf32 = false;
            settings.deterministic = false;
            sr::cuda::set_conv_settings(settings);
            for (int pass = 0; pass < 3; ++pass) {
                auto run = [&] {
                    if (pass == 0)
                        sr::cuda::conv2d_forward(s, dx.data(), dw.data(), db.data(), dy.data(), false, false);
                    else if (pass == 1)
                        sr::cuda::conv2d_backward_data(s, dgy.data(), dw.data(), dgx.data());
                    else
                        sr::cuda::conv2d_backward_weights(s, dx.data(), dgy.data(), dgw.data(), dgb.data());
                };
                run();
                double error = 0;
                if (pass == 0) error = normalised_error(dy, y_ref);
                if (pass == 1) error = normalised_error(dgx, grad_x_ref);
                if (pass == 2) error = std::max(normalised_error(dgw, grad_w_ref), normalised_error(dgb, grad_b_ref));
                const bool ok = error <= tolerance;
                all_ok = all_ok && ok;
                const auto t = quick ? gpu::time_on_stream(run, 2, 5, 20, 0.05) : gpu::time_on_stream(run, 3, 10, 200, 0.3);
                const double gflops = flop / (t.median_ms * 1e-3) / 1e9;
                rows.push_back({shape_text, conv.layers, pass_name(pass), path == ConvPath::cudnn ? "cuDNN" : "cuBLASLt",
                                t.median_ms, gflops, error, ok});
                std::printf("%-34s %-16s %-8s %9.3f ms %9.1f GFLOP/s %5.1f%% of FP32 peak  error %.1e %s\n", shape_text,
                            pass_name(pass), rows.back().path.c_str(), t.median_ms, gflops,
                            100.0 * gflops * 1e9 / card.fp32_peak_flops, error, ok ? "ok" : "MISMATCH");
                std::fflush(stdout);
            }
        }
    }

    if (markdown) {
        std::printf("<!-- table -->\n");
        std::printf("Card: %s. Batch %lld x %lldx%lld, float, TF32 off; median of CUDA-event timed runs; error = "
                    "max|GPU - CPU| / max|CPU| (limit %.0e).\n\n",
                    gpu::describe(card).c_str(), static_cast<long long>(batch), static_cast<long long>(size),
                    static_cast<long long>(size), tolerance);
        std::printf("| shape | layers | pass | path | ms | GFLOP/s | %% FP32 peak | error |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n");
        for (const auto& r : rows)
            std::printf("| %s | %s | %s | %s | %.3f | %.0f | %.1f %% | %.1e%s |\n", r.shape.c_str(), r.layers.c_str(),
                        r.pass.c_str(), r.path.c_str(), r.ms, r.gflops, 100.0 * r.gflops * 1e9 / card.fp32_peak_flops,
                        r.error, r.ok ? "" : " **MISMATCH**");
    }
    if (!all_ok) {
        std::fprintf(stderr, "gpu_conv_bench: some GPU results differ from the CPU convolution by more than %.0e\n", tolerance);
        return 1;
    }
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "gpu_conv_bench: %s\n", e.what());
    return 1;
}
