// Inference: tiles cover the image exactly; tiled output equals whole-image output for every
// architecture (with and without the self-ensemble), and differs when the overlap is below the
// receptive radius; the self-ensemble is the mean of the 8 transformed passes; alpha, gray and
// 16-bit images keep their layout and depth.
#include <catch2/catch.hpp>

#include "sr/data/bicubic.hpp"
#include "sr/infer/upscaler.hpp"
#include "sr/models/profiles.hpp"
#include "test_support.hpp"

namespace test_infer {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

using sr::infer::Upscaler;

namespace {
sr::models::AnyModel<float> small_model(const char* profile, int scale, int blocks = 3) {
    sr::models::ProfileOverrides o;
    o.num_blocks = blocks;
    o.num_filters = 8;
    sr::Rng rng(11);
    return sr::models::AnyModel<float>(sr::models::make_config(profile, scale, o), rng);
}
sr::Tensor<float> random_image(int64_t h, int64_t w, uint64_t seed) {
    sr::Rng rng(seed);
    auto t = sr::Tensor<float>::empty({1, h, w, 3});
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(std::floor(rng.uniform(0, 256)));
    return t;
}
double max_abs_diff(const sr::Tensor<float>& a, const sr::Tensor<float>& b) {
    double d = 0;
    for (int64_t i = 0; i < a.numel(); ++i) d = std::max(d, double(std::abs(a.data()[i] - b.data()[i])));
    return d;
}
int64_t rounded_differences(const sr::Tensor<float>& a, const sr::Tensor<float>& b) {
    int64_t n = 0;
    for (int64_t i = 0; i < a.numel(); ++i) n += sr::io::quantize_u8(a.data()[i]) != sr::io::quantize_u8(b.data()[i]);
    return n;
}
}  // namespace

TEST_CASE("tile plans partition the image and clip margins at its borders", "[infer]") {
    for (auto [h, w, tile, overlap] : {std::tuple{37, 29, 8, 5}, std::tuple{100, 1000, 512, 34}, std::tuple{5, 5, 0, 3},
                                       std::tuple{64, 64, 64, 10}, std::tuple{65, 7, 16, 40}}) {
        const auto tiles = sr::infer::plan_tiles(h, w, tile, overlap);
        std::vector<int> covered(static_cast<std::size_t>(h * w), 0);
        for (const auto& t : tiles) {
            if (tile > 0) CHECK(t.height <= tile);
            CHECK(t.in_top == std::max<int64_t>(0, t.top - overlap));
            CHECK(t.in_top + t.in_height == std::min<int64_t>(h, t.top + t.height + overlap));
            for (int64_t y = t.top; y < t.top + t.height; ++y)
                for (int64_t x = t.left; x < t.left + t.width; ++x) ++covered[static_cast<std::size_t>(y * w + x)];
        }
        CHECK(std::all_of(covered.begin(), covered.end(), [](int c) { return c == 1; }));
    }
    // Cores are evened out.
    const auto even = sr::infer::plan_tiles(1000, 10, 512, 0);
    REQUIRE(even.size() == 2);
    CHECK(even[0].height == 500);
}

TEST_CASE("tiled inference equals whole-image inference for every architecture", "[infer]") {
    for (const char* profile : {"edsr-8", "wdsr-a-8", "wdsr-b-8"}) {
        for (int scale : {2, 3, 4}) {
            INFO(profile << " x" << scale);
            const Upscaler up(small_model(profile, scale));
            const auto lr = random_image(37, 29, 3);
            const auto whole = up.upscale(lr, {.tile = -1});
            for (int64_t tile : {8, 13}) {
                INFO("tile " << tile);
                const auto tiled = up.upscale(lr, {.tile = tile});
                CHECK(max_abs_diff(tiled, whole) <= 1e-4);
                CHECK(rounded_differences(tiled, whole) == 0);
            }
            // With less overlap than the receptive radius the seams show: the check above can fail.
            const auto short_overlap = up.upscale(lr, {.tile = 8, .overlap = up.receptive_radius() / 2});
            CHECK(max_abs_diff(short_overlap, whole) > 1e-3);
        }
    }
}

TEST_CASE("the self-ensemble is the mean of the 8 flipped and rotated passes, tiled or not", "[infer]") {
    const auto model = small_model("wdsr-b-8", 2, 2);
    const Upscaler up(model);
    const auto lr = random_image(11, 14, 4);
    const auto ensemble = up.upscale(lr, {.tile = -1, .ensemble = true});
    // Reference: transform the whole image by hand (transpose and flips on the tensor).
    sr::NoGradGuard no_grad;
    const auto folded = model.fold_weight_norm();
    auto expected = sr::Tensor<double>::zeros(ensemble.shape());
    for (int t = 0; t < 8; ++t) {
        const bool transpose = t & 4, flip_h = t & 2, flip_w = t & 1;
        const int64_t h = transpose ? 14 : 11, w = transpose ? 11 : 14;
        auto x = sr::Tensor<float>::empty({1, h, w, 3});
        auto source = [&](int64_t i, int64_t j) {  // (i, j) of the transformed image -> original pixel
            if (flip_h) i = h - 1 - i;
            if (flip_w) j = w - 1 - j;
            return transpose ? std::pair{j, i} : std::pair{i, j};
        };
        for (int64_t i = 0; i < h; ++i)
            for (int64_t j = 0; j < w; ++j)
                for (int64_t c = 0; c < 3; ++c) {
                    auto [oi, oj] = source(i, j);
                    x.at({0, i, j, c}) = lr.at({0, oi, oj, c});
                }
        const auto y = folded(x);
        const int64_t hs = h * 2, ws = w * 2;
        for (int64_t i = 0; i < hs; ++i)
            for (int64_t j = 0; j < ws; ++j) {
                int64_t si = flip_h ? hs - 1 - i : i, sj = flip_w ? ws - 1 - j : j;
                auto [oi, oj] = transpose ? std::pair{sj, si} : std::pair{si, sj};
                for (int64_t c = 0; c < 3; ++c) expected.at({0, oi, oj, c}) += y.at({0, i, j, c}) / 8.0;
            }
    }
    CHECK(sr::test::normalized_max_error(ensemble, expected) < 1e-6);
    const auto tiled = up.upscale(lr, {.tile = 5, .ensemble = true});
    CHECK(rounded_differences(tiled, ensemble) == 0);
    CHECK(max_abs_diff(tiled, ensemble) <= 1e-4);
}

TEST_CASE("images keep their layout and depth: gray, alpha, 16-bit", "[infer]") {
    const Upscaler up(small_model("wdsr-b-8", 2, 2));
    sr::Rng rng(9);
    sr::io::Image rgba(9, 7, 4, 8);
    for (std::size_t i = 0; i < rgba.sample_count(); ++i) rgba.data8()[i] = static_cast<uint8_t>(rng.below(256));
    const auto out = up.upscale(rgba, {.tile = 4});
    CHECK(out.height() == 18);
    CHECK(out.channels() == 4);
    // Alpha is the bicubic enlargement of the input alpha.
    const auto parts = sr::io::split_alpha(rgba);
    const auto alpha = sr::data::bicubic_resize(*parts.alpha, 18, 14);
    for (int y = 0; y < 18; ++y)
        for (int x = 0; x < 14; ++x) REQUIRE(out.at(y, x, 3) == alpha.at(y, x, 0));
    // The colour equals the RGB-only result.
    const auto rgb_only = up.upscale(parts.color, {.tile = -1});
    for (int y = 0; y < 18; ++y)
        for (int x = 0; x < 14; ++x)
            for (int c = 0; c < 3; ++c) REQUIRE(out.at(y, x, c) == rgb_only.at(y, x, c));

    sr::io::Image gray(6, 5, 1, 8);
    for (std::size_t i = 0; i < gray.sample_count(); ++i) gray.data8()[i] = static_cast<uint8_t>(rng.below(256));
    const auto gray_out = up.upscale(gray);
    CHECK(gray_out.channels() == 1);
    CHECK(gray_out.height() == 12);

    sr::io::Image deep(6, 5, 3, 16);
    for (std::size_t i = 0; i < deep.sample_count(); ++i) deep.data16()[i] = static_cast<uint16_t>(rng.below(65536));
    const auto deep_out = up.upscale(deep);
    CHECK(deep_out.bit_depth() == 16);
    // 16-bit output is the float result x 257: check one pixel against the float path.
    const auto reference = up.upscale(sr::io::image_to_tensor(deep), {.tile = -1});
    CHECK(deep_out.at(3, 4, 1) == sr::io::quantize_u16(double(reference.at({0, 3, 4, 1})) * 257.0));
}

}  // namespace test_infer
