// Whole models, training, inference and the tools on a CUDA device, each against the CPU (or the
// PyTorch golden data) as the independent reference: EDSR, WDSR-A and WDSR-B forward; one
// training step (loss, every parameter gradient, the Adam update); golden parity; tiled ==
// whole-image inference; an interrupted and resumed deterministic run == an uninterrupted one;
// sr-infer, sr-eval and sr-train with -g/--device cuda:0.
//
// Tolerances, and why. cuDNN and cuBLAS sum the products of a convolution in another order (and
// with other algorithms: implicit GEMM, Winograd, FFT) than our CPU kernels, in float without TF32
// (the default), so each convolution differs by a few 1e-7 relative, up to ~1e-5 for Winograd/FFT.
// Through a whole network of 5-20 convolutions that stays below 1e-4 of the output's largest value;
// gradients pass the network twice and the L1 sign, so 1e-3 of each gradient's largest value.
// Layout, channel-order and weight-norm-axis bugs give errors of order 1, far above either.
#include <catch2/catch.hpp>

#include "sr/config.hpp"
#include "test_support.hpp"

#if SR_WITH_CUDA

#include <cmath>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "sr/autograd/backward.hpp"
#include "sr/cuda/conv2d.hpp"
#include "sr/data/bicubic.hpp"
#include "sr/infer/upscaler.hpp"
#include "sr/io/image.hpp"
#include "sr/models/model_file.hpp"
#include "sr/models/profiles.hpp"
#include "sr/ops/loss.hpp"
#include "sr/optim/adam.hpp"
#include "sr/train/checkpoint.hpp"
#include "sr/train/trainer.hpp"
#include "train_test_support.hpp"

