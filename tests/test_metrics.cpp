// PSNR and SSIM: hand-checkable cases, and golden values from an independent NumPy/SciPy
// implementation of the protocols (tests/golden/metrics/make_golden.py) on committed image pairs.
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sr/core/parallel.hpp"
#include "sr/metrics/evaluate.hpp"
#include "test_support.hpp"

namespace test_metrics {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

namespace {

using sr::Tensor;
using sr::metrics::MetricsProtocol;

// An [1, H, W, 3] image of integer values in [lo, hi] from a fixed pattern.
Tensor<float> pattern_image(int64_t h, int64_t w, int lo, int hi) {
    auto t = Tensor<float>::empty({1, h, w, 3});
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(lo + (i * 7919 + i / 3 * 31) % (hi - lo + 1));
    return t;
}

Tensor<float> add_constant(const Tensor<float>& t, float offset) {
    auto out = t.clone();
    for (int64_t i = 0; i < out.numel(); ++i) out.data()[i] += offset;
    return out;
}

Tensor<float> read_f32(const std::filesystem::path& path, int64_t h, int64_t w, int64_t c) {
    auto t = Tensor<float>::empty({1, h, w, c});
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in);
    in.read(reinterpret_cast<char*>(t.data()), static_cast<std::streamsize>(t.numel() * sizeof(float)));
    REQUIRE(in.gcount() == static_cast<std::streamsize>(t.numel() * sizeof(float)));
    return t;
}

double relative_error(double got, double want) { return std::abs(got - want) / std::abs(want); }

}  // namespace

TEST_CASE("metrics: quantization rounds half to even and clamps", "[metrics]") {
    const std::vector<double> in = {-3.0, -0.5, 0.49, 0.5, 1.5, 2.5, 3.5, 127.5, 128.5, 254.5, 254.51, 255.5, 300.0,
                                    std::numeric_limits<double>::quiet_NaN()};
    const std::vector<double> want = {0, 0, 0, 0, 2, 2, 4, 128, 128, 254, 255, 255, 255, 0};
    const auto q = sr::metrics::quantize_uint8(Tensor<double>::from_vector({static_cast<int64_t>(in.size())}, in));
    CHECK(q.to_vector() == want);
    CHECK(sr::metrics::round_half_even(-2.5) == -2.0);
    CHECK(sr::metrics::round_half_even(-3.5) == -4.0);
    CHECK(sr::metrics::round_half_even(-1.2) == -1.0);
}

TEST_CASE("metrics: BT.601 Y and border shave", "[metrics]") {
    // Black, white, pure red, green, blue.
    auto rgb = Tensor<double>::from_vector({1, 5, 3}, {0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 255, 0, 0, 0, 255});
    const auto y = sr::metrics::rgb_to_y(rgb).to_vector();
    CHECK(y[0] == Approx(16.0).epsilon(1e-15));
    CHECK(y[1] == Approx(235.0).epsilon(1e-15));
    CHECK(y[2] == Approx(16.0 + 65.481).epsilon(1e-15));
    CHECK(y[3] == Approx(16.0 + 128.553).epsilon(1e-15));
    CHECK(y[4] == Approx(16.0 + 24.966).epsilon(1e-15));

    auto image = Tensor<double>::empty({5, 6, 2});
    for (int64_t i = 0; i < image.numel(); ++i) image.data()[i] = static_cast<double>(i);
    const auto shaved = sr::metrics::shave_border(image, 2);
    CHECK(shaved.shape() == sr::Shape({1, 2, 2}));
    CHECK(shaved.to_vector() == std::vector<double>{(2 * 6 + 2) * 2, (2 * 6 + 2) * 2 + 1, (2 * 6 + 3) * 2,
                                                    (2 * 6 + 3) * 2 + 1});
    CHECK_THROWS_WITH(sr::metrics::shave_border(image, 3), Catch::Contains("cannot shave 3 pixels"));
}

