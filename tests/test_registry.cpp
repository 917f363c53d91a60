// The library as a library: the Module and Model concepts, the open model registry (a model the
// library does not know, registered here, built, saved, reloaded, tiled), deep clones, and the
// sigmoid op (naive loop and gradcheck).
#include <catch2/catch.hpp>

#include <cmath>
#include <mutex>

#include "sr/autograd/gradcheck.hpp"
#include "sr/infer/upscaler.hpp"
#include "sr/models/model_file.hpp"
#include "sr/models/profiles.hpp"
#include "sr/ops/activation.hpp"
#include "sr/ops/loss.hpp"
#include "sr/optim/adam.hpp"
#include "test_support.hpp"

namespace test_registry {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

namespace {

using namespace sr;

// ESPCN-like: 5x5 -> ReLU -> 3x3 -> ReLU -> 3x3 to 3 s^2 channels -> pixel shuffle; its width is a
// schema option the built-ins do not have.
template <class T, class D>
struct Espcn {
    using value_type = T;
    using device_type = D;
    models::ModelConfig cfg;
    nn::Conv2d<T, D> first, second, last;
    Espcn(const models::ModelConfig& c, Rng& rng)
        : cfg(c),
          first({3, c.option_int("hidden"), 5}, rng),
          second({c.option_int("hidden"), c.num_filters, 3}, rng),
          last({c.num_filters, 3 * c.scale * c.scale, 3}, rng) {}
    Tensor<T, D> operator()(const Tensor<T, D>& lr) const {
        return denormalize(pixel_shuffle(last(second(first(normalize(lr), true), true)), cfg.scale));
    }
    void collect_parameters(nn::ParameterList<T, D>& list, const std::string& prefix) const {
        first.collect_parameters(list, nn::join_name(prefix, "first"));
        second.collect_parameters(list, nn::join_name(prefix, "second"));
        last.collect_parameters(list, nn::join_name(prefix, "last"));
    }
    const models::ModelConfig& config() const { return cfg; }
    int scale() const { return cfg.scale; }
    int64_t receptive_radius() const { return nn::chained_receptive_radius(first, second, last); }
};

void register_espcn() {
    static std::once_flag once;
    std::call_once(once, [] {
        models::register_model<Espcn, double>({.name = "espcn-test",
                                               .description = "test model",
                                               .schema = {{"num_filters", "8"}, {"hidden", "6"}}});
    });
}

models::ModelConfig espcn_config(int scale) {
    register_espcn();
    return {.architecture = "espcn-test", .scale = scale, .num_filters = 5, .options = {{"hidden", "7"}}};
}

Tensor<float> random_image(int64_t h, int64_t w, uint64_t seed) {
    Rng rng(seed);
    auto t = Tensor<float>::empty({1, h, w, 3});
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(rng.uniform(0, 255));
    return t;
}

double max_abs_diff(const Tensor<float>& a, const Tensor<float>& b) {
    REQUIRE(a.shape() == b.shape());
    const auto ca = a.contiguous(), cb = b.contiguous();
    double worst = 0;
    for (int64_t i = 0; i < ca.numel(); ++i)
        worst = std::max(worst, std::isnan(ca.data()[i] - cb.data()[i]) ? INFINITY : std::abs(double(ca.data()[i]) - cb.data()[i]));
    return worst;
}

struct NoForward {
    using value_type = float;
    using device_type = Cpu;
    void collect_parameters(nn::ParameterList<float, Cpu>&, const std::string&) const {}
};
struct NoParameters {
    using value_type = float;
    using device_type = Cpu;
    Tensor<float> operator()(const Tensor<float>& x) const { return x; }
};
struct NoRadius : NoParameters {
    models::ModelConfig cfg;
    NoRadius(const models::ModelConfig& c, Rng&) : cfg(c) {}
    void collect_parameters(nn::ParameterList<float, Cpu>&, const std::string&) const {}
    const models::ModelConfig& config() const { return cfg; }
    int scale() const { return cfg.scale; }
};

}  // namespace

TEST_CASE("the Module and Model concepts accept the built-ins and name what a type lacks", "[registry]") {
    STATIC_REQUIRE(models::Model<models::Edsr<float, Cpu>>);
    STATIC_REQUIRE(models::Model<models::WdsrB<double, Cpu>>);
    STATIC_REQUIRE(models::Model<Espcn<float, Cpu>>);
    STATIC_REQUIRE(nn::Module<nn::Conv2d<float, Cpu>>);
    STATIC_REQUIRE_FALSE(nn::Module<NoForward>);
    STATIC_REQUIRE_FALSE(nn::Module<NoParameters>);
    STATIC_REQUIRE(nn::Module<NoRadius>);
    STATIC_REQUIRE_FALSE(models::Model<NoRadius>);
    STATIC_REQUIRE_FALSE(models::Model<nn::Conv2d<float, Cpu>>);  // a layer, not a whole network
}

TEST_CASE("a registered model builds from its config, with schema defaults and its own radius", "[registry]") {
    auto config = espcn_config(3);
    Rng rng(1);
    const models::AnyModel<float> model(config, rng);
    CHECK(model.scale() == 3);
    CHECK(model.receptive_radius() == 2 + 1 + 1);
    CHECK(models::receptive_radius(config) == 4);
    CHECK(model.get<Espcn<float, Cpu>>() != nullptr);
    CHECK(model.get<models::WdsrB<float, Cpu>>() == nullptr);
    const auto parameters = model.parameters();
    REQUIRE(parameters.size() == 6);
    CHECK(parameters[0].name == "first.weight");
    CHECK(parameters[0].tensor.shape() == Shape({7, 5, 5, 3}));
    CHECK(parameters[5].tensor.shape() == Shape({27}));
    CHECK(model(random_image(6, 5, 2)).shape() == Shape({1, 18, 15, 3}));

    config.options.clear();  // "hidden" falls back to the schema's default, 6
    CHECK(models::AnyModel<float>(config, rng).parameters()[0].tensor.shape() == Shape({6, 5, 5, 3}));

    CHECK_THROWS_WITH(models::register_model<Espcn>({.name = "espcn-test"}), Catch::Contains("already registered"));
    config.architecture = "no-such-net";
    CHECK_THROWS_WITH(models::AnyModel<float>(config, rng),
                      Catch::Contains("unknown architecture 'no-such-net'") && Catch::Contains("espcn-test") &&
                          Catch::Contains("wdsr-b"));
}

TEST_CASE("a registered model's radius bounds what its outputs depend on (probe)", "[registry]") {
    Rng rng(5);
    const models::AnyModel<double> model(espcn_config(2), rng);
    const int64_t radius = model.receptive_radius(), size = 2 * radius + 7, center = size / 2;
    NoGradGuard no_grad;
    auto lr = Tensor<double>::full({1, size, size, 3}, 90.0);
    const auto before = model(lr);
    lr.at({0, center, center, 0}) = 200.0;
    const auto after = model(lr);
    bool edge_changed = false;
    for (int64_t y = 0; y < size * 2; ++y)
        for (int64_t x = 0; x < size * 2; ++x) {
            const int64_t distance = std::max(std::abs(y / 2 - center), std::abs(x / 2 - center));
            const bool changed = after.at({0, y, x, 1}) != before.at({0, y, x, 1});
            if (distance > radius) REQUIRE_FALSE(changed);
            if (distance == radius) edge_changed |= changed;
        }
    CHECK(edge_changed);
}

TEST_CASE("a registered model's file carries its schema and reloads to the same network", "[registry]") {
    test::TempDir dir;
    Rng rng(2);
    const models::AnyModel<float> model(espcn_config(2), rng);
    const auto path = dir.path / "espcn.safetensors";
    models::save_model(path, model, {{"note", "test"}});
    const auto metadata = models::read_model_metadata(path);
    CHECK(metadata.at("arch") == "espcn-test");
    CHECK(metadata.at("hidden") == "7");
    CHECK(metadata.at("num_filters") == "5");
    CHECK(metadata.at("note") == "test");
    CHECK(metadata.count("weight_norm") == 0);

    const auto loaded = models::load_model(path);
    CHECK(loaded.config().option_int("hidden") == 7);
    const auto lr = random_image(9, 7, 3);
    NoGradGuard no_grad;
    CHECK(max_abs_diff(loaded(lr), model(lr)) == 0);

    // Seam-exact tiles for the new architecture, with and without the self-ensemble.
    const infer::Upscaler up(loaded);
    const auto big = random_image(23, 19, 4);
    const auto whole = up.upscale(big, {.tile = -1});
    CHECK(max_abs_diff(up.upscale(big, {.tile = 7}), whole) <= 1e-4);
    CHECK(max_abs_diff(up.upscale(big, {.tile = 7, .overlap = 1}), whole) > 1e-3);
    CHECK(max_abs_diff(up.upscale(big, {.tile = 7, .ensemble = true}), up.upscale(big, {.tile = -1, .ensemble = true})) <=
          1e-4);
}

TEST_CASE("built-in model files keep their metadata keys and load unchanged", "[registry]") {
    const auto path = std::filesystem::path(SR_SOURCE_DIR) / "models" / "sr-default-x2.safetensors";
    const auto stored = models::read_model_metadata(path);
    const auto model = models::load_model(path);
    CHECK(model.config().architecture == models::Architecture::wdsr_b);
    CHECK(model.receptive_radius() == models::builtin_receptive_radius(model.config()));
    // Every key the file's writer derived from the config is written again, with the same value.
    const auto rewritten = models::model_metadata(model.config());
    for (const auto& [key, value] : rewritten) {
        INFO(key);
        REQUIRE(stored.count(key));
        CHECK(stored.at(key) == value);
    }
}

TEST_CASE("profiles of registered architectures train configs by name", "[registry]") {
    register_espcn();
    static std::once_flag once;
    std::call_once(once, [] { models::register_profile({"espcn-test-small", espcn_config(2), 2e-3}); });
    const auto config = models::make_config("espcn-test-small", 4, {.num_filters = 3});
    CHECK(config.architecture == models::Architecture("espcn-test"));
    CHECK(config.scale == 4);
    CHECK(config.num_filters == 3);
    CHECK(config.option("hidden") == "7");
    CHECK(models::find_profile("espcn-test-small").learning_rate == 2e-3);
    CHECK_THROWS_WITH(models::register_profile({"wdsr-b-8", config, 1e-3}), Catch::Contains("exists already"));
}

TEST_CASE("clone is a deep copy of a model, folded or not", "[registry]") {
    Rng rng(3);
    const models::AnyModel<float> model(models::make_config("wdsr-b-8", 2, {.num_filters = 4, .num_blocks = 1}), rng);
    for (const auto& source : {model, model.fold_weight_norm()}) {
        const auto copy = source.clone();
        const auto a = source.parameters(), b = copy.parameters();
        REQUIRE(a.size() == b.size());
        for (std::size_t i = 0; i < a.size(); ++i) {
            INFO(a[i].name);
            CHECK(a[i].name == b[i].name);
            CHECK(a[i].tensor.data() != b[i].tensor.data());
            CHECK(std::equal(a[i].tensor.data(), a[i].tensor.data() + a[i].tensor.numel(), b[i].tensor.data()));
        }
        b[0].tensor.data()[0] += 1.f;
        CHECK(a[0].tensor.data()[0] + 1.f == b[0].tensor.data()[0]);
    }
    const models::AnyModel<float> espcn(espcn_config(2), rng);
    CHECK(espcn.clone().parameters()[0].tensor.data() != espcn.parameters()[0].tensor.data());
}

TEST_CASE("sigmoid matches its formula and its backward passes gradcheck", "[registry][ops]") {
    auto x = Tensor<double>::empty({2, 3, 4, 5});
    Rng rng(8);
    for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = rng.uniform(-6.0, 6.0);
    const auto y = sigmoid(x);
    double worst = 0;
    for (int64_t i = 0; i < x.numel(); ++i) worst = std::max(worst, std::abs(y.data()[i] - 1.0 / (1.0 + std::exp(-x.data()[i]))));
    CHECK(worst <= 1e-15);  // the same formula in double: only rounding differs
    x.set_requires_grad(true);
    const auto result = gradcheck([](const auto& in) { return sigmoid(in[0]); }, {x});
    INFO(result.report);
    CHECK(result.ok);
    CHECK(result.checked == x.numel());
}

TEST_CASE("an optimizer's clone for a cloned model continues exactly like the original", "[registry][optim]") {
    Rng rng(9);
    const models::AnyModel<float> model(models::make_config("wdsr-b-8", 2, {.num_filters = 4, .num_blocks = 1}), rng);
    optim::Adam<float, Cpu> adam(model.parameters(), {.learning_rate = 1e-2});
    const auto lr = random_image(6, 6, 10), hr = random_image(12, 12, 11);
    auto step = [&](const models::AnyModel<float>& m, optim::Adam<float, Cpu>& optimizer) {
        optimizer.zero_grad();
        l1_loss(m(lr), hr).backward();
        optimizer.step();
    };
    step(model, adam);
    const auto copy = model.clone();
    auto adam_copy = adam.clone_for(copy.parameters());
    CHECK(adam_copy.step_count() == 1);
    CHECK(adam_copy.state()[0].tensor.data() != adam.state()[0].tensor.data());
    step(model, adam);
    step(copy, adam_copy);
    const auto a = model.parameters(), b = copy.parameters();
    for (std::size_t i = 0; i < a.size(); ++i) {
        INFO(a[i].name);
        CHECK(std::equal(a[i].tensor.data(), a[i].tensor.data() + a[i].tensor.numel(), b[i].tensor.data()));
    }
}

TEST_CASE("crop and slice_batch refuse to cut the graph of a tensor that requires a gradient", "[registry][tensor]") {
    auto x = Tensor<float>::full({2, 4, 4, 3}, 1.f);
    x.set_requires_grad(true);
    CHECK_THROWS_WITH(x.crop(0, 0, 2, 2), Catch::Contains("crop") && Catch::Contains("cut the autograd graph"));
    CHECK_THROWS_WITH(x.slice_batch(0, 1), Catch::Contains("slice_batch") && Catch::Contains("NoGradGuard"));
    NoGradGuard no_grad;
    CHECK(x.crop(1, 1, 2, 2).shape() == Shape({2, 2, 2, 3}));
    CHECK(x.slice_batch(1, 2).data() == x.data() + 48);
}

}  // namespace test_registry