namespace test_cuda_models {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

namespace {

namespace fs = std::filesystem;
using sr::Cpu;
using sr::Cuda;
using sr::Tensor;

constexpr double k_forward_tolerance = 1e-4;
constexpr double k_grad_tolerance = 1e-3;

sr::models::AnyModel<float> small_model(const char* profile, int scale, int64_t filters = 8, int64_t blocks = 2,
                                        uint64_t seed = 11) {
    sr::models::ProfileOverrides o;
    o.num_blocks = blocks;
    o.num_filters = filters;
    sr::Rng rng(seed);
    return sr::models::AnyModel<float>(sr::models::make_config(profile, scale, o), rng);
}

Tensor<float> random_image(int64_t n, int64_t h, int64_t w, uint64_t seed) {
    sr::Rng rng(seed);
    auto t = Tensor<float>::empty({n, h, w, 3});
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(std::floor(rng.uniform(0, 256)));
    return t;
}

template <class T>
Tensor<float> host(const Tensor<float, T>& t) {
    return t.template to<Cpu>();
}

double max_abs_diff(const Tensor<float>& a, const Tensor<float>& b) {
    REQUIRE(a.shape() == b.shape());
    const auto ac = a.contiguous(), bc = b.contiguous();
    double d = 0;
    for (int64_t i = 0; i < ac.numel(); ++i) {
        const double diff = std::abs(double(ac.data()[i]) - double(bc.data()[i]));
        if (!(diff <= d)) d = std::isnan(diff) ? std::numeric_limits<double>::infinity() : diff;  // NaN is a failure, not 0
    }
    return d;
}

const char* k_profiles[] = {"edsr-8", "wdsr-a-8", "wdsr-b-8"};

}  // namespace

TEST_CASE("cuda models: EDSR, WDSR-A and WDSR-B forward on the GPU match the CPU", "[cuda][models]") {
    SR_REQUIRE_GPU();
    for (const char* profile : k_profiles)
        for (int scale : {2, 3, 4}) {
            INFO(profile << " x" << scale);
            const auto cpu_model = small_model(profile, scale);
            const auto gpu_model = cpu_model.to<Cuda>();
            const auto lr = random_image(2, 13, 17, 5);
            const auto expected = cpu_model(lr);
            const auto actual = host(gpu_model(lr.to<Cuda>()));
            CHECK(sr::test::normalized_max_error(actual, expected) < k_forward_tolerance);

            // Inference: weight norm folded, no recording (bias and ReLU fused into the convolutions).
            sr::NoGradGuard no_grad;
            const auto folded_expected = cpu_model.fold_weight_norm()(lr);
            const auto folded_actual = host(gpu_model.fold_weight_norm()(lr.to<Cuda>()));
            CHECK(sr::test::normalized_max_error(folded_actual, folded_expected) < k_forward_tolerance);
        }
}

TEST_CASE("cuda models: one training step (loss, every gradient, the Adam update) matches the CPU", "[cuda][models][train]") {
    SR_REQUIRE_GPU();
    for (const char* profile : k_profiles) {
        INFO(profile);
        const auto cpu_model = small_model(profile, 2, 8, 2, 21);
        const auto gpu_model = cpu_model.to<Cuda>();
        const auto cpu_params = cpu_model.parameters();
        const auto gpu_params = gpu_model.parameters();
        REQUIRE(cpu_params.size() == gpu_params.size());
        std::vector<Tensor<float>> before;
        for (const auto& p : cpu_params) before.push_back(p.tensor.clone());

        const auto lr = random_image(3, 12, 12, 6), hr = random_image(3, 24, 24, 7);
        const double learning_rate = 1e-3;
        sr::optim::Adam<float, Cpu> cpu_adam(cpu_params, {learning_rate});
        sr::optim::Adam<float, Cuda> gpu_adam(gpu_params, {learning_rate});

        auto cpu_loss = sr::l1_loss(cpu_model(lr), hr);
        auto gpu_loss = sr::l1_loss(gpu_model(lr.to<Cuda>()), hr.to<Cuda>());
        CHECK(double(gpu_loss.item()) == Approx(double(cpu_loss.item())).epsilon(k_forward_tolerance));
        cpu_loss.backward();
        gpu_loss.backward();
        for (std::size_t i = 0; i < cpu_params.size(); ++i) {
            INFO(cpu_params[i].name);
            REQUIRE(cpu_params[i].name == gpu_params[i].name);
            REQUIRE(gpu_params[i].tensor.grad().defined());
            CHECK(sr::test::normalized_max_error(host(gpu_params[i].tensor.grad()), cpu_params[i].tensor.grad()) <
                  k_grad_tolerance);
        }

        cpu_adam.step();
        gpu_adam.step();
        // The first Adam step moves each weight by about lr * g / |g|: +-lr wherever the gradient is
        // clearly non-zero, so the updates are compared there (where a gradient is within rounding
        // of zero its sign, and so the step's direction, is rounding too). The moments are compared
        // everywhere.
        for (std::size_t i = 0; i < cpu_params.size(); ++i) {
            INFO(cpu_params[i].name);
            const auto g = cpu_params[i].tensor.grad().contiguous();
            const auto cpu_after = cpu_params[i].tensor.contiguous();
            const auto gpu_after = host(gpu_params[i].tensor);
            double g_max = 0;
            for (int64_t k = 0; k < g.numel(); ++k) g_max = std::max(g_max, double(std::abs(g.data()[k])));
            int64_t compared = 0;
            double worst = 0;
            for (int64_t k = 0; k < g.numel(); ++k) {
                if (std::abs(g.data()[k]) <= 1e-2 * g_max) continue;
                const double cpu_step = double(cpu_after.data()[k]) - double(before[i].data()[k]);
                const double gpu_step = double(gpu_after.data()[k]) - double(before[i].data()[k]);
                worst = std::max(worst, std::abs(cpu_step - gpu_step));
                ++compared;
            }
            CHECK(compared > 0);
            // Float rounding of weights of magnitude <= ~1 is ~1e-7, the step itself is 1e-3.
            CHECK(worst < 1e-2 * learning_rate);
            const auto cpu_state = cpu_adam.state();
            const auto gpu_state = gpu_adam.state();
            CHECK(sr::test::normalized_max_error(host(gpu_state[2 * i].tensor), cpu_state[2 * i].tensor) < k_grad_tolerance);
            CHECK(sr::test::normalized_max_error(host(gpu_state[2 * i + 1].tensor), cpu_state[2 * i + 1].tensor) <
                  2 * k_grad_tolerance);  // g^2: twice the relative error of g
        }
    }
}

TEST_CASE("cuda models: golden parity with PyTorch on the GPU", "[cuda][golden]") {
    SR_REQUIRE_GPU();
    for (const char* arch : {"edsr", "wdsr-a", "wdsr-b"})
        for (int scale : {2, 3, 4}) {
            const std::string stem = std::string(arch) + "-x" + std::to_string(scale);
            INFO(stem);
            const fs::path path = fs::path(SR_SOURCE_DIR) / "tests" / "golden" / "models" / (stem + ".safetensors");
            const auto file = sr::io::read_safetensors(path);
            const auto model = sr::models::load_model<float, Cuda>(path);
            const auto input = file.tensor_f32("golden.input").to<Cuda>();
            const auto target = file.tensor_f32("golden.target").to<Cuda>();
            const auto output = model(input);
            CHECK(sr::test::normalized_max_error(host(output), file.tensor<double>("golden.output")) < k_forward_tolerance);
            auto loss = sr::l1_loss(output, target);
            CHECK(double(loss.item()) == Approx(file.tensor<double>("golden.loss").item()).epsilon(k_forward_tolerance));
            loss.backward();
            for (const auto& p : model.parameters()) {
                INFO(p.name);
                REQUIRE(p.tensor.grad().defined());
                CHECK(sr::test::normalized_max_error(host(p.tensor.grad()), file.tensor<double>("golden.grad." + p.name)) <
                      k_grad_tolerance);
            }
        }
}

TEST_CASE("cuda models: model files and training states round-trip through the device", "[cuda][models]") {
    SR_REQUIRE_GPU();
    sr::test::TempDir dir;
    const auto cpu_model = small_model("wdsr-b-8", 3);
    sr::models::save_model(dir.path / "m.safetensors", cpu_model);
    const auto gpu_model = sr::models::load_model<float, Cuda>(dir.path / "m.safetensors");
    sr::models::save_model(dir.path / "again.safetensors", gpu_model);  // written from the device
    const auto back = sr::models::load_model<float>(dir.path / "again.safetensors");
    const auto a = cpu_model.parameters(), b = back.parameters();
    const auto g = gpu_model.parameters();
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        INFO(a[i].name);
        CHECK(a[i].tensor.to_vector() == b[i].tensor.to_vector());
        CHECK(g[i].tensor.device_index() == sr::cuda::current_device());
    }

