// bf16 convolutions on the CPU (sr/ops/cpu/precision.hpp): every pass against the naive double
// reference evaluated on the operands rounded to bf16, and the official WDSR-B x4 on Set5/Set14
// in bf16 against fp32.
//
// Why the rounded reference: a bf16 x bf16 product is exact in float (8+8 significant bits) and
// oneDNN accumulates in float, so once the reference sees the same rounded operands the only
// difference left is float accumulation order, the 1e-5 bound of tests/test_conv2d.cpp. A kernel
// that rounded its accumulators or outputs to bf16 (relative error ~4e-3) fails that; one that
// silently ran fp32 fails the check that bf16 differs from the unrounded reference.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>

#include "python_support.hpp"
#include "reference/conv2d_naive.hpp"
#include "sr/core/rng.hpp"
#include "sr/io/image.hpp"
#include "sr/metrics/evaluate.hpp"
#include "sr/models/model_file.hpp"
#include "sr/ops/conv2d.hpp"
#include "reference/bf16_round.hpp"
#include "test_support.hpp"

namespace test_conv2d_bf16 {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

namespace {

using sr::test::round_to_bf16;

sr::Tensor<float> random_tensor(const sr::Shape& shape, uint64_t seed) {
    sr::Rng rng(seed);
    auto t = sr::Tensor<float>::empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(rng.uniform(-1.0, 1.0));
    return t;
}

sr::Tensor<float> rounded(const sr::Tensor<float>& t) {
    auto r = sr::Tensor<float>::empty(t.shape());
    for (int64_t i = 0; i < t.numel(); ++i) r.data()[i] = round_to_bf16(t.data()[i]);
    return r;
}

struct PrecisionScope {
    explicit PrecisionScope(sr::Precision p) : previous(sr::cpu_precision()) { sr::set_cpu_precision(p); }
    ~PrecisionScope() { sr::set_cpu_precision(previous); }
    sr::Precision previous;
};

// Runs tools/sr-convert on `source` into `output` (as tests/test_golden.cpp does).
sr::test::PythonResult run_convert(const std::filesystem::path& source, const std::filesystem::path& output) {
    return sr::test::run_command(std::string("'") + SR_CONVERT_PYTHON + "' '" + SR_SOURCE_DIR + "/tools/sr-convert' '" +
                                 source.string() + "' -o '" + output.string() + "'");
}

}  // namespace

TEST_CASE("precision names parse and bf16 is refused without bf16 hardware", "[conv2d][bf16]") {
    CHECK(sr::parse_precision("fp32") == sr::Precision::fp32);
    CHECK(sr::parse_precision("bf16") == sr::Precision::bf16);
    CHECK_THROWS_WITH(sr::parse_precision("fp16"), Catch::Contains("'fp16'"));
    if (!sr::cpu_supports_bf16())
        CHECK_THROWS_WITH(sr::set_cpu_precision(sr::Precision::bf16), Catch::Contains("neither AMX-BF16 nor AVX512-BF16"));
}

TEST_CASE("bf16 conv2d equals the reference on bf16-rounded operands with float accumulation", "[conv2d][bf16]") {
    if (!sr::cpu_supports_bf16()) SR_SKIP("this CPU has neither AMX-BF16 nor AVX512-BF16");
    INFO("bf16 unit: " << sr::cpu_bf16_unit());
    PrecisionScope scope(sr::Precision::bf16);
    struct Case {
        int64_t n, h, w, c, o, k;
    };
    for (const Case cs : {Case{2, 9, 11, 64, 64, 3}, Case{1, 12, 7, 32, 128, 3}, Case{2, 6, 13, 32, 192, 1},
                          Case{1, 8, 8, 192, 25, 1}, Case{1, 5, 7, 3, 16, 3}}) {
        INFO("N=" << cs.n << " H=" << cs.h << " W=" << cs.w << " C=" << cs.c << " O=" << cs.o << " k=" << cs.k);
        auto x = random_tensor({cs.n, cs.h, cs.w, cs.c}, 1);
        auto w = random_tensor({cs.o, cs.k, cs.k, cs.c}, 2);
        auto b = random_tensor({cs.o}, 3);
        auto grad_y = random_tensor({cs.n, cs.h, cs.w, cs.o}, 4);
        const auto xr = rounded(x), wr = rounded(w), gr = rounded(grad_y);

        auto y = sr::Tensor<float>::empty({cs.n, cs.h, cs.w, cs.o});
        sr::ops::conv2d_forward(x, w, b, y);
        CHECK(sr::test::normalized_max_error(y, sr::reference::conv2d_forward(xr, wr, b)) < 1e-5);
        // Rounding really happened (x and w carry 24 significant bits, bf16 keeps 8).
        CHECK(sr::test::normalized_max_error(y, sr::reference::conv2d_forward(x, w, b)) > 1e-4);

        // Fused ReLU + accumulate: the float addend is not rounded.
        auto addend = random_tensor(y.shape(), 5);
        addend.copy_to(y);
        sr::ops::conv2d_forward(x, w, b, y, sr::ConvEpilogue{true, true});
        const auto ref = sr::reference::conv2d_forward(xr, wr, b);
        auto expected = sr::Tensor<double>::empty(ref.shape());
        for (int64_t i = 0; i < ref.numel(); ++i) expected.data()[i] = std::max(0.0, ref.data()[i] + double(addend.data()[i]));
        CHECK(sr::test::normalized_max_error(y, expected) < 1e-5);

        auto grad_x = sr::Tensor<float>::empty(x.shape());
        sr::ops::conv2d_backward_data(grad_y, w, grad_x);
        CHECK(sr::test::normalized_max_error(grad_x, sr::reference::conv2d_backward_data(gr, wr, cs.c)) < 1e-5);

        auto grad_w = sr::Tensor<float>::empty(w.shape());
        auto grad_b = sr::Tensor<float>::empty(b.shape());
        sr::ops::conv2d_backward_weights(x, grad_y, grad_w, grad_b);
        sr::Tensor<double> ref_w, ref_b;
        sr::reference::conv2d_backward_weights(xr, gr, cs.k, ref_w, ref_b);
        CHECK(sr::test::normalized_max_error(grad_w, ref_w) < 1e-5);
        CHECK(sr::test::normalized_max_error(grad_b, ref_b) < 1e-5);
    }
}

TEST_CASE("bf16 conv2d_backward shares one bf16 grad_y between both passes with the passes' results", "[conv2d][bf16]") {
    if (!sr::cpu_supports_bf16()) SR_SKIP("this CPU has neither AMX-BF16 nor AVX512-BF16");
    PrecisionScope scope(sr::Precision::bf16);
    for (const int64_t k : {1, 3}) {
        INFO("k=" << k);
        auto x = random_tensor({2, 7, 9, 32}, 11);
        auto w = random_tensor({48, k, k, 32}, 12);
        auto grad_y = random_tensor({2, 7, 9, 48}, 13);
        auto grad_x = sr::Tensor<float>::empty(x.shape()), grad_x_alone = sr::Tensor<float>::empty(x.shape());
        auto grad_w = sr::Tensor<float>::empty(w.shape()), grad_w_alone = sr::Tensor<float>::empty(w.shape());
        auto grad_b = sr::Tensor<float>::empty({48}), grad_b_alone = sr::Tensor<float>::empty({48});
        sr::ops::conv2d_backward(x, grad_y, w, grad_x, grad_w, grad_b);
        sr::ops::conv2d_backward_data(grad_y, w, grad_x_alone);
        sr::ops::conv2d_backward_weights(x, grad_y, grad_w_alone, grad_b_alone);
        // Same primitives on the same rounded operands: equal to the bit.
        CHECK(grad_x.to_vector() == grad_x_alone.to_vector());
        CHECK(grad_w.to_vector() == grad_w_alone.to_vector());
        CHECK(grad_b.to_vector() == grad_b_alone.to_vector());
        CHECK_THROWS_WITH(sr::ops::conv2d_backward(x, grad_y, w, grad_w, grad_w, grad_b), Catch::Contains("shaped like"));
    }
}

TEST_CASE("the pretrained WDSR-B x4 in bf16 stays within 0.02 dB of fp32 on Set5 and Set14",
          "[conv2d][bf16][data][slow]") {
    SR_REQUIRE_DATA(data);
    SR_REQUIRE_CONVERT_PYTHON();
    if (!sr::cpu_supports_bf16()) SR_SKIP("this CPU has neither AMX-BF16 nor AVX512-BF16");
    sr::test::TempDir dir;
    const auto converted = dir.path / "wdsr-b-32-x4.safetensors";
    auto result = run_convert(data / "weights" / "wdsr-b-32-x4.keras.h5", converted);
    INFO(result.output);
    REQUIRE(result.exit_code == 0);
    const auto model = sr::models::load_model<float>(converted).fold_weight_norm();
    sr::NoGradGuard no_grad;
    for (const char* set : {"Set5", "Set14"}) {
        double total[2] = {0, 0};
        int count = 0;
        for (const auto& entry : std::filesystem::directory_iterator(data / "benchmark" / set / "HR")) {
            const auto name = entry.path().filename();
            const auto lr = sr::io::image_to_tensor(
                sr::io::to_rgb8(sr::io::read_image(data / "benchmark" / set / "LR_bicubic" / "X4" / name)));
            auto hr = sr::io::image_to_tensor(sr::io::to_rgb8(sr::io::read_image(entry.path())));
            for (int p = 0; p < 2; ++p) {
                PrecisionScope scope(p == 0 ? sr::Precision::fp32 : sr::Precision::bf16);
                auto sr_image = model(lr);
                auto hr_crop = hr.crop(0, 0, sr_image.dim(1), sr_image.dim(2)).contiguous();
                total[p] += sr::metrics::evaluate_pair(sr_image, hr_crop, sr::metrics::MetricsProtocol::paper(4), false).psnr;
            }
            ++count;
        }
        const double fp32 = total[0] / count, bf16 = total[1] / count;
        std::printf("pretrained wdsr-b-32 x4, %s: mean Y-PSNR fp32 %.4f dB, bf16 %.4f dB (%s), %d images\n", set, fp32,
                    bf16, sr::cpu_bf16_unit(), count);
        INFO(set << ": fp32 " << fp32 << " dB, bf16 " << bf16 << " dB");
        CHECK(std::abs(bf16 - fp32) < 0.02);
        CHECK(fp32 == Approx(set == std::string("Set5") ? 32.09 : 28.57).margin(0.01));
    }
}

}  // namespace test_conv2d_bf16
