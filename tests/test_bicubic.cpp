// MATLAB-imresize bicubic: against a naive per-pixel reference written from the formula, window
// computation against cropping the whole result, and against the real benchmark LR images
// (exact at x2, x3, x4 on Set5 and Set14) and the papers' bicubic-baseline PSNR.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>

#include "image_test_support.hpp"
#include "sr/data/bicubic.hpp"
#include "sr/io/image.hpp"
#include "test_support.hpp"

namespace test_bicubic {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

using namespace sr;
using sr::io::Image;
using sr::io::Window;

namespace {

// One output sample of one axis, straight from the recipe: centre u = o/scale + (1 - 1/scale)/2
// (1-based), kernel stretched by 1/scale when shrinking, weights normalised, indices clamped.
// Sums over a generous index range; taps outside the kernel contribute exact zeros.
double reference_axis(const std::function<double(int)>& value_at, int in_length, int o, double scale) {
    const double u = double(o + 1) / scale + 0.5 * (1 - 1 / scale);
    const double width = scale < 1 ? 4 / scale : 4;
    const int first = static_cast<int>(std::floor(u - width / 2));
    const int taps = static_cast<int>(std::ceil(width)) + 2;
    std::vector<double> w(taps);
    double total = 0;
    for (int k = 0; k < taps; ++k) {
        const double x = u - (first + k);
        w[k] = scale < 1 ? scale * data::cubic_kernel(scale * x) : data::cubic_kernel(x);
        total += w[k];
    }
    double sum = 0;
    for (int k = 0; k < taps; ++k) {
        const int j = std::clamp(first + k - 1, 0, in_length - 1);  // 1-based -> 0-based, clamped
        sum += (w[k] / total) * value_at(j);
    }
    return sum;
}

// The whole two-pass resize in doubles; `round` converts each pass's result like MATLAB's uint8
// (half away from zero, saturated) or not at all.
std::vector<double> reference_resize(const std::vector<double>& in, int h, int w, int c, int out_h, int out_w,
                                     double scale_h, double scale_w, bool round, double max_value) {
    auto convert = [&](double v) { return round ? std::clamp(std::floor(v + 0.5), 0.0, max_value) : v; };
    auto pass_h = [&](const std::vector<double>& src, int rows, int cols) {
        std::vector<double> dst(static_cast<std::size_t>(out_h) * cols * c);
        for (int o = 0; o < out_h; ++o)
            for (int x = 0; x < cols; ++x)
                for (int ch = 0; ch < c; ++ch)
                    dst[(std::size_t(o) * cols + x) * c + ch] = convert(reference_axis(
                        [&](int j) { return src[(std::size_t(j) * cols + x) * c + ch]; }, rows, o, scale_h));
        return dst;
    };
    auto pass_w = [&](const std::vector<double>& src, int rows, int cols) {
        std::vector<double> dst(static_cast<std::size_t>(rows) * out_w * c);
        for (int y = 0; y < rows; ++y)
            for (int o = 0; o < out_w; ++o)
                for (int ch = 0; ch < c; ++ch)
                    dst[(std::size_t(y) * out_w + o) * c + ch] = convert(reference_axis(
                        [&](int j) { return src[(std::size_t(y) * cols + j) * c + ch]; }, cols, o, scale_w));
        return dst;
    };
    if (scale_h <= scale_w) return pass_w(pass_h(in, h, w), out_h, w);
    return pass_h(pass_w(in, h, w), h, out_w);
}

std::vector<double> samples_of(const Image& image) {
    std::vector<double> v(image.sample_count());
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = image.bit_depth() == 8 ? image.data8()[i] : image.data16()[i];
    return v;
}

Image reference_image(const Image& in, int out_h, int out_w, double scale_h, double scale_w) {
    const auto r = reference_resize(samples_of(in), in.height(), in.width(), in.channels(), out_h, out_w, scale_h,
                                    scale_w, true, in.max_value());
    Image out(out_h, out_w, in.channels(), in.bit_depth());
    for (std::size_t i = 0; i < r.size(); ++i) {
        const int y = static_cast<int>(i / (std::size_t(out_w) * in.channels()));
        const int x = static_cast<int>(i / in.channels() % out_w);
        out.set(y, x, static_cast<int>(i % in.channels()), static_cast<int>(r[i]));
    }
    return out;
}

int64_t count_differences(const Image& a, const Image& b) {
    REQUIRE(a.sample_count() == b.sample_count());
    int64_t n = 0;
    for (int y = 0; y < a.height(); ++y)
        for (int x = 0; x < a.width(); ++x)
            for (int c = 0; c < a.channels(); ++c) n += a.at(y, x, c) != b.at(y, x, c);
    return n;
}

}  // namespace

TEST_CASE("Keys cubic kernel (a = -0.5) and normalised, clamped weights", "[bicubic]") {
    CHECK(data::cubic_kernel(0.0) == 1.0);
    CHECK(data::cubic_kernel(0.5) == Approx(0.5625));
    CHECK(data::cubic_kernel(-0.5) == Approx(0.5625));
    CHECK(data::cubic_kernel(1.0) == Approx(0.0).margin(1e-15));
    CHECK(data::cubic_kernel(1.5) == Approx(-0.0625));
    CHECK(data::cubic_kernel(2.0) == Approx(0.0).margin(1e-15));
    CHECK(data::cubic_kernel(2.5) == 0.0);
    for (const auto& [in, out] : {std::pair{100, 50}, std::pair{99, 33}, std::pair{17, 68}, std::pair{10, 7}}) {
        const auto w = data::bicubic_weights(in, out, double(out) / in);
        for (int o = 0; o < out; ++o) {
            double sum = 0;
            for (int k = 0; k < w.taps; ++k) {
                sum += w.weight[o * w.taps + k];
                CHECK((w.index[o * w.taps + k] >= 0 && w.index[o * w.taps + k] < in));
            }
            CHECK(sum == Approx(1.0).epsilon(1e-12));
        }
    }
}

TEST_CASE("Bicubic resize matches the naive reference sample for sample", "[bicubic]") {
    struct Case {
        int h, w, c, bits, out_h, out_w;
    };
    const Case cases[] = {
        {36, 54, 3, 8, 18, 27},   // x2 down
        {36, 54, 3, 8, 12, 18},   // x3 down
        {36, 56, 3, 8, 9, 14},    // x4 down
        {13, 11, 3, 8, 26, 22},   // x2 up
        {13, 11, 1, 8, 39, 33},   // x3 up, gray
        {37, 53, 4, 8, 20, 41},   // height shrinks more: height pass first
        {37, 53, 3, 8, 50, 30},   // width shrinks more: width pass first
        {30, 24, 3, 16, 10, 8},   // 16-bit
        {9, 40, 2, 16, 27, 10},   // 16-bit gray+alpha, mixed directions
    };
    for (const Case& t : cases) {
        const Image in = sr::test::random_image(t.h, t.w, t.c, t.bits, 1000 + t.out_h);
        const Image got = data::bicubic_resize(in, t.out_h, t.out_w);
        const Image want = reference_image(in, t.out_h, t.out_w, double(t.out_h) / t.h, double(t.out_w) / t.w);
        INFO(t.h << "x" << t.w << "x" << t.c << " " << t.bits << "-bit -> " << t.out_h << "x" << t.out_w);
        CHECK(count_differences(got, want) == 0);
    }
    // imresize(image, factor): ceil(in * factor) outputs, weights at the factor itself.
    const Image odd = sr::test::random_image(15, 22, 3, 8, 77);
    const Image scaled = data::bicubic_scale(odd, 0.25);
    REQUIRE((scaled.height() == 4 && scaled.width() == 6));
    CHECK(count_differences(scaled, reference_image(odd, 4, 6, 0.25, 0.25)) == 0);
}

TEST_CASE("Bicubic downscale crops the HR to a multiple of the scale first", "[bicubic]") {
    const Image hr = sr::test::random_image(38, 51, 3, 8, 5);
    for (int s : {2, 3, 4}) {
        const Image lr = data::bicubic_downscale(hr, s);
        CHECK((lr.height() == 38 / s && lr.width() == 51 / s));
        const Image cropped = io::crop(hr, Window{0, 0, lr.height() * s, lr.width() * s});
        CHECK(lr == data::bicubic_resize(cropped, lr.height(), lr.width()));
    }
    CHECK(data::bicubic_downscale(hr, 1) == hr);
}

TEST_CASE("Constant images stay constant, float resize follows the reference without rounding", "[bicubic]") {
    Image flat(20, 30, 3);
    for (int y = 0; y < 20; ++y)
        for (int x = 0; x < 30; ++x)
            for (int c = 0; c < 3; ++c) flat.set(y, x, c, 37 + 50 * c);
    for (const auto& out : {data::bicubic_downscale(flat, 3), data::bicubic_scale(flat, 3.0)})
        for (int y = 0; y < out.height(); ++y)
            for (int x = 0; x < out.width(); ++x)
                for (int c = 0; c < 3; ++c) REQUIRE(out.at(y, x, c) == 37 + 50 * c);

    const Image in = sr::test::random_image(11, 14, 3, 8, 9);
    Tensor<float> batch = Tensor<float>::empty({2, 11, 14, 3});
    const Tensor<float> one = io::image_to_tensor(in);
    for (int64_t i = 0; i < one.numel(); ++i) {
        batch.data()[i] = one.data()[i];
        batch.data()[one.numel() + i] = 255.f - one.data()[i];
    }
    const Tensor<float> up = data::bicubic_resize(batch, 33, 42);
    REQUIRE(up.shape() == Shape{2, 33, 42, 3});
    const auto want = reference_resize(samples_of(in), 11, 14, 3, 33, 42, 3.0, 3.0, false, 255);
    double max_error = 0, max_error_mirror = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
        max_error = std::max(max_error, std::abs(up.data()[i] - want[i]));
        max_error_mirror = std::max(max_error_mirror, std::abs(up.data()[want.size() + i] - (255.0 - want[i])));
    }
    CHECK(max_error < 1e-3);  // float intermediate between the passes: ~1e-5 relative to 255
    CHECK(max_error_mirror < 1e-3);
    bool overshoots = false;  // cubic rings past the input range; the float path must not clamp
    for (std::size_t i = 0; i < want.size(); ++i) overshoots |= want[i] < 0 || want[i] > 255;
    CHECK(overshoots);
}

