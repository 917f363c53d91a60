// End-to-end runs of the tools on tiny models and images, including their error paths: missing
// file, corrupt image, wrong model file, a scale that does not match the model, an unwritable
// output directory; and sr-train interrupted with Ctrl-C (SIGINT), then resumed, ending with the
// same weights as an uninterrupted run.
#include <catch2/catch.hpp>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "sr/data/bicubic.hpp"
#include "sr/io/image.hpp"
#include "sr/io/safetensors.hpp"
#include "sr/models/model_file.hpp"
#include "sr/models/profiles.hpp"
#include "test_support.hpp"
#include "train_test_support.hpp"

extern char** environ;

namespace test_tools {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

namespace {

namespace fs = std::filesystem;

std::string tool(const char* name) { return std::string(SR_TOOLS_DIR) + "/" + name; }

sr::test::CommandResult run(const std::string& command) { return sr::test::run_command(command); }

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

// A tiny WDSR-B x2 model file.
fs::path tiny_model(const fs::path& dir, int scale = 2) {
    sr::models::ProfileOverrides o;
    o.num_filters = 8, o.num_blocks = 2;
    sr::Rng rng(3);
    sr::models::AnyModel<float> model(sr::models::make_config("wdsr-b-8", scale, o), rng);
    const fs::path path = dir / ("tiny-x" + std::to_string(scale) + ".safetensors");
    sr::models::save_model(path, model);
    return path;
}

sr::io::Image test_image(int h, int w, int channels, int depth = 8) {
    sr::io::Image image(h, w, channels, depth);
    sr::Rng rng(4);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int c = 0; c < channels; ++c) image.set(y, x, c, static_cast<int>(rng.below(depth == 8 ? 256 : 65536)));
    return image;
}

std::string read_text(const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("sr-infer upscales files and folders and keeps layouts", "[tools]") {
    sr::test::TempDir dir;
    const auto model = tiny_model(dir.path);
    fs::create_directories(dir.path / "in" / "sub");
    sr::io::write_image(dir.path / "in" / "rgb.png", test_image(20, 30, 3));
    sr::io::write_image(dir.path / "in" / "rgba.png", test_image(12, 9, 4));
    sr::io::write_image(dir.path / "in" / "gray16.png", test_image(10, 11, 1, 16));
    sr::io::write_image(dir.path / "in" / "sub" / "photo.jpg", test_image(16, 16, 3));

    // One file to one file, with a comparison figure.
    auto r = run(tool("sr-infer") + " -i " + q(dir.path / "in" / "rgb.png") + " -o " + q(dir.path / "out.png") + " -m " +
                 q(model) + " --compare none -t 8");
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.output, Catch::Contains("1 upscaled") && Catch::Contains("Mpixel/s"));
    const auto out = sr::io::read_image(dir.path / "out.png");
    CHECK(out.height() == 40);
    CHECK(out.width() == 60);
    CHECK(sr::io::read_image(dir.path / "out-compare.png").width() == 3 * 60 + 2 * 8);

    // A folder, recursively, formats kept; then again: everything is skipped.
    const std::string folder = tool("sr-infer") + " -i " + q(dir.path / "in") + " -o " + q(dir.path / "outdir") +
                               " -m " + q(model) + " -r";
    r = run(folder);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.output, Catch::Contains("4 upscaled, 0 skipped, 0 failed"));
    const auto rgba = sr::io::read_image(dir.path / "outdir" / "rgba.png");
    CHECK(rgba.channels() == 4);
    CHECK(rgba.height() == 24);
    const auto gray16 = sr::io::read_image(dir.path / "outdir" / "gray16.png");
    CHECK(gray16.channels() == 1);
    CHECK(gray16.bit_depth() == 16);
    CHECK(sr::io::read_image(dir.path / "outdir" / "sub" / "photo.jpg").width() == 32);
    r = run(folder);
    CHECK_THAT(r.output, Catch::Contains("0 upscaled, 4 skipped"));
    r = run(folder + " --overwrite -f bmp");
    CHECK(r.exit_code == 0);
    CHECK(fs::exists(dir.path / "outdir" / "rgb.bmp"));
}