    // Weights and Adam moments written from the device and read back onto it, exactly.
    sr::optim::Adam<float, Cuda> adam(gpu_model.parameters(), {1e-3});
    auto loss = sr::l1_loss(gpu_model(random_image(2, 10, 10, 3).to<Cuda>()), random_image(2, 30, 30, 4).to<Cuda>());
    loss.backward();
    adam.step();
    sr::train::TrainingState state;
    state.step = 1;
    sr::train::save_training_state(dir.path / "state.safetensors", gpu_model, adam, state);
    const auto fresh = small_model("wdsr-b-8", 3, 8, 2, 99).to<Cuda>();
    sr::optim::Adam<float, Cuda> fresh_adam(fresh.parameters(), {1e-3});
    CHECK(sr::train::load_training_state(dir.path / "state.safetensors", fresh, fresh_adam).step == 1);
    CHECK(fresh_adam.step_count() == 1);
    const auto p1 = gpu_model.parameters(), p2 = fresh.parameters();
    for (std::size_t i = 0; i < p1.size(); ++i) CHECK(host(p1[i].tensor).to_vector() == host(p2[i].tensor).to_vector());
    const auto s1 = adam.state(), s2 = fresh_adam.state();
    for (std::size_t i = 0; i < s1.size(); ++i) CHECK(host(s1[i].tensor).to_vector() == host(s2[i].tensor).to_vector());
}

TEST_CASE("cuda models: tiled inference equals whole-image inference on the GPU, and the CPU", "[cuda][infer]") {
    SR_REQUIRE_GPU();
    for (const char* profile : k_profiles) {
        INFO(profile);
        const auto model = small_model(profile, 2, 8, 3);
        const sr::infer::Upscaler gpu(model, sr::DeviceChoice{true, 0});
        const sr::infer::Upscaler cpu(model);
        const auto lr = random_image(1, 37, 29, 8);
        for (bool ensemble : {false, true}) {
            INFO("ensemble " << ensemble);
            sr::infer::UpscaleOptions whole_options, tiled_options;
            whole_options.tile = -1, whole_options.ensemble = ensemble;
            tiled_options.tile = 8, tiled_options.ensemble = ensemble;
            const auto whole = gpu.upscale(lr, whole_options);
            const auto tiled = gpu.upscale(lr, tiled_options);
            // Every kept pixel sees exactly the whole-image inputs; only the algorithm cuDNN picks
            // for a tile's shape may differ from the whole image's: float rounding of pixel values
            // up to 255, well below 1e-2.
            CHECK(max_abs_diff(tiled, whole) < 1e-2);
            CHECK(sr::test::normalized_max_error(whole, cpu.upscale(lr, whole_options)) < k_forward_tolerance);
        }
        // Images: the GPU's 8-bit result differs from the CPU's at most by one level where rounding
        // lands on the other side of .5.
        sr::io::Image image(21, 19, 3, 8);
        sr::Rng rng(2);
        for (int y = 0; y < 21; ++y)
            for (int x = 0; x < 19; ++x)
                for (int c = 0; c < 3; ++c) image.set(y, x, c, static_cast<int>(rng.below(256)));
        const auto a = gpu.upscale(image), b = cpu.upscale(image);
        REQUIRE(a.sample_count() == b.sample_count());
        int64_t differing = 0;
        for (std::size_t i = 0; i < a.sample_count(); ++i) {
            const int d = std::abs(int(a.data8()[i]) - int(b.data8()[i]));
            CHECK(d <= 1);
            differing += d != 0;
        }
        CHECK(differing <= static_cast<int64_t>(a.sample_count() / 100));
    }
}

