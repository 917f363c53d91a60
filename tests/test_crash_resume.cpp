// sr-train under crashes and divergence, driving the real binary:
//  - killed with SIGKILL inside a step, during validation, and between writing and renaming a
//    checkpoint and a model file (the test-only hook SR_TEST_KILL_AT, sr/core/kill_point.hpp, so
//    every moment is hit for sure rather than by a lucky delay), resumed after each kill, it ends
//    with the checkpoint (weights, Adam moments, step count, counters) byte for byte equal to an
//    uninterrupted run's, and no temporary file left;
//  - a run whose loss turns non-finite stops at that step with one line naming it and a non-zero
//    exit, and its last checkpoint is the one written before, unchanged.
// Both pin SR_CONV_BACKEND=direct: the automatic conv choice times backends per process, and
// backends round differently (see the SIGINT test in test_tools.cpp).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "sr/io/atomic_file.hpp"
#include "sr/io/safetensors.hpp"
#include "sr/models/model_file.hpp"
#include "test_support.hpp"
#include "train_test_support.hpp"

namespace test_crash_resume {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

namespace {

namespace fs = std::filesystem;

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

std::string sr_train() { return std::string(SR_TOOLS_DIR) + "/sr-train"; }

std::string read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

struct Outcome {
    int status = -1;     // the shell's $?: 137 = killed by SIGKILL
    std::string output;
};

// Runs sr-train with SR_TEST_KILL_AT=kill_at (none when empty) and SR_CONV_BACKEND=direct.
Outcome sr_train_run(const std::string& arguments, const std::string& kill_at = "") {
    const std::string env = "SR_CONV_BACKEND=direct " + (kill_at.empty() ? "" : "SR_TEST_KILL_AT=" + kill_at + " ");
    const auto r = sr::test::run_command(env + sr_train() + " " + arguments + " 2>&1; echo \"status=$?\"");
    Outcome o;
    const auto at = r.output.rfind("status=");
    REQUIRE(at != std::string::npos);
    o.status = std::stoi(r.output.substr(at + 7));
    o.output = r.output.substr(0, at);
    return o;
}

std::vector<fs::path> temporaries(const fs::path& dir) {
    std::vector<fs::path> found;
    for (const auto& e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file() && sr::io::AtomicFile::is_temporary(e.path())) found.push_back(e.path());
    return found;
}

int64_t checkpoint_step(const fs::path& run_dir) {
    return std::stoll(sr::io::read_safetensors(run_dir / "checkpoint" / "last.safetensors").metadata().at("step"));
}

fs::path only_run(const fs::path& outdir) {
    std::vector<fs::path> runs;
    for (const auto& e : fs::directory_iterator(outdir)) runs.push_back(e.path());
    REQUIRE(runs.size() == 1);
    return runs.front();
}

const std::string k_tiny_model = " --profile wdsr-b-8 --num-filters 8 --num-res-blocks 2 --scale 2 --batch-size 4 "
                                 "--lr-patch-size 8 --validation-steps 1 --loader-threads 1 --threads 2 --seed 9 -q";

}  // namespace

TEST_CASE("AtomicFile recognises only its own temporary files", "[train][io]") {
    using sr::io::AtomicFile;
    CHECK(AtomicFile::is_temporary(".last.safetensors.tmp123456"));
    CHECK(AtomicFile::is_temporary("dir/.epoch-001-psnr-30.1000.safetensors.tmp1"));
    CHECK_FALSE(AtomicFile::is_temporary("last.safetensors"));
    CHECK_FALSE(AtomicFile::is_temporary("last.safetensors.tmp123"));  // not a dot file
    CHECK_FALSE(AtomicFile::is_temporary(".last.safetensors.tmp"));     // no digits
    CHECK_FALSE(AtomicFile::is_temporary(".notes.tmp12a"));
    CHECK_FALSE(AtomicFile::is_temporary(".tmp123"));
    sr::test::TempDir dir;
    sr::io::write_file_atomically(dir.path / "kept.txt", "abc", 3);
    std::ofstream(dir.path / ".kept.txt.tmp77") << "torn";
    std::ofstream(dir.path / ".hidden") << "not ours";
    CHECK(sr::io::remove_stale_temporaries(dir.path) == 1);
    CHECK(read_bytes(dir.path / "kept.txt") == "abc");
    CHECK(fs::exists(dir.path / ".hidden"));
    CHECK_FALSE(fs::exists(dir.path / ".kept.txt.tmp77"));
}

TEST_CASE("sr-train killed with SIGKILL at every kind of moment resumes to the uninterrupted result", "[tools][train]") {
    sr::test::TempDir dir;
    sr::test::write_training_images(dir.path / "images", 8, 40);
    const std::string args = k_tiny_model + " --dataset " + q(dir.path / "images") + " --epochs 3 --steps-per-epoch 3";
    const int64_t total = 9;

    auto r = sr_train_run(args + " --outdir " + q(dir.path / "straight"));
    INFO(r.output);
    REQUIRE(r.status == 0);
    const fs::path straight = only_run(dir.path / "straight");

    // Checkpoints are written at steps 3, 6 and 9 (epoch ends). Killed inside step 2, before any.
    r = sr_train_run(args + " --outdir " + q(dir.path / "crashed"), "step:2");
    INFO(r.output);
    REQUIRE(r.status == 137);
    const fs::path run = only_run(dir.path / "crashed");
    const std::string resume = "--resume " + q(run) + " -q";
    CHECK(fs::exists(run / "args.json"));
    CHECK_FALSE(fs::exists(run / "checkpoint" / "last.safetensors"));  // killed before the first one

    struct Kill {
        const char* hook;
        int64_t checkpoint_after;  // the step the checkpoint holds after the kill (-1: none yet)
        const char* temporary_in;  // the folder holding the torn write's temporary file, or nullptr
    };
    const Kill kills[] = {
        {"write:last.safetensors:1", -1, "checkpoint"},  // restarts from step 0; first checkpoint torn
        {"validation:2", 3, nullptr},                    // epoch 2's validation
        {"write:epoch-:1", 3, "models"},                 // epoch 2's model file
        {"write:last.safetensors:1", 3, "checkpoint"},   // epoch 2's checkpoint: epoch 1's stays intact
        {"step:5", 6, nullptr},                          // steps 4-6, checkpoint 6, then inside step 8
    };
    for (const Kill& kill : kills) {
        INFO("SR_TEST_KILL_AT=" << kill.hook);
        r = sr_train_run(resume, kill.hook);
        INFO(r.output);
        REQUIRE(r.status == 137);
        if (kill.checkpoint_after < 0)
            CHECK_FALSE(fs::exists(run / "checkpoint" / "last.safetensors"));
        else
            CHECK(checkpoint_step(run) == kill.checkpoint_after);
        const auto left = temporaries(run);
        if (kill.temporary_in) {
            // The kill came between the write and the rename: the temporary is complete on disk.
            REQUIRE(left.size() == 1);
            CHECK(left.front().parent_path().filename() == kill.temporary_in);
        } else {
            CHECK(left.empty());  // the next resume removed the one before
        }
    }
    r = sr_train_run(resume);
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK_THAT(r.output, Catch::Contains("finished at step 9"));
    CHECK(temporaries(run).empty());
    const std::string log = read_bytes(run / "train.log");
    CHECK_THAT(log, Catch::Contains("no checkpoint yet") && Catch::Contains("resumed at step 6 of 9") &&
                        Catch::Contains("removed 1 temporary file"));

    // Weights, Adam moments, step count and counters: the whole checkpoint, byte for byte.
    CHECK(checkpoint_step(run) == total);
    CHECK(read_bytes(run / "checkpoint" / "last.safetensors") == read_bytes(straight / "checkpoint" / "last.safetensors"));
    const auto crashed_state = sr::io::read_safetensors(run / "checkpoint" / "last.safetensors");
    const auto straight_state = sr::io::read_safetensors(straight / "checkpoint" / "last.safetensors");
    REQUIRE(crashed_state.entries().size() == straight_state.entries().size());
    for (const auto& e : straight_state.entries()) {
        INFO(e.name);
        CHECK(crashed_state.tensor_f32(e.name).to_vector() == straight_state.tensor_f32(e.name).to_vector());
    }
    // Every model file is whole and one per epoch, as in the uninterrupted run.
    int models = 0;
    for (const auto& e : fs::directory_iterator(run / "models")) {
        CHECK_NOTHROW(sr::models::load_model<float>(e.path()));
        CHECK(fs::exists(straight / "models" / e.path().filename()));
        ++models;
    }
    CHECK(models == 3);
}

TEST_CASE("sr-train stops at the step whose loss turns non-finite and keeps the last good checkpoint", "[tools][train]") {
    sr::test::TempDir dir;
    sr::test::write_training_images(dir.path / "images", 8, 40);
    auto r = sr_train_run(k_tiny_model + " --dataset " + q(dir.path / "images") + " --epochs 1 --steps-per-epoch 4 --outdir " +
                          q(dir.path / "runs"));
    INFO(r.output);
    REQUIRE(r.status == 0);
    const fs::path run = only_run(dir.path / "runs");
    const std::string good = read_bytes(run / "checkpoint" / "last.safetensors");
    REQUIRE(checkpoint_step(run) == 4);

    // A learning rate of 1e10: Adam's first update (step 5) moves every weight by about 1e10, so
    // the activations of step 6 overflow float and its loss is not finite.
    nlohmann::json args = nlohmann::json::parse(read_bytes(run / "args.json"));
    args["learning_rate"] = 1e10;
    std::ofstream(run / "args.json") << args.dump(2);
    r = sr_train_run("--resume " + q(run) + " --epochs 3 -q");
    INFO(r.output);
    CHECK(r.status == 1);
    const auto last_line_start = r.output.rfind('\n', r.output.size() - 2);
    const std::string last_line = r.output.substr(last_line_start == std::string::npos ? 0 : last_line_start + 1);
    CHECK_THAT(last_line, Catch::StartsWith("sr-train: training diverged at step 6: the ") &&
                              Catch::Contains("the last checkpoint (step 4) is kept"));
    CHECK((last_line.find("the loss is ") != std::string::npos || last_line.find("the gradient of '") != std::string::npos));
    // The checkpoint is the good one, untouched, and loads.
    CHECK(read_bytes(run / "checkpoint" / "last.safetensors") == good);
    CHECK(checkpoint_step(run) == 4);
    CHECK(temporaries(run).empty());
}

}  // namespace test_crash_resume
