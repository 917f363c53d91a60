// Training: an interrupted and resumed run reproduces an uninterrupted one bit for bit; the run
// directory holds what docs/training.md promises; scale transfer; clear errors for bad setups.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "sr/nn/finite_check.hpp"
#include "sr/train/trainer.hpp"
#include "test_support.hpp"
#include "train_test_support.hpp"

namespace test_train {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

namespace {
std::string read_text(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}
int count_files(const std::filesystem::path& dir, const std::string& prefix) {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        n += e.path().filename().string().rfind(prefix, 0) == 0;
    return n;
}
}  // namespace

TEST_CASE("an interrupted and resumed run reproduces an uninterrupted one exactly", "[train]") {
    sr::test::TempDir dir;
    sr::test::write_training_images(dir.path / "images", 8, 40);
    auto options = sr::test::tiny_training(dir.path / "images", dir.path / "runs");

    auto straight = sr::train::Trainer::start(options);
    CHECK(straight.run() == sr::train::Trainer::Outcome::finished);
    CHECK(straight.step() == 8);

    for (int stop_after : {3, 4}) {  // mid-epoch, and exactly at the end of the first epoch
        INFO("interrupted after step " << stop_after);
        int64_t seen = 0;
        sr::train::TrainerCallbacks callbacks;
        callbacks.on_step = [&](int64_t step, int64_t, double, double) { seen = step; };
        callbacks.stop_requested = [&] { return seen >= stop_after; };
        auto first = sr::train::Trainer::start(options, callbacks);
        CHECK(first.run() == sr::train::Trainer::Outcome::interrupted);
        CHECK(first.step() == stop_after);
        const auto run_dir = first.run_dir();
        CHECK(std::filesystem::exists(run_dir / "checkpoint" / "last.safetensors"));

        auto resumed = sr::train::Trainer::resume(run_dir);
        CHECK(resumed.run() == sr::train::Trainer::Outcome::finished);
        const auto a = straight.model().parameters(), b = resumed.model().parameters();
        REQUIRE(a.size() == b.size());
        for (std::size_t i = 0; i < a.size(); ++i) {
            INFO(a[i].name);
            CHECK(a[i].tensor.to_vector() == b[i].tensor.to_vector());
        }
        const std::string log = read_text(run_dir / "train.log");
        CHECK_THAT(log, Catch::Contains("interrupted at step " + std::to_string(stop_after)));
        CHECK_THAT(log, Catch::Contains("resumed at step " + std::to_string(stop_after)));
        CHECK(count_files(run_dir / "models", "epoch-002-psnr-") == 1);
    }
}

TEST_CASE("a run directory has args, log, events, models and a checkpoint", "[train]") {
    sr::test::TempDir dir;
    sr::test::write_training_images(dir.path / "images", 6, 32);
    auto options = sr::test::tiny_training(dir.path / "images", dir.path / "runs");
    options.save_best_models_only = true;
    auto trainer = sr::train::Trainer::start(options);
    trainer.run();
    const auto run = trainer.run_dir();
    const auto args = sr::train::options_from_json(nlohmann::json::parse(read_text(run / "args.json")), "args.json");
    CHECK(args.epochs == 2);
    CHECK(*args.num_filters == 8);
    CHECK(count_files(run / "logs", "events.out.tfevents.") == 1);
    CHECK(std::filesystem::file_size(std::filesystem::directory_iterator(run / "logs")->path()) > 100);
    CHECK(count_files(run / "models", "epoch-") >= 1);
    // Model files load as models with the run's metadata.
    for (const auto& e : std::filesystem::directory_iterator(run / "models")) {
        auto model = sr::models::load_model<float>(e.path());
        CHECK(model.config().num_filters == 8);
        CHECK(sr::models::read_model_metadata(e.path()).at("profile") == "wdsr-b-8");
    }
    CHECK_THAT(read_text(run / "train.log"), Catch::Contains("epoch 2/2 step 8"));
    REQUIRE(trainer.last_epoch());
    CHECK(std::isfinite(trainer.last_epoch()->psnr));
}

TEST_CASE("a pretrained model (scale transfer) seeds every parameter but the scale-specific ones", "[train]") {
    sr::test::TempDir dir;
    sr::test::write_training_images(dir.path / "images", 6, 48);
    auto options = sr::test::tiny_training(dir.path / "images", dir.path / "runs");
    options.epochs = 1;
    auto x2 = sr::train::Trainer::start(options);
    x2.run();
    const auto x2_model = x2.run_dir() / "x2.safetensors";
    sr::models::save_model(x2_model, x2.model());
    options.scale = 4;
    options.pretrained_model = x2_model.string();
    std::vector<std::string> messages;
    sr::train::TrainerCallbacks callbacks;
    callbacks.on_message = [&](const std::string& m) { messages.push_back(m); };
    auto x4 = sr::train::Trainer::start(options, callbacks);
    REQUIRE(messages.size() >= 2);
    CHECK_THAT(messages[1], Catch::Contains("freshly initialised 6 (tail.0.weight_g"));
    CHECK(sr::nn::find_parameter(x4.model().parameters(), "body.1.body.3.weight_v").to_vector() ==
          sr::nn::find_parameter(x2.model().parameters(), "body.1.body.3.weight_v").to_vector());
}

TEST_CASE("training setups that cannot work fail with a clear message", "[train]") {
    sr::test::TempDir dir;
    auto options = sr::test::tiny_training(dir.path / "missing", dir.path / "runs");
    CHECK_THROWS_WITH(sr::train::Trainer::start(options), Catch::Contains("missing") && Catch::Contains("no such folder"));
    sr::test::write_training_images(dir.path / "one", 1, 32);
    options.dataset = (dir.path / "one").string();
    CHECK_THROWS_WITH(sr::train::Trainer::start(options), Catch::Contains("too few"));
    sr::test::write_training_images(dir.path / "images", 4, 32);
    options.dataset = (dir.path / "images").string();
    options.downgrade = "unknown";
    CHECK_THROWS_WITH(sr::train::Trainer::start(options), Catch::Contains("unknown"));
    options.downgrade = "bicubic";
    options.profile = "srcnn";
    CHECK_THROWS_WITH(sr::train::Trainer::start(options), Catch::Contains("unknown profile 'srcnn'"));
    CHECK_THROWS_WITH(sr::train::Trainer::resume(dir.path / "images"), Catch::Contains("args.json"));
}

TEST_CASE("the device and its GPU settings are training options kept in args.json", "[train]") {
    sr::test::TempDir dir;
    auto options = sr::test::tiny_training(dir.path / "images", dir.path / "runs");
    options.device = "cuda:1";
    options.deterministic = true;
    options.tf32 = true;
    const auto back = sr::train::options_from_json(sr::train::to_json(options), "args.json");
    CHECK(back.device == "cuda:1");
    CHECK(back.deterministic);
    CHECK(back.tf32);
    // Runs written before these options existed read as the old behaviour.
    auto old = sr::train::to_json(options);
    old.erase("deterministic"), old.erase("tf32");
    CHECK_FALSE(sr::train::options_from_json(old, "args.json").deterministic);

    options.device = "gpu0";
    CHECK_THROWS_WITH(options.validate(), Catch::Contains("--device gpu0") && Catch::Contains("cpu or cuda:N"));
    if (!sr::test::gpu_available()) {
        // No run directory is created for a device that cannot be used.
        sr::test::write_training_images(dir.path / "images", 4, 32);
        options.device = "cuda:0";
        CHECK_THROWS_WITH(sr::train::Trainer::start(options), Catch::Contains("--device cuda:0") && Catch::Contains("use --device cpu"));
        CHECK_FALSE(std::filesystem::exists(dir.path / "runs"));
    }
}

TEST_CASE("the CPU precision is a training option kept in args.json, changed by resume only when asked", "[train]") {
    sr::test::TempDir dir;
    auto options = sr::test::tiny_training(dir.path / "images", dir.path / "runs");
    // Older runs have no "precision": fp32, as they trained.
    auto old = sr::train::to_json(options);
    old.erase("precision");
    CHECK(sr::train::options_from_json(old, "args.json").precision == "fp32");
    options.precision = "fp16";
    CHECK_THROWS_WITH(options.validate(), Catch::Contains("precision 'fp16'") && Catch::Contains("fp32 or bf16"));
    options.precision = "bf16";
    options.device = "cuda:0";
    CHECK_THROWS_WITH(options.validate(), Catch::Contains("--precision bf16 is for training on the CPU"));
    options.device = "cpu";
    if (!sr::cpu_supports_bf16()) {
        CHECK_THROWS_WITH(options.validate(), Catch::Contains("neither AMX-BF16 nor AVX512-BF16"));
        SR_SKIP("this CPU has neither AMX-BF16 nor AVX512-BF16: bf16 training cannot run here");
    }
    struct RestorePrecision {
        sr::Precision previous = sr::cpu_precision();
        ~RestorePrecision() { sr::set_cpu_precision(previous); }
    } restore;
    sr::test::write_training_images(dir.path / "images", 8, 40);
    options.epochs = 1;
    std::filesystem::path run;
    {
        auto trainer = sr::train::Trainer::start(options);
        CHECK(sr::cpu_precision() == sr::Precision::bf16);
        REQUIRE(trainer.run() == sr::train::Trainer::Outcome::finished);
        run = trainer.run_dir();
    }
    CHECK(nlohmann::json::parse(read_text(run / "args.json")).at("precision") == "bf16");
    CHECK(read_text(run / "train.log").find("bf16 convolutions") != std::string::npos);
    sr::set_cpu_precision(sr::Precision::fp32);
    {
        // Resumed as it was started: bf16 again, though this process had set fp32.
        auto trainer = sr::train::Trainer::resume(run, 2);
        CHECK(sr::cpu_precision() == sr::Precision::bf16);
        CHECK(trainer.options().precision == "bf16");
    }
    {
        auto trainer = sr::train::Trainer::resume(run, 2, {}, "", {}, "fp32");
        CHECK(sr::cpu_precision() == sr::Precision::fp32);
        REQUIRE(trainer.run() == sr::train::Trainer::Outcome::finished);
        CHECK(trainer.step() == 2 * options.steps_per_epoch);
    }
    CHECK(nlohmann::json::parse(read_text(run / "args.json")).at("precision") == "fp32");
}

TEST_CASE("data too few or too small for the patch is refused before the first step, naming file and sizes", "[train]") {
    sr::test::TempDir dir;
    auto options = sr::test::tiny_training(dir.path / "small", dir.path / "runs");
    // 12x12 images at x2 with an 8-pixel LR patch: the HR patch is 16x16.
    sr::test::write_training_images(dir.path / "small", 6, 12);
    CHECK_THROWS_WITH(sr::train::Trainer::start(options),
                      Catch::Contains("small") && Catch::Contains("no image holds the 16x16 HR patch (--lr-patch-size 8 x scale 2)") &&
                          Catch::Contains("is 12x12"));
    // Refused before a run existed: no run directory is left behind.
    CHECK(std::filesystem::is_empty(dir.path / "runs"));

    // Some training images too small: they are left out, and the log says which.
    sr::test::write_training_images(dir.path / "mixed", 6, 32);
    sr::test::write_training_images(dir.path / "mixed_small", 1, 12);
    std::filesystem::rename(dir.path / "mixed_small" / "image_0.png", dir.path / "mixed" / "image_00.png");
    options.dataset = (dir.path / "mixed").string();
    std::vector<std::string> messages;
    sr::train::TrainerCallbacks callbacks;
    callbacks.on_message = [&](const std::string& m) { messages.push_back(m); };
    auto trainer = sr::train::Trainer::start(options, callbacks);
    REQUIRE_FALSE(messages.empty());
    CHECK_THAT(messages.front(), Catch::Contains("1 of 6 images are smaller than the 16x16 HR patch") &&
                                     Catch::Contains("image_00 (12x12)"));

    // A validation image smaller than the patch would fail only at the first epoch's end.
    sr::test::write_training_images(dir.path / "valid_small", 1, 12);
    options = sr::test::tiny_training(dir.path / "images", dir.path / "runs2");
    sr::test::write_training_images(dir.path / "images", 4, 32);
    options.validation_dataset = (dir.path / "valid_small").string();
    CHECK_THROWS_WITH(sr::train::Trainer::start(options),
                      Catch::Contains("valid_small") && Catch::Contains("image_0 is 12x12, smaller than the 16x16 HR patch"));
    options.benchmark = true;  // full-image validation takes any size
    CHECK_NOTHROW(sr::train::Trainer::start(options));

    // Too few: a validation folder without images is named.
    std::filesystem::create_directories(dir.path / "empty_valid");
    options = sr::test::tiny_training(dir.path / "images", dir.path / "runs3");
    options.validation_dataset = (dir.path / "empty_valid").string();
    CHECK_THROWS_WITH(sr::train::Trainer::start(options), Catch::Contains("empty_valid"));
}

TEST_CASE("the finite check names the first parameter with a NaN or infinite gradient or value", "[train]") {
    using sr::Tensor;
    sr::nn::ParameterList<float, sr::Cpu> parameters;
    for (const char* name : {"head.weight", "body.0.weight", "tail.bias"}) {
        auto t = Tensor<float>::full({300, 300}, 0.5f);  // large enough to be split across threads
        t.set_requires_grad(true);
        parameters.push_back({name, t});
    }
    CHECK_FALSE(sr::nn::first_non_finite_gradient(parameters));  // no gradients yet
    for (auto& p : parameters) p.tensor.accumulate_grad(Tensor<float>::full(p.tensor.shape(), 1.f));
    CHECK_FALSE(sr::nn::first_non_finite_gradient(parameters));
    CHECK_FALSE(sr::nn::first_non_finite_value(parameters));
    // Extremes that are finite: the largest float, the smallest denormal, negative zero.
    float* g1 = parameters[1].tensor.grad().data();
    g1[0] = 3.4028235e38f, g1[1] = -3.4028235e38f, g1[2] = 1e-45f, g1[3] = -0.f;
    CHECK_FALSE(sr::nn::first_non_finite_gradient(parameters));
    g1[89999] = -std::numeric_limits<float>::infinity();  // the last element
    CHECK(sr::nn::first_non_finite_gradient(parameters) == "body.0.weight");
    parameters[2].tensor.grad().data()[45000] = std::nanf("");
    CHECK(sr::nn::first_non_finite_gradient(parameters) == "body.0.weight");  // the first in order
    g1[89999] = 0.f;
    CHECK(sr::nn::first_non_finite_gradient(parameters) == "tail.bias");
    parameters[0].tensor.data()[7] = std::numeric_limits<float>::infinity();
    CHECK(sr::nn::first_non_finite_value(parameters) == "head.weight");
}

}  // namespace test_train