TEST_CASE("metrics: PSNR of a constant offset is known in closed form", "[metrics]") {
    const auto hr = pattern_image(40, 36, 20, 200);
    const auto sr_image = add_constant(hr, 5.0f);
    // RGB: MSE = 25, so PSNR = 20 log10(255) - 10 log10(25) = 48.1308036087 - 13.9794000867 dB.
    const double rgb_psnr = 20 * std::log10(255.0) - 10 * std::log10(25.0);
    CHECK(rgb_psnr == Approx(34.151403521959).epsilon(1e-12));
    CHECK(sr::metrics::evaluate_pair(sr_image, hr, MetricsProtocol::seed()).psnr == Approx(rgb_psnr).epsilon(1e-12));
    CHECK(sr::metrics::evaluate_pair(sr_image, hr, MetricsProtocol::paper_rgb(2)).psnr ==
          Approx(rgb_psnr).epsilon(1e-12));
    // Y: an offset of 5 in R, G and B moves Y by 5 * (65.481 + 128.553 + 24.966) / 255 = 5 * 219 / 255.
    const double y_psnr = 20 * std::log10(255.0) - 20 * std::log10(5.0 * 219.0 / 255.0);
    CHECK(sr::metrics::evaluate_pair(sr_image, hr, MetricsProtocol::paper(4)).psnr == Approx(y_psnr).epsilon(1e-12));

    // A gray image is its own luma: the offset stays 5.
    const auto gray_hr = pattern_image(40, 36, 20, 200).reshape({40, 36 * 3, 1});
    CHECK(sr::metrics::evaluate_pair(add_constant(gray_hr, 5.0f), gray_hr, MetricsProtocol::paper(4)).psnr ==
          Approx(rgb_psnr).epsilon(1e-12));

    // Quantization matters: +0.4 vanishes after rounding, +0.6 becomes +1.
    CHECK(std::isinf(sr::metrics::evaluate_pair(add_constant(hr, 0.4f), hr, MetricsProtocol::paper(2)).psnr));
    CHECK(sr::metrics::evaluate_pair(add_constant(hr, 0.6f), hr, MetricsProtocol::paper_rgb(2)).psnr ==
          Approx(20 * std::log10(255.0)).epsilon(1e-12));
    // The seed's protocol neither rounds nor clips.
    CHECK(sr::metrics::evaluate_pair(add_constant(hr, 0.4f), hr, MetricsProtocol::seed()).psnr ==
          Approx(20 * std::log10(255.0) - 10 * std::log10(0.4 * 0.4)).epsilon(1e-6));
}

TEST_CASE("metrics: SSIM of identical and of constant images", "[metrics]") {
    const auto hr = pattern_image(16, 18, 0, 255);
    const auto same = sr::metrics::evaluate_pair(hr, hr, MetricsProtocol::paper(2));
    CHECK(std::isinf(same.psnr));
    CHECK(same.ssim == Approx(1.0).epsilon(1e-14));

    // Constant images a and b have zero variance, so every window gives (2ab + C1) / (a^2 + b^2 + C1).
    const double a = 100, b = 110, c1 = (0.01 * 255) * (0.01 * 255);
    const auto ca = Tensor<double>::full({12, 13, 1}, a), cb = Tensor<double>::full({12, 13, 1}, b);
    CHECK(sr::metrics::ssim(ca, cb) == Approx((2 * a * b + c1) / (a * a + b * b + c1)).epsilon(1e-12));

    // The window sums to 1 and is symmetric.
    const auto g = sr::metrics::ssim_gaussian_window();
    double sum = 0;
    for (double v : g) sum += v;
    CHECK(sum == Approx(1.0).epsilon(1e-15));
    CHECK(g[0] == g[10]);
    CHECK(g[5] / g[4] == Approx(std::exp(1.0 / (2 * 1.5 * 1.5))).epsilon(1e-14));
}