TEST_CASE("sr-infer fails with one line and no output for every kind of bad input", "[tools]") {
    sr::test::TempDir dir;
    const auto model = tiny_model(dir.path);
    sr::io::write_image(dir.path / "ok.png", test_image(8, 8, 3));
    const std::string base = tool("sr-infer") + " -m " + q(model);
    auto expect_failure = [&](const std::string& command, const std::string& message, const fs::path& output) {
        const auto r = run(command);
        INFO(command << "\n" << r.output);
        CHECK(r.exit_code != 0);
        CHECK_THAT(r.output, Catch::Contains(message));
        CHECK(std::count(r.output.begin(), r.output.end(), '\n') <= 2);  // the error (+ summary line)
        CHECK_FALSE(fs::exists(output));
    };
    expect_failure(base + " -i " + q(dir.path / "missing.png") + " -o " + q(dir.path / "o1.png"), "missing.png: no such",
                   dir.path / "o1.png");
    {
        std::ofstream corrupt(dir.path / "corrupt.png", std::ios::binary);
        corrupt << "\x89PNG\r\n\x1a\n" << std::string(40, 'x');
    }
    expect_failure(base + " -i " + q(dir.path / "corrupt.png") + " -o " + q(dir.path / "o2.png"), "corrupt.png",
                   dir.path / "o2.png");
    expect_failure(tool("sr-infer") + " -m " + q(dir.path / "ok.png") + " -i " + q(dir.path / "ok.png") + " -o " +
                       q(dir.path / "o3.png"),
                   "ok.png", dir.path / "o3.png");
    expect_failure(base + " -s 4 -i " + q(dir.path / "ok.png") + " -o " + q(dir.path / "o4.png"), "upscales x2, not x4",
                   dir.path / "o4.png");
    // A regular file where the output's directory should be: cannot be created.
    { std::ofstream(dir.path / "blocker") << "x"; }
    expect_failure(base + " -i " + q(dir.path / "ok.png") + " -o " + q(dir.path / "blocker" / "out.png"), "blocker",
                   dir.path / "blocker" / "out.png");
    if (!sr::test::gpu_available())  // with a GPU, -g cuda:0 works (test_cuda_models.cpp)
        expect_failure(base + " -g cuda:0 -i " + q(dir.path / "ok.png") + " -o " + q(dir.path / "o5.png"), "use -g cpu",
                       dir.path / "o5.png");
    // A folder with one bad image: the others are written, the exit status says something failed.
    fs::create_directories(dir.path / "mixed");
    fs::copy_file(dir.path / "ok.png", dir.path / "mixed" / "a.png");
    fs::copy_file(dir.path / "corrupt.png", dir.path / "mixed" / "b.png");
    const auto r = run(base + " -i " + q(dir.path / "mixed") + " -o " + q(dir.path / "mixed_out"));
    CHECK(r.exit_code == 1);
    CHECK(fs::exists(dir.path / "mixed_out" / "a.png"));
    CHECK_FALSE(fs::exists(dir.path / "mixed_out" / "b.png"));
    CHECK_THAT(r.output, Catch::Contains("1 upscaled, 0 skipped, 1 failed"));
}