TEST_CASE("cuda models: a resumed deterministic GPU run reproduces an uninterrupted one exactly", "[cuda][train]") {
    SR_REQUIRE_GPU();
    sr::test::TempDir dir;
    sr::test::write_training_images(dir.path / "images", 8, 40);
    auto options = sr::test::tiny_training(dir.path / "images", dir.path / "runs");
    options.device = "cuda:0";
    options.deterministic = true;

    auto straight = sr::train::Trainer::start(options);
    CHECK(straight.run() == sr::train::Trainer::Outcome::finished);
    CHECK(straight.step() == 8);
    REQUIRE(straight.last_epoch());
    CHECK(std::isfinite(straight.last_epoch()->psnr));

    for (int stop_after : {3, 4}) {  // mid-epoch, and exactly at the end of the first epoch
        INFO("interrupted after step " << stop_after);
        int64_t seen = 0;
        sr::train::TrainerCallbacks callbacks;
        callbacks.on_step = [&](int64_t step, int64_t, double, double) { seen = step; };
        callbacks.stop_requested = [&] { return seen >= stop_after; };
        auto first = sr::train::Trainer::start(options, callbacks);
        CHECK(first.run() == sr::train::Trainer::Outcome::interrupted);
        CHECK(first.step() == stop_after);
        auto resumed = sr::train::Trainer::resume(first.run_dir());
        CHECK(resumed.run() == sr::train::Trainer::Outcome::finished);
        const auto a = straight.model().parameters(), b = resumed.model().parameters();
        REQUIRE(a.size() == b.size());
        for (std::size_t i = 0; i < a.size(); ++i) {
            INFO(a[i].name);
            CHECK(a[i].tensor.to_vector() == b[i].tensor.to_vector());
        }
        std::ifstream args(first.run_dir() / "args.json");
        const auto j = nlohmann::json::parse(args);
        CHECK(j.at("device") == "cuda:0");
        CHECK(j.at("deterministic") == true);
    }
    sr::cuda::set_conv_settings({});  // the trainer set them process-wide
}

TEST_CASE("cuda models: a run interrupted on the GPU continues on the CPU from its checkpoint", "[cuda][train]") {
    SR_REQUIRE_GPU();
    sr::test::TempDir dir;
    sr::test::write_training_images(dir.path / "images", 8, 40);
    auto options = sr::test::tiny_training(dir.path / "images", dir.path / "runs");
    options.device = "cuda:0";
    int64_t seen = 0;
    sr::train::TrainerCallbacks callbacks;
    callbacks.on_step = [&](int64_t step, int64_t, double, double) { seen = step; };
    callbacks.stop_requested = [&] { return seen >= 3; };
    auto first = sr::train::Trainer::start(options, callbacks);
    REQUIRE(first.run() == sr::train::Trainer::Outcome::interrupted);
    const auto at_stop = first.model().parameters();  // downloaded from the device

    auto resumed = sr::train::Trainer::resume(first.run_dir(), 0, {}, "cpu");
    // The checkpoint read onto the CPU holds exactly the weights the GPU had.
    const auto loaded = resumed.model().parameters();
    REQUIRE(loaded.size() == at_stop.size());
    for (std::size_t i = 0; i < loaded.size(); ++i) CHECK(loaded[i].tensor.to_vector() == at_stop[i].tensor.to_vector());
    CHECK(resumed.run() == sr::train::Trainer::Outcome::finished);
    CHECK(resumed.step() == 8);
    std::ifstream args(first.run_dir() / "args.json");
    CHECK(nlohmann::json::parse(args).at("device") == "cpu");
}

