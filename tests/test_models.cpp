// The SR models: parameter counts of every profile against reference-behaviour.md §1.8, output
// shapes at every scale, state-dict names, the receptive-field radius, and scale transfer.
#include <catch2/catch.hpp>

#include "sr/autograd/backward.hpp"
#include "sr/models/model.hpp"
#include "sr/models/profiles.hpp"
#include "test_support.hpp"

namespace test_models {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

using sr::models::AnyModel;
using sr::models::make_config;

namespace {
struct Counts {
    int64_t without_g, g;
};
Counts count(const sr::nn::ParameterList<float, sr::Cpu>& list) {
    Counts c{0, 0};
    for (const auto& p : list) {
        const bool is_g = p.name.size() >= 8 && p.name.compare(p.name.size() - 8, 8, "weight_g") == 0;
        (is_g ? c.g : c.without_g) += p.tensor.numel();
    }
    return c;
}
}  // namespace

TEST_CASE("parameter counts equal reference-behaviour.md §1.8", "[models]") {
    struct Row {
        const char* profile;
        std::optional<int64_t> expansion;
        int scale;
        int64_t params;
    };
    const Row rows[] = {
        {"wdsr-a-8", {}, 2, 596380},     {"wdsr-a-8", {}, 3, 601855},     {"wdsr-a-8", {}, 4, 609520},
        {"wdsr-a-8", 6, 2, 891804},      {"wdsr-a-16", {}, 2, 1187484},   {"wdsr-a-16", {}, 3, 1192959},
        {"wdsr-a-16", {}, 4, 1200624},   {"wdsr-a-32", {}, 2, 2369692},   {"wdsr-a-32", {}, 3, 2375167},
        {"wdsr-a-32", {}, 4, 2382832},   {"wdsr-a-32", 6, 2, 3551388},    {"wdsr-a-32", 6, 3, 3556863},
        {"wdsr-a-32", 6, 4, 3564528},    {"wdsr-b-8", {}, 2, 152420},     {"wdsr-b-8", {}, 3, 157895},
        {"wdsr-b-8", {}, 4, 165560},     {"wdsr-b-16", {}, 2, 299564},    {"wdsr-b-16", {}, 3, 305039},
        {"wdsr-b-16", {}, 4, 312704},    {"wdsr-b-32", {}, 2, 593852},    {"wdsr-b-32", {}, 3, 599327},
        {"wdsr-b-32", {}, 4, 606992},    {"edsr-8", {}, 2, 779011},       {"edsr-8", {}, 3, 963651},
        {"edsr-8", {}, 4, 926723},       {"edsr-16", {}, 2, 1369859},     {"edsr-16", {}, 3, 1554499},
        {"edsr-16", {}, 4, 1517571},     {"edsr", {}, 2, 40729603},       {"edsr", {}, 3, 43680003},
        {"edsr", {}, 4, 43089923},
    };
    for (const auto& row : rows) {
        INFO(row.profile << " x" << row.scale << (row.expansion ? " r=6" : ""));
        sr::models::ProfileOverrides overrides;
        overrides.expansion = row.expansion;
        sr::Rng rng(1);
        AnyModel<float> model(make_config(row.profile, row.scale, overrides), rng);
        CHECK(count(model.parameters()).without_g == row.params);
    }
    // With the weight-norm g vectors: the official "1,190,100" and the TF2 README's 0.62M.
    const std::pair<int, int64_t> with_g[] = {{2, 1190100}, {3, 1195605}, {4, 1203312}};
    for (auto [scale, total] : with_g) {
        sr::Rng rng(1);
        auto c = count(AnyModel<float>(make_config("wdsr-a-16", scale), rng).parameters());
        CHECK(c.without_g + c.g == total);
    }
    sr::Rng rng(1);
    auto c = count(AnyModel<float>(make_config("wdsr-b-32", 4), rng).parameters());
    CHECK(c.without_g + c.g == 615088);
}

TEST_CASE("every architecture upscales by its scale and names its parameters like the reference code", "[models]") {
    for (const char* profile : {"edsr-8", "wdsr-a-8", "wdsr-b-8"}) {
        for (int scale : {2, 3, 4}) {
            INFO(profile << " x" << scale);
            sr::models::ProfileOverrides small;
            small.num_blocks = 2;
            small.num_filters = 8;
            sr::Rng rng(2);
            AnyModel<float> model(make_config(profile, scale, small), rng);
            sr::NoGradGuard no_grad;
            auto lr = sr::Tensor<float>::full({2, 7, 5, 3}, 100.f);
            auto sr_image = model(lr);
            CHECK(sr_image.shape() == sr::Shape({2, 7 * scale, 5 * scale, 3}));
            auto names = model.parameters();
            CHECK(names.front().name.rfind("head.0.", 0) == 0);
            if (std::string(profile) == "edsr-8") {
                CHECK(sr::nn::find_parameter(names, "body.1.body.2.weight").shape() == sr::Shape({8, 3, 3, 8}));
                CHECK(sr::nn::find_parameter(names, "body.2.weight").defined());  // body end
                CHECK(sr::nn::find_parameter(names, "tail.1.weight").shape() == sr::Shape({3, 3, 3, 8}));
                if (scale == 4) CHECK(sr::nn::find_parameter(names, "tail.0.2.weight").shape() == sr::Shape({32, 3, 3, 8}));
                if (scale == 3) CHECK(sr::nn::find_parameter(names, "tail.0.0.weight").shape() == sr::Shape({72, 3, 3, 8}));
            } else {
                CHECK(sr::nn::find_parameter(names, "skip.0.weight_v").shape() == sr::Shape({3 * scale * scale, 5, 5, 3}));
                CHECK(sr::nn::find_parameter(names, "tail.0.weight_g").shape() == sr::Shape({3 * scale * scale}));
            }
            if (std::string(profile) == "wdsr-b-8")
                CHECK(sr::nn::find_parameter(names, "body.0.body.3.weight_v").shape() == sr::Shape({8, 3, 3, 6}));
        }
    }
}

TEST_CASE("outputs do not depend on inputs beyond the receptive radius, and do within it", "[models]") {
    for (const char* profile : {"edsr-8", "wdsr-a-8", "wdsr-b-8"}) {
        for (int scale : {2, 4}) {
            INFO(profile << " x" << scale);
            sr::models::ProfileOverrides small;
            small.num_blocks = 3;
            small.num_filters = 8;
            const auto config = make_config(profile, scale, small);
            sr::Rng rng(3);
            AnyModel<double> model(config, rng);
            const int64_t radius = sr::models::receptive_radius(config);
            const int64_t size = 2 * radius + 9, center = size / 2;
            sr::NoGradGuard no_grad;
            auto lr = sr::Tensor<double>::full({1, size, size, 3}, 90.0);
            auto before = model(lr);
            lr.at({0, center, center, 1}) = 200.0;
            auto after = model(lr);
            // Output pixels whose LR footprint lies more than `radius` away are untouched; the
            // HR pixel covering LR column center + radius (the edge of the field) changes.
            for (int64_t y = 0; y < size * scale; ++y)
                for (int64_t x = 0; x < size * scale; ++x) {
                    const int64_t ly = y / scale, lx = x / scale;
                    const int64_t distance = std::max(std::abs(ly - center), std::abs(lx - center));
                    if (distance > radius)
                        REQUIRE(after.at({0, y, x, 0}) == before.at({0, y, x, 0}));
                }
            bool edge_changed = false;
            for (int64_t x = (center + radius) * scale; x < (center + radius + 1) * scale; ++x)
                edge_changed |= after.at({0, center * scale, x, 0}) != before.at({0, center * scale, x, 0});
            CHECK(edge_changed);
        }
    }
}

TEST_CASE("scale transfer copies every parameter but the scale-specific ones", "[models]") {
    sr::Rng rng(4);
    AnyModel<float> x2(make_config("wdsr-b-8", 2), rng);
    AnyModel<float> x4(make_config("wdsr-b-8", 4), rng);
    auto report = sr::nn::copy_matching(x2.parameters(), x4.parameters());
    CHECK(report.kept == std::vector<std::string>{"tail.0.weight_g", "tail.0.weight_v", "tail.0.bias",
                                                  "skip.0.weight_g", "skip.0.weight_v", "skip.0.bias"});
    CHECK(report.copied.size() == x4.parameters().size() - 6);
    CHECK(sr::nn::find_parameter(x4.parameters(), "body.3.body.0.weight_v").to_vector() ==
          sr::nn::find_parameter(x2.parameters(), "body.3.body.0.weight_v").to_vector());
}

TEST_CASE("unknown profiles and impossible configurations are clear errors", "[models]") {
    CHECK_THROWS_WITH(make_config("wdsr-c-8", 2), Catch::Contains("unknown profile 'wdsr-c-8'") && Catch::Contains("edsr-16"));
    CHECK_THROWS_WITH(make_config("edsr-16", 5), Catch::Contains("scale must be 2, 3 or 4"));
    sr::models::ProfileOverrides bad;
    bad.num_filters = 0;
    CHECK_THROWS_WITH(make_config("wdsr-b-8", 2, bad), Catch::Contains("num_filters"));
}

TEST_CASE("a model moved between devices keeps every parameter by name and shares nothing", "[models]") {
    // Cpu -> Cpu exercises the rebuild-and-copy-by-name path every device move takes.
    sr::Rng rng(6);
    for (const char* profile : {"edsr-8", "wdsr-a-8", "wdsr-b-8"}) {
        INFO(profile);
        AnyModel<float> model(make_config(profile, 3), rng);
        const auto moved = model.to<sr::Cpu>();
        const auto a = model.parameters(), b = moved.parameters();
        REQUIRE(a.size() == b.size());
        for (std::size_t i = 0; i < a.size(); ++i) {
            CHECK(a[i].name == b[i].name);
            CHECK(a[i].tensor.to_vector() == b[i].tensor.to_vector());
            CHECK(a[i].tensor.data() != b[i].tensor.data());
            CHECK(b[i].tensor.requires_grad());
        }
        a.front().tensor.data()[0] += 1.f;
        CHECK(a.front().tensor.data()[0] != b.front().tensor.data()[0]);
    }
    // A folded WDSR has plain weights where the config says weight norm: moving it would lose them.
    AnyModel<float> wdsr(make_config("wdsr-b-8", 2), rng);
    CHECK_THROWS_WITH(wdsr.fold_weight_norm().to<sr::Cpu>(), Catch::Contains("fold_weight_norm"));
}

}  // namespace test_models