TEST_CASE("sr-eval scores models against bicubic and writes JSON and CSV", "[tools]") {
    sr::test::TempDir dir;
    const auto model = tiny_model(dir.path);
    fs::create_directories(dir.path / "set" / "HR");
    fs::create_directories(dir.path / "set" / "LR_bicubic" / "X2");
    for (int i = 0; i < 3; ++i) {
        const auto hr = test_image(24 + i, 20, 3);
        const std::string name = "img" + std::to_string(i) + ".png";
        sr::io::write_image(dir.path / "set" / "HR" / name, hr);
        sr::io::write_image(dir.path / "set" / "LR_bicubic" / "X2" / name, sr::data::bicubic_downscale(hr, 2));
    }
    fs::create_directories(dir.path / "models");
    fs::copy_file(model, dir.path / "models" / "a.safetensors");
    fs::copy_file(model, dir.path / "models" / "b.safetensors");
    const auto r = run(tool("sr-eval") + " -m " + q(dir.path / "models") + " -d " + q(dir.path / "set") + " --json " +
                       q(dir.path / "e.json") + " --csv " + q(dir.path / "e.csv"));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.output, Catch::Contains("bicubic") && Catch::Contains("best: "));
    const auto j = nlohmann::json::parse(read_text(dir.path / "e.json"));
    CHECK(j.contains("bicubic"));
    CHECK(j.at((dir.path / "models" / "a.safetensors").string()).at("images") == 3);
    CHECK(j.at((dir.path / "models" / "a.safetensors").string()).at("psnr") ==
          j.at((dir.path / "models" / "b.safetensors").string()).at("psnr"));
    const std::string csv = read_text(dir.path / "e.csv");
    CHECK(std::count(csv.begin(), csv.end(), '\n') == 1 + 3 * 3);
    // Wrong scale, wrong files.
    auto bad = run(tool("sr-eval") + " -s 4 -m " + q(model) + " -d " + q(dir.path / "set"));
    CHECK(bad.exit_code == 1);
    CHECK_THAT(bad.output, Catch::Contains("upscales x2, not x4"));
    bad = run(tool("sr-eval") + " -m " + q(dir.path / "set") + " -d " + q(dir.path / "set"));
    CHECK(bad.exit_code == 1);
    CHECK_THAT(bad.output, Catch::Contains("no sr model files"));
}

TEST_CASE("sr-train runs, stops on Ctrl-C with a checkpoint, and resumes to the same weights", "[tools][train]") {
    sr::test::TempDir dir;
    sr::test::write_training_images(dir.path / "images", 8, 40);
    // One convolution backend for all three processes. The automatic choice times the backends per
    // process (ops/cpu/conv2d_choice.hpp), and backends round differently: with it, a resume from
    // mid-epoch ended ~1e-4 away from the straight run on the loaded 2-core VM. This test is about
    // the resume logic; the cross-process stability of the automatic choice is ops' own concern.
    ::setenv("SR_CONV_BACKEND", "direct", 1);
    struct Unset {
        ~Unset() { ::unsetenv("SR_CONV_BACKEND"); }
    } unset_backend;
    const std::string args = " --profile wdsr-b-8 --num-filters 8 --num-res-blocks 2 --scale 2 --dataset " +
                             q(dir.path / "images") + " --epochs 8 --steps-per-epoch 30 --batch-size 4 --lr-patch-size 8 "
                             "--validation-steps 1 --loader-threads 1 --threads 2 --seed 9 -q";
    auto r = run(tool("sr-train") + args + " --outdir " + q(dir.path / "straight"));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    auto find_run = [](const fs::path& outdir) { return fs::directory_iterator(outdir)->path(); };
    const auto straight = find_run(dir.path / "straight");

    // The same run, interrupted by SIGINT after its first epoch (seven epochs left, so the signal
    // arrives long before the end), then resumed.
    const int64_t total_steps = 8 * 30;
    std::vector<std::string> argv_strings = {tool("sr-train")};
    {
        std::istringstream split(args + " --outdir " + (dir.path / "stopped").string());
        for (std::string a; split >> a;) argv_strings.push_back(a.front() == '\'' ? a.substr(1, a.size() - 2) : a);
    }
    std::vector<char*> argv;
    for (auto& a : argv_strings) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    REQUIRE(::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) == 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (std::chrono::steady_clock::now() < deadline) {
        if (fs::exists(dir.path / "stopped") && !fs::is_empty(dir.path / "stopped") &&
            fs::exists(find_run(dir.path / "stopped") / "checkpoint" / "last.safetensors"))
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(pid, SIGINT);
    int status = 0;
    ::waitpid(pid, &status, 0);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 130);  // interrupted, not finished: the resume below is exercised
    const auto stopped = find_run(dir.path / "stopped");
    // The step the interruption saved must be the one the checkpoint holds and the one the resumed
    // run starts from; the resumed run must then end with the full step count.
    const std::string stopped_log = read_text(stopped / "train.log");
    const auto at = stopped_log.find("interrupted at step ");
    REQUIRE(at != std::string::npos);
    const int64_t interrupted_step = std::stoll(stopped_log.substr(at + std::string("interrupted at step ").size()));
    CHECK(interrupted_step >= 30);
    CHECK(interrupted_step < total_steps);
    auto checkpoint_step = [](const fs::path& run_dir) {
        return std::stoll(sr::io::read_safetensors(run_dir / "checkpoint" / "last.safetensors").metadata().at("step"));
    };
    CHECK(checkpoint_step(stopped) == interrupted_step);
    r = run(tool("sr-train") + " --resume " + q(stopped) + " -q");
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    const std::string resumed_log = read_text(stopped / "train.log");
    CHECK_THAT(resumed_log, Catch::Contains("resumed at step " + std::to_string(interrupted_step) + " of " +
                                            std::to_string(total_steps)));
    CHECK(checkpoint_step(stopped) == total_steps);
    CHECK(checkpoint_step(straight) == total_steps);
    auto final_model = [](const fs::path& run_dir) {
        fs::path last;
        for (const auto& e : fs::directory_iterator(run_dir / "models"))
            if (e.path().filename().string().rfind("epoch-008-", 0) == 0) last = e.path();
        REQUIRE_FALSE(last.empty());
        return sr::models::load_model<float>(last).parameters();
    };
    const auto a = final_model(straight), b = final_model(stopped);
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i].tensor.to_vector() == b[i].tensor.to_vector());
}