TEST_CASE("cuda models: training on the GPU tracks training on the CPU", "[cuda][train]") {
    SR_REQUIRE_GPU();
    sr::test::TempDir dir;
    sr::test::write_training_images(dir.path / "images", 8, 40);
    auto options = sr::test::tiny_training(dir.path / "images", dir.path / "runs");
    options.epochs = 1;
    auto cpu = sr::train::Trainer::start(options);
    REQUIRE(cpu.run() == sr::train::Trainer::Outcome::finished);
    options.device = "cuda:0";
    auto gpu = sr::train::Trainer::start(options);
    REQUIRE(gpu.run() == sr::train::Trainer::Outcome::finished);
    // Same initial weights and batches; four Adam steps of at most lr = 1e-3 each, so the weights
    // agree to well within the total movement (4e-3) unless a gradient sign near zero differs.
    const auto a = cpu.model().parameters(), b = gpu.model().parameters();
    for (std::size_t i = 0; i < a.size(); ++i) {
        INFO(a[i].name);
        CHECK(max_abs_diff(b[i].tensor, a[i].tensor) <= 8e-3);
    }
    CHECK(gpu.last_epoch()->psnr == Approx(cpu.last_epoch()->psnr).margin(0.05));
}

TEST_CASE("cuda models: sr-infer, sr-eval and sr-train run on cuda:0", "[cuda][tools]") {
    SR_REQUIRE_GPU();
    sr::test::TempDir dir;
    const std::string tools = SR_TOOLS_DIR;
    auto q = [](const fs::path& p) { return "'" + p.string() + "'"; };
    const auto model_path = dir.path / "tiny.safetensors";
    sr::models::save_model(model_path, small_model("wdsr-b-8", 2));
    fs::create_directories(dir.path / "set" / "HR");
    fs::create_directories(dir.path / "set" / "LR_bicubic" / "X2");
    for (int i = 0; i < 3; ++i) {
        sr::io::Image hr(30 + 2 * i, 26, 3, 8);
        sr::Rng rng(40 + i);
        for (int y = 0; y < hr.height(); ++y)
            for (int x = 0; x < hr.width(); ++x)
                for (int c = 0; c < 3; ++c) hr.set(y, x, c, static_cast<int>(rng.below(256)));
        const std::string name = "img" + std::to_string(i) + ".png";
        sr::io::write_image(dir.path / "set" / "HR" / name, hr);
        sr::io::write_image(dir.path / "set" / "LR_bicubic" / "X2" / name, sr::data::bicubic_downscale(hr, 2));
    }
    const auto lr_image = dir.path / "set" / "LR_bicubic" / "X2" / "img0.png";

    auto r = sr::test::run_command(tools + "/sr-infer -v -g cuda:0 -t 8 -m " + q(model_path) + " -i " + q(lr_image) +
                                   " -o " + q(dir.path / "gpu.png"));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.output, Catch::Contains("cuda:0") && Catch::Contains("peak device memory"));
    r = sr::test::run_command(tools + "/sr-infer -g cpu -m " + q(model_path) + " -i " + q(lr_image) + " -o " +
                              q(dir.path / "cpu.png"));
    REQUIRE(r.exit_code == 0);
    const auto gpu_out = sr::io::read_image(dir.path / "gpu.png"), cpu_out = sr::io::read_image(dir.path / "cpu.png");
    REQUIRE(gpu_out.sample_count() == cpu_out.sample_count());
    for (std::size_t i = 0; i < gpu_out.sample_count(); ++i)
        CHECK(std::abs(int(gpu_out.data8()[i]) - int(cpu_out.data8()[i])) <= 1);

    auto eval = [&](const std::string& device) {
        const auto json = dir.path / ("eval-" + device.substr(0, 3) + ".json");
        const auto e = sr::test::run_command(tools + "/sr-eval -v -g " + device + " -m " + q(model_path) + " -d " +
                                             q(dir.path / "set") + " --json " + q(json));
        INFO(e.output);
        REQUIRE(e.exit_code == 0);
        std::ifstream in(json);
        return nlohmann::json::parse(in).at(model_path.string()).at("psnr").get<double>();
    };
    CHECK(eval("cuda:0") == Approx(eval("cpu")).margin(1e-3));

    r = sr::test::run_command(tools + "/sr-train --profile wdsr-b-8 --num-filters 8 --num-res-blocks 2 --scale 2 "
                                      "--dataset " + q(dir.path / "set") + " --epochs 1 --steps-per-epoch 4 "
                                      "--batch-size 2 --lr-patch-size 8 --validation-steps 1 --device cuda:0 "
                                      "--deterministic -q --outdir " + q(dir.path / "runs"));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.output, Catch::Contains("cuda:0") && Catch::Contains("peak device memory"));
}

}  // namespace test_cuda_models
#else

TEST_CASE("cuda models", "[cuda]") { SR_SKIP("sr was built without CUDA (SR_WITH_CUDA=OFF or no nvcc)"); }

#endif
