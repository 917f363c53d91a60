// The paper protocol against published numbers: plain bicubic upscaling of the standard LR images
// of Set5 and Set14 x4 scores 28.42 dB and 26.00 dB Y-PSNR in the SR papers' tables
// (../shared/data/README.md). Gray images (Set14's bridge) are compared as one channel, as the
// papers' MATLAB scripts do; expanded to RGB first, Set14 scores 26.09 dB instead. A separate
// translation unit because it needs image I/O and the resampler.
#include <string>
#include <vector>

#include "sr/data/bicubic.hpp"
#include "sr/io/image.hpp"
#include "sr/io/image_convert.hpp"
#include "sr/io/image_transform.hpp"
#include "sr/metrics/evaluate.hpp"
#include "test_support.hpp"

namespace test_metrics_benchmark {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

namespace {

struct Score {
    double psnr = 0, ssim = 0;
};

// Means over a set's images of the PSNR and SSIM of MATLAB-bicubic x`scale` upscaling (an 8-bit
// result, as imresize on uint8) against the HR cropped to the SR size, under each protocol.
std::vector<Score> bicubic_baseline(const std::filesystem::path& set_dir, int scale,
                                   const std::vector<sr::metrics::MetricsProtocol>& protocols) {
    const auto load = [](const std::filesystem::path& path) {
        auto image = sr::io::read_image(path);
        return image.channels() == 1 && image.bit_depth() == 8 ? image : sr::io::to_rgb8(image);
    };
    std::vector<Score> mean(protocols.size());
    int count = 0;
    for (const auto& entry : std::filesystem::directory_iterator(set_dir / "HR")) {
        const auto name = entry.path().filename();
        const auto hr = load(entry.path());
        const auto lr = load(set_dir / "LR_bicubic" / ("X" + std::to_string(scale)) / name);
        const auto up = sr::data::bicubic_scale(lr, scale);
        const auto hr_cropped = sr::io::crop(hr, sr::io::Window{0, 0, up.height(), up.width()});
        for (std::size_t p = 0; p < protocols.size(); ++p) {
            const auto m = sr::metrics::evaluate_pair(sr::io::image_to_tensor(up),
                                                      sr::io::image_to_tensor(hr_cropped), protocols[p]);
            mean[p].psnr += m.psnr;
            mean[p].ssim += m.ssim;
        }
        ++count;
    }
    REQUIRE(count > 0);
    for (auto& m : mean) {
        m.psnr /= count;
        m.ssim /= count;
    }
    return mean;
}

}  // namespace

TEST_CASE("metrics: bicubic x4 on Set5 and Set14 scores the published paper-protocol PSNR", "[metrics][data]") {
    SR_REQUIRE_DATA(data);
    const auto paper = sr::metrics::MetricsProtocol::paper(4);
    auto paper_round_y = paper;
    paper_round_y.round_y = true;
    const auto set5 = bicubic_baseline(data / "benchmark" / "Set5", 4, {paper, paper_round_y});
    const auto set14 = bicubic_baseline(data / "benchmark" / "Set14", 4, {paper, paper_round_y});
    WARN("bicubic x4, paper protocol: Set5 " << set5[0].psnr << " dB (Y rounded: " << set5[1].psnr << ") SSIM "
                                             << set5[0].ssim << "; Set14 " << set14[0].psnr << " dB (Y rounded: "
                                             << set14[1].psnr << ") SSIM " << set14[0].ssim);
    // Published (rounded to 0.01 dB): 28.42 and 26.00. Our Y (not rounded, as BasicSR and the
    // MATLAB scripts that call rgb2ycbcr on doubles) gives 28.430 and 25.997; MATLAB's uint8 Y gives
    // 28.418 and 25.993. The tables mix evaluation scripts, so neither variant matches both to
    // 0.005 dB; 0.015 dB still catches every protocol slip (a wrong border or Y formula, gray
    // expanded to RGB: 0.05 dB and more).
    for (int p = 0; p < 2; ++p) {
        INFO("protocol " << (p == 0 ? paper : paper_round_y).describe());
        CHECK(set5[p].psnr == Approx(28.42).margin(0.015));
        CHECK(set14[p].psnr == Approx(26.00).margin(0.015));
    }
}

}  // namespace test_metrics_benchmark