TEST_CASE("sr-train and sr-data report bad options in one line", "[tools]") {
    sr::test::TempDir dir;
    auto r = run(tool("sr-train") + " --dataset " + q(dir.path / "nothing") + " --outdir " + q(dir.path / "o"));
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.output, Catch::StartsWith("sr-train: ") && Catch::Contains("nothing"));
    r = run(tool("sr-train") + " --resume " + q(dir.path));
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.output, Catch::Contains("args.json"));
    r = run(tool("sr-data") + " --help");
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.output, Catch::Contains("convert") && Catch::Contains("degrade"));
}

TEST_CASE("a CUDA device the machine or build cannot use is refused in one line", "[tools]") {
    if (sr::test::gpu_available()) SR_SKIP("this machine has a CUDA GPU: the tools use it (test_cuda_models.cpp)");
    sr::test::TempDir dir;
    const auto model = tiny_model(dir.path);
    sr::io::write_image(dir.path / "in.png", test_image(8, 8, 3));
    // What each kind of build says: no GPU or driver here, or no CUDA compiled in.
    const std::string reason = SR_WITH_CUDA ? "no CUDA GPU or driver is visible" : "this build of sr has no CUDA support";
    struct Case {
        std::string command, option;
    };
    const std::vector<Case> cases = {
        {tool("sr-infer") + " -g cuda:0 -m " + q(model) + " -i " + q(dir.path / "in.png") + " -o " + q(dir.path / "o.png"),
         "-g cuda:0"},
        {tool("sr-eval") + " -g cuda:1 -m " + q(model) + " -d " + q(dir.path), "-g cuda:1"},
        {tool("sr-train") + " --device cuda:0 --dataset " + q(dir.path) + " --outdir " + q(dir.path / "runs"),
         "--device cuda:0"},
    };
    for (const auto& c : cases) {
        const auto r = run(c.command);
        INFO(c.command << "\n" << r.output);
        CHECK(r.exit_code == 1);
        CHECK_THAT(r.output, Catch::Contains(c.option + ": " + reason));
        CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
    }
    CHECK_FALSE(fs::exists(dir.path / "o.png"));
    CHECK_FALSE(fs::exists(dir.path / "runs"));
    const auto bad = run(tool("sr-infer") + " -g gpu -m " + q(model) + " -i " + q(dir.path / "in.png") + " -o " +
                         q(dir.path / "o.png"));
    CHECK(bad.exit_code == 1);
    CHECK_THAT(bad.output, Catch::Contains("-g gpu: expected cpu or cuda:N"));
}

}  // namespace test_tools