TEST_CASE("metrics: golden values of an independent NumPy/SciPy implementation", "[metrics]") {
    const auto dir = std::filesystem::path(SR_SOURCE_DIR) / "tests" / "golden" / "metrics";
    std::ifstream in(dir / "golden.json");
    REQUIRE(in);
    const auto golden = nlohmann::json::parse(in);
    REQUIRE(golden["cases"].size() == 3);
    for (const auto& c : golden["cases"]) {
        const std::string name = c["name"];
        const int64_t h = c["height"], w = c["width"], ch = c["channels"];
        const int scale = c["scale"];
        const auto hr = read_f32(dir / c["hr_file"].get<std::string>(), h, w, ch);
        const auto sr_image = read_f32(dir / c["sr_file"].get<std::string>(), h, w, ch);
        const std::vector<std::pair<std::string, MetricsProtocol>> protocols = {
            {"seed", MetricsProtocol::seed()},
            {"paper", MetricsProtocol::paper(scale)},
            {"paper_rgb", MetricsProtocol::paper_rgb(scale)},
            {"paper_round_y", {.quantize = true, .y_channel = true, .round_y = true, .border = scale}},
            {"float_y_border", {.quantize = false, .y_channel = true, .round_y = false, .border = scale}},
        };
        for (const auto& [protocol_name, protocol] : protocols) {
            INFO(name << " / " << protocol_name << " (" << protocol.describe() << ")");
            const auto& want = c["expected"][protocol_name];
            const auto got = sr::metrics::evaluate_pair(sr_image, hr, protocol);
            // Both sides work in double from the same float32 inputs; what differs is summation order
            // and separable vs 2-D filtering, a few ulp. Hence 1e-9 rather than 1e-6: a Y
            // coefficient off in its third decimal (24.967 for 24.966) moves PSNR by only 9e-7.
            CHECK(relative_error(got.psnr, want["psnr"]) < 1e-9);
            CHECK(relative_error(got.ssim, want["ssim"]) < 1e-9);
        }
        // [H, W, C] and [1, H, W, C] inputs are the same image.
        const auto hwc = sr::metrics::evaluate_pair(sr_image.reshape({h, w, ch}), hr.reshape({h, w, ch}),
                                                    MetricsProtocol::paper(scale));
        CHECK(hwc.psnr == sr::metrics::evaluate_pair(sr_image, hr, MetricsProtocol::paper(scale)).psnr);
    }
}

TEST_CASE("metrics: SSIM does not depend on the thread count", "[metrics]") {
    const auto a = pattern_image(64, 40, 0, 255), b = pattern_image(64, 40, 10, 240);
    const int threads = sr::num_threads();
    sr::set_num_threads(1);
    const double one = sr::metrics::evaluate_pair(a, b, MetricsProtocol::seed()).ssim;
    sr::set_num_threads(std::max(threads, 4));
    const double many = sr::metrics::evaluate_pair(a, b, MetricsProtocol::seed()).ssim;
    sr::set_num_threads(threads);
    CHECK(one == many);
}

TEST_CASE("metrics: misuse fails with a message saying what to do", "[metrics]") {
    const auto a = pattern_image(16, 16, 0, 255);
    CHECK_THROWS_WITH(sr::metrics::evaluate_pair(a, pattern_image(16, 18, 0, 255), MetricsProtocol::seed()),
                      Catch::Contains("differ in shape (crop HR to the SR size first)"));
    const auto gray_alpha = Tensor<float>::zeros({16, 16, 2});
    CHECK_THROWS_WITH(sr::metrics::evaluate_pair(gray_alpha, gray_alpha, MetricsProtocol::paper(2)),
                      Catch::Contains("Y-channel protocol needs RGB or gray images, got 2 channels"));
    CHECK_THROWS_WITH(sr::metrics::evaluate_pair(a, a, MetricsProtocol::paper(8)),
                      Catch::Contains("border 8 leaves nothing of a 16x16 image"));
    CHECK_THROWS_WITH(sr::metrics::evaluate_pair(a, a, MetricsProtocol::paper(3)),
                      Catch::Contains("image is smaller than the 11x11 window"));
    CHECK(std::isnan(sr::metrics::evaluate_pair(a, a, MetricsProtocol::paper(3), false).ssim));
    CHECK_THROWS_WITH(sr::metrics::evaluate_pair(Tensor<float>::zeros({2, 16, 16, 3}), a, MetricsProtocol::seed()),
                      Catch::Contains("expected an [H, W, C] or [1, H, W, C] image"));
}

}  // namespace test_metrics