TEST_CASE("A window of the resize equals the crop of the whole resize", "[bicubic]") {
    Rng rng(42);
    const Image hr = sr::test::random_image(61, 47, 3, 8, 6);
    for (int s : {2, 3, 4}) {
        const Image lr = data::bicubic_downscale(hr, s);
        for (int trial = 0; trial < 12; ++trial) {
            Window w;
            w.height = 1 + static_cast<int>(rng.below(lr.height()));
            w.width = 1 + static_cast<int>(rng.below(lr.width()));
            w.top = static_cast<int>(rng.below(lr.height() - w.height + 1));
            w.left = static_cast<int>(rng.below(lr.width() - w.width + 1));
            if (trial == 0) w = {0, 0, 3, 3};  // the corners, where clamping matters
            if (trial == 1) w = {lr.height() - 3, lr.width() - 3, 3, 3};
            const Window support = data::bicubic_downscale_support(hr.height(), hr.width(), s, w);
            INFO("x" << s << " window " << w.top << "," << w.left << " " << w.height << "x" << w.width);
            REQUIRE((support.top >= 0 && support.left >= 0 && support.top + support.height <= hr.height() &&
                     support.left + support.width <= hr.width()));
            const Image part = io::crop(hr, support);
            CHECK(data::bicubic_downscale_window(part, support, hr.height(), hr.width(), s, w) == io::crop(lr, w));
            // A window of the source too small for the output is refused, not silently wrong.
            if (support.height > 1) {
                const Window short_support{support.top + 1, support.left, support.height - 1, support.width};
                CHECK_THROWS(data::bicubic_downscale_window(io::crop(hr, short_support), short_support, hr.height(),
                                                            hr.width(), s, w));
            }
        }
    }
}

