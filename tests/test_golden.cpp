// Whole-model parity with the PyTorch reference (tests/golden/make_golden.py): forward output,
// L1 loss and every parameter gradient of EDSR, WDSR-A and WDSR-B at x2, x3 and x4, loaded
// through sr's own model files; the same models imported by sr-convert from the Keras, EDSR-PyTorch
// and official-WDSR conventions; and the real pretrained WDSR-B x4 on Set5/Set14.
//
// Tolerances: the reference runs in float64. A float forward through ~10 layers carries relative
// rounding of a few 1e-7, so outputs must agree to 1e-5 (relative to the output's largest value);
// gradients pass through the network twice and the L1 sign, so 1e-4 relative to each gradient
// tensor's largest value. A double forward must agree to 1e-10 (rounding only).
#include <catch2/catch.hpp>

#include <cstdlib>

#include "python_support.hpp"
#include "sr/autograd/backward.hpp"
#include "sr/io/image.hpp"
#include "sr/metrics/evaluate.hpp"
#include "sr/models/model_file.hpp"
#include "sr/models/profiles.hpp"
#include "sr/ops/loss.hpp"
#include "test_support.hpp"

namespace test_golden {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

namespace {

const char* k_archs[] = {"edsr", "wdsr-a", "wdsr-b"};

std::filesystem::path golden(const std::string& name) {
    return std::filesystem::path(SR_SOURCE_DIR) / "tests" / "golden" / "models" / name;
}

template <class T>
void check_parity(const std::string& stem, double output_tolerance, double grad_tolerance) {
    INFO(stem << " in " << (sizeof(T) == 4 ? "float" : "double"));
    const auto file = sr::io::read_safetensors(golden(stem + ".safetensors"));
    auto model = sr::models::load_model<T>(golden(stem + ".safetensors"));
    auto input = file.tensor_f32("golden.input").template cast<T>();
    auto target = file.tensor_f32("golden.target").template cast<T>();
    const auto expected = file.tensor<double>("golden.output");
    auto output = model(input);
    CHECK(sr::test::normalized_max_error(output, expected) < output_tolerance);

    auto loss = sr::l1_loss(output, target);
    CHECK(double(loss.item()) == Approx(file.tensor<double>("golden.loss").item()).epsilon(output_tolerance));
    loss.backward();
    for (const auto& p : model.parameters()) {
        INFO(p.name);
        REQUIRE(p.tensor.grad().defined());
        CHECK(sr::test::normalized_max_error(p.tensor.grad(), file.tensor<double>("golden.grad." + p.name)) <
              grad_tolerance);
    }
}

// Runs tools/sr-convert on `source` into `output`; returns its exit code and output.
sr::test::PythonResult run_convert(const std::filesystem::path& source, const std::filesystem::path& output,
                                   const std::vector<std::string>& extra = {}) {
    std::string command = std::string("'") + SR_CONVERT_PYTHON + "' '" + SR_SOURCE_DIR + "/tools/sr-convert' '" +
                          source.string() + "' -o '" + output.string() + "'";
    for (const auto& e : extra) command += " " + e;
    return sr::test::run_command(command);
}

}  // namespace

TEST_CASE("golden parity: forward, loss and gradients match PyTorch in float", "[golden]") {
    for (const char* arch : k_archs)
        for (int scale : {2, 3, 4}) check_parity<float>(std::string(arch) + "-x" + std::to_string(scale), 1e-5, 1e-4);
}

TEST_CASE("golden parity: forward, loss and gradients match PyTorch in double", "[golden]") {
    for (const char* arch : k_archs)
        for (int scale : {2, 3, 4}) check_parity<double>(std::string(arch) + "-x" + std::to_string(scale), 1e-10, 1e-9);
}

TEST_CASE("sr-convert imports Keras, EDSR-PyTorch and official WDSR weights exactly", "[golden][convert]") {
    SR_REQUIRE_CONVERT_PYTHON();
    sr::test::TempDir dir;
    for (const char* arch : k_archs) {
        for (int scale : {2, 3, 4}) {
            const std::string stem = std::string(arch) + "-x" + std::to_string(scale);
            const auto reference = sr::io::read_safetensors(golden(stem + ".safetensors"));
            const auto input = reference.tensor_f32("golden.input");
            const auto expected = reference.tensor<double>("golden.output");
            const std::string torch_format = std::string(arch) == "edsr" ? ".edsr-pytorch.pt" : ".official.pt";
            for (const std::string& source : {stem + ".keras.h5", stem + torch_format}) {
                INFO(source);
                const auto out = dir.path / (source + ".safetensors");
                // Residual scaling is not stored by any of these formats; the golden models use 0.75.
                auto result = run_convert(golden(source), out, {"--res-scale", "0.75"});
                INFO(result.output);
                REQUIRE(result.exit_code == 0);
                auto model = sr::models::load_model<float>(out);
                CHECK(model.scale() == scale);
                sr::NoGradGuard no_grad;
                CHECK(sr::test::normalized_max_error(model(input), expected) < 1e-5);
            }
        }
    }
}

TEST_CASE("sr-convert rejects files it cannot import with one line naming the file", "[convert]") {
    SR_REQUIRE_CONVERT_PYTHON();
    sr::test::TempDir dir;
    const auto bogus = dir.path / "notes.pt";
    { std::ofstream(bogus) << "not a model"; }
    auto result = run_convert(bogus, dir.path / "out.safetensors");
    CHECK(result.exit_code == 1);
    CHECK_THAT(result.output, Catch::StartsWith("sr-convert: ") && Catch::Contains("notes.pt"));
    CHECK(std::count(result.output.begin(), result.output.end(), '\n') == 1);
    CHECK_FALSE(std::filesystem::exists(dir.path / "out.safetensors"));

    result = run_convert(golden("wdsr-b-x2.keras.h5"), dir.path / "out.safetensors", {"--scale", "4"});
    CHECK(result.exit_code == 1);
    CHECK_THAT(result.output, Catch::Contains("x2, not x4"));
    // A golden sr model file is not an import source.
    result = run_convert(golden("edsr-x2.safetensors"), dir.path / "out.safetensors");
    CHECK(result.exit_code == 1);
    CHECK_THAT(result.output, Catch::Contains("unknown format"));
}

TEST_CASE("model files: round trip and errors for wrong files", "[golden][model_file]") {
    sr::test::TempDir dir;
    sr::Rng rng(5);
    sr::models::ProfileOverrides small;
    small.num_blocks = 2;
    sr::models::AnyModel<float> model(sr::models::make_config("wdsr-b-8", 3, small), rng);
    const auto path = dir.path / "m.safetensors";
    sr::models::save_model(path, model, {{"profile", "wdsr-b-8"}, {"step", "123"}});
    auto loaded = sr::models::load_model<float>(path);
    CHECK(loaded.config().num_blocks == 2);
    CHECK(loaded.scale() == 3);
    const auto a = model.parameters(), b = loaded.parameters();
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i].tensor.to_vector() == b[i].tensor.to_vector());
    CHECK(sr::models::read_model_metadata(path).at("step") == "123");

    // A plain state dict without sr-model metadata.
    const auto plain = dir.path / "plain.safetensors";
    sr::io::save_state_dict(plain, model.parameters());
    CHECK_THROWS_WITH(sr::models::load_model<float>(plain), Catch::Contains("plain.safetensors") &&
                                                                 Catch::Contains("not an sr model file"));
    // Metadata that describes another network than the tensors.
    auto meta = sr::models::model_metadata(model.config());
    meta["num_blocks"] = "3";
    const auto lying = dir.path / "lying.safetensors";
    sr::io::save_state_dict(lying, model.parameters(), meta);
    CHECK_THROWS_WITH(sr::models::load_model<float>(lying), Catch::Contains("missing parameter 'body.2.body.0.weight_g'"));
    meta["num_blocks"] = "2";
    meta["num_filters"] = "16";
    sr::io::save_state_dict(lying, model.parameters(), meta);
    CHECK_THROWS_WITH(sr::models::load_model<float>(lying), Catch::Contains("has shape"));
    meta["num_filters"] = "eight";
    sr::io::save_state_dict(lying, model.parameters(), meta);
    CHECK_THROWS_WITH(sr::models::load_model<float>(lying), Catch::Contains("'num_filters' = 'eight' is not an integer"));
    // Not a safetensors file at all.
    const auto text = dir.path / "text.safetensors";
    { std::ofstream(text) << "hello"; }
    CHECK_THROWS_WITH(sr::models::load_model<float>(text), Catch::Contains("text.safetensors"));
}