TEST_CASE("Bicubic reproduces the Set5 and Set14 LR images exactly at x2, x3, x4", "[bicubic][data]") {
    SR_REQUIRE_DATA(data);
    int images = 0;
    for (const char* set : {"Set5", "Set14"})
        for (int s : {2, 3, 4})
            for (const auto& entry : std::filesystem::directory_iterator(data / "benchmark" / set / "HR")) {
                const auto lr_path = data / "benchmark" / set / "LR_bicubic" / ("X" + std::to_string(s)) / entry.path().filename();
                const Image hr = io::to_rgb8(io::read_image(entry.path()));
                const Image lr = io::to_rgb8(io::read_image(lr_path));
                const Image ours = data::bicubic_downscale(hr, s);
                INFO(lr_path.string());
                REQUIRE((ours.height() == lr.height() && ours.width() == lr.width()));
                CHECK(count_differences(ours, lr) == 0);
                ++images;
            }
    CHECK(images == 3 * (5 + 14));
}

TEST_CASE("Bicubic upscaling of Set5 LR gives the papers' baseline PSNR", "[bicubic][data]") {
    SR_REQUIRE_DATA(data);
    // Papers' bicubic baselines on Set5 (Y of BT.601, border = scale): x2 33.66, x3 30.39, x4 28.42.
    const std::pair<int, double> baselines[] = {{2, 33.66}, {3, 30.39}, {4, 28.42}};
    for (const auto& [s, paper] : baselines) {
        double total = 0;
        int n = 0;
        for (const auto& entry : std::filesystem::directory_iterator(data / "benchmark" / "Set5" / "HR")) {
            const Image hr = io::to_rgb8(io::read_image(entry.path()));
            const Image lr = io::to_rgb8(
                io::read_image(data / "benchmark" / "Set5" / "LR_bicubic" / ("X" + std::to_string(s)) / entry.path().filename()));
            const Image up = data::bicubic_scale(lr, s);
            double se = 0;
            int64_t count = 0;
            for (int y = s; y < up.height() - s; ++y)
                for (int x = s; x < up.width() - s; ++x) {
                    auto luma = [&](const Image& im) {
                        return 16.0 + (65.481 * im.at(y, x, 0) + 128.553 * im.at(y, x, 1) + 24.966 * im.at(y, x, 2)) / 255.0;
                    };
                    const double d = luma(up) - luma(hr);
                    se += d * d;
                    ++count;
                }
            total += 10 * std::log10(255.0 * 255.0 / (se / count));
            ++n;
        }
        INFO("x" << s << ": " << total / n << " dB, papers " << paper);
        CHECK(std::abs(total / n - paper) < 0.03);
    }
}

}  // namespace test_bicubic