TEST_CASE("the real pretrained WDSR-B x4 reaches the published PSNR on Set5 and Set14", "[golden][data][slow]") {
    SR_REQUIRE_DATA(data);
    SR_REQUIRE_CONVERT_PYTHON();
    sr::test::TempDir dir;
    const auto converted = dir.path / "wdsr-b-32-x4.safetensors";
    auto result = run_convert(data / "weights" / "wdsr-b-32-x4.keras.h5", converted);
    INFO(result.output);
    REQUIRE(result.exit_code == 0);
    const auto model = sr::models::load_model<float>(converted).fold_weight_norm();
    CHECK(model.config().num_blocks == 32);
    sr::NoGradGuard no_grad;
    for (auto [set, expected] : {std::pair{"Set5", 32.09}, std::pair{"Set14", 28.57}}) {
        double total = 0;
        int count = 0;
        for (const auto& entry : std::filesystem::directory_iterator(data / "benchmark" / set / "HR")) {
            const auto name = entry.path().filename();
            const auto lr_image = sr::io::read_image(data / "benchmark" / set / "LR_bicubic" / "X4" / name);
            const auto hr_image = sr::io::read_image(entry.path());
            auto sr_image = model(sr::io::image_to_tensor(sr::io::to_rgb8(lr_image)));
            auto hr = sr::io::image_to_tensor(sr::io::to_rgb8(hr_image));
            hr = hr.crop(0, 0, sr_image.dim(1), sr_image.dim(2)).contiguous();
            total += sr::metrics::evaluate_pair(sr_image, hr, sr::metrics::MetricsProtocol::paper(4), false).psnr;
            ++count;
        }
        const double mean = total / count;
        std::printf("pretrained wdsr-b-32 x4, %s: mean Y-PSNR %.4f dB over %d images (published %.2f)\n", set, mean,
                    count, expected);
        INFO(set << ": mean Y-PSNR " << mean << " dB over " << count << " images");
        CHECK(mean == Approx(expected).margin(0.01));
    }
}

}  // namespace test_golden
