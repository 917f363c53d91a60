// The device convolutions (sr/cuda/conv2d.hpp: cuDNN graphs, cuBLASLt GEMMs for 1x1) against the
// CPU op (sr::ops::conv2d_* on Tensor<float, Cpu>) on the same inputs: every forward fusion,
// backward-data, backward-weights and the bias gradient, on the model shapes and odd sizes, with
// each library forced, measured and heuristic plan choice, deterministic mode and misaligned
// operands. [cuda] cases skip without a GPU; the argument checks run everywhere CUDA was built.
//
// Tolerance: normalized max error (max |gpu - cpu| / max |cpu|) <= 1e-4 without TF32. Both sides
// compute in float and differ only in summation order over at most C*k*k = 1728 terms (about 1e-6
// here); FFT or Winograd engines add a few 1e-6. TF32 (10-bit mantissa inputs) gives about 1e-3,
// which this tolerance would catch as a failure.
#include <catch2/catch.hpp>

#include "sr/config.hpp"
#include "test_support.hpp"

#if SR_WITH_CUDA
#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "sr/core/rng.hpp"
#include "sr/cuda/conv2d.hpp"
#include "sr/cuda/memory.hpp"
#include "sr/ops/conv2d.hpp"

namespace test_cuda_conv2d {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

using CpuTensor = sr::Tensor<float, sr::Cpu>;
using GpuTensor = sr::Tensor<float, sr::Cuda>;

namespace {

constexpr double k_tolerance = 1e-4;

CpuTensor random_tensor(const sr::Shape& shape, uint64_t seed, double scale = 1) {
    sr::Rng rng(seed);
    auto t = CpuTensor::empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(rng.uniform(-scale, scale));
    return t;
}

std::string name(const sr::cuda::ConvShape& s) {
    std::ostringstream out;
    out << "N=" << s.n << " H=" << s.h << " W=" << s.w << " C=" << s.c << " O=" << s.o << " k=" << s.k;
    return out.str();
}

// The model layers (EDSR/WDSR heads, WDSR-B 1x1 expansion and reduction, 3x3 bodies and tails)
// and odd sizes with every kernel size and batch 1..4.
const std::vector<sr::cuda::ConvShape> k_model_shapes = {
    {1, 13, 11, 3, 32, 3},   // head 3 -> 32
    {2, 9, 10, 32, 192, 1},  // WDSR-B expansion 1x1
    {2, 9, 10, 192, 25, 1},  // WDSR-B reduction 1x1
    {3, 7, 9, 25, 32, 3},    // WDSR-B 3x3 back to F
    {1, 16, 12, 64, 64, 3},  // EDSR body
    {4, 6, 5, 32, 12, 3},    // tail 32 -> 12 (x2 pixel shuffle)
    {2, 11, 13, 3, 12, 5},   // WDSR skip 5x5
    {1, 1, 1, 5, 7, 3},      // a single pixel: every tap but the centre reads padding
    {3, 5, 17, 7, 9, 1},     // odd 1x1
    {2, 8, 3, 6, 5, 5},      // kernel wider than the image
};

// The operands of one shape on both devices, made from fixed seeds.
struct Case {
    sr::cuda::ConvShape shape;
    CpuTensor x, w, b, y0, dy;
    GpuTensor gx, gw, gb, gdy;

    explicit Case(const sr::cuda::ConvShape& s) : shape(s) {
        const double weight_scale = 1.0 / std::sqrt(double(s.c * s.k * s.k));
        x = random_tensor({s.n, s.h, s.w, s.c}, 11);
        w = random_tensor({s.o, s.k, s.k, s.c}, 12, weight_scale);
        b = random_tensor({s.o}, 13);
        y0 = random_tensor({s.n, s.h, s.w, s.o}, 14);
        dy = random_tensor({s.n, s.h, s.w, s.o}, 15);
        gx = x.to<sr::Cuda>(), gw = w.to<sr::Cuda>(), gb = b.to<sr::Cuda>(), gdy = dy.to<sr::Cuda>();
    }

    CpuTensor forward_cpu(bool bias, bool relu, bool accumulate) const {
        CpuTensor y = accumulate ? y0.clone() : CpuTensor::empty(y0.shape());
        sr::ops::conv2d_forward(x, w, bias ? b : CpuTensor(), y, sr::ConvEpilogue{relu, accumulate});
        return y;
    }
    CpuTensor forward_gpu(bool bias, bool relu, bool accumulate) const {
        GpuTensor y = accumulate ? y0.to<sr::Cuda>() : GpuTensor::empty(y0.shape());
        sr::cuda::conv2d_forward(shape, gx.data(), gw.data(), bias ? gb.data() : nullptr, y.data(), relu, accumulate);
        return y.to<sr::Cpu>();
    }
    CpuTensor backward_data_cpu() const {
        CpuTensor dx = CpuTensor::empty(x.shape());
        sr::ops::conv2d_backward_data(dy, w, dx);
        return dx;
    }
    CpuTensor backward_data_gpu() const {
        GpuTensor dx = GpuTensor::empty(x.shape());
        sr::cuda::conv2d_backward_data(shape, gdy.data(), gw.data(), dx.data());
        return dx.to<sr::Cpu>();
    }
    void backward_weights_cpu(CpuTensor& dw, CpuTensor& db) const {
        dw = CpuTensor::empty(w.shape()), db = CpuTensor::empty(b.shape());
        sr::ops::conv2d_backward_weights(x, dy, dw, db);
    }
    void backward_weights_gpu(CpuTensor& dw, CpuTensor& db, bool with_bias = true) const {
        GpuTensor gdw = GpuTensor::empty(w.shape()), gdb = GpuTensor::empty(b.shape());
        sr::cuda::conv2d_backward_weights(shape, gx.data(), gdy.data(), gdw.data(), with_bias ? gdb.data() : nullptr);
        dw = gdw.to<sr::Cpu>();
        if (with_bias) db = gdb.to<sr::Cpu>();
    }
};

// Restores the process-wide settings at scope exit, so one case's choice does not leak.
struct SettingsGuard {
    sr::cuda::ConvSettings saved = sr::cuda::conv_settings();
    explicit SettingsGuard(const sr::cuda::ConvSettings& settings) { sr::cuda::set_conv_settings(settings); }
    ~SettingsGuard() { sr::cuda::set_conv_settings(saved); }
};

sr::cuda::ConvSettings settings_for(sr::cuda::ConvPath path, bool measure = true, bool deterministic = false) {
    sr::cuda::ConvSettings settings;
    settings.path = path;
    settings.measure = measure;
    settings.deterministic = deterministic;
    return settings;
}

const char* path_name(sr::cuda::ConvPath path) {
    switch (path) {
        case sr::cuda::ConvPath::automatic: return "automatic";
        case sr::cuda::ConvPath::cudnn: return "cudnn";
        case sr::cuda::ConvPath::cublaslt: return "cublaslt";
    }
    return "?";
}

// The paths that differ for a shape: cuBLASLt only runs 1x1 convolutions.
std::vector<sr::cuda::ConvPath> paths_for(const sr::cuda::ConvShape& s) {
    if (s.k == 1) return {sr::cuda::ConvPath::cudnn, sr::cuda::ConvPath::cublaslt, sr::cuda::ConvPath::automatic};
    return {sr::cuda::ConvPath::cudnn};
}

struct Fusion {
    bool bias, relu, accumulate;
};
const Fusion k_fusions[] = {{false, false, false}, {true, false, false}, {false, true, false}, {true, true, false},
                            {false, false, true},  {true, false, true},  {true, true, true}};

bool bit_identical(const CpuTensor& a, const CpuTensor& b) {
    return a.shape() == b.shape() &&
           std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.numel()) * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("CUDA conv2d forward matches the CPU with every fusion", "[cuda]") {
    SR_REQUIRE_GPU();
    // Every fusion on k = 3, 1, 5 and the single pixel; the layers' own fusions on the rest (each
    // fused graph is a plan search, some with a kernel compilation, so the table stays lean).
    const std::vector<std::size_t> every_fusion = {0, 1, 6, 7};
    for (std::size_t s = 0; s < k_model_shapes.size(); ++s) {
        const auto& shape = k_model_shapes[s];
        const bool all = std::find(every_fusion.begin(), every_fusion.end(), s) != every_fusion.end();
        const Case c(shape);
        for (auto path : paths_for(shape)) {
            SettingsGuard guard(settings_for(path));
            for (const Fusion& f : k_fusions) {
                if (!all && !(f.bias == f.relu && !f.accumulate) && !(f.bias && !f.relu && f.accumulate)) continue;
                INFO(name(shape) << " path=" << path_name(path) << " bias=" << f.bias << " relu=" << f.relu
                                 << " accumulate=" << f.accumulate);
                const CpuTensor expected = c.forward_cpu(f.bias, f.relu, f.accumulate);
                CHECK(sr::test::normalized_max_error(c.forward_gpu(f.bias, f.relu, f.accumulate), expected) <= k_tolerance);
                // Second call: the cached plan.
                CHECK(sr::test::normalized_max_error(c.forward_gpu(f.bias, f.relu, f.accumulate), expected) <= k_tolerance);
            }
        }
    }
}

TEST_CASE("CUDA conv2d backward-data matches the CPU", "[cuda]") {
    SR_REQUIRE_GPU();
    for (const auto& shape : k_model_shapes) {
        const Case c(shape);
        const CpuTensor expected = c.backward_data_cpu();
        for (auto path : paths_for(shape)) {
            INFO(name(shape) << " path=" << path_name(path));
            SettingsGuard guard(settings_for(path));
            CHECK(sr::test::normalized_max_error(c.backward_data_gpu(), expected) <= k_tolerance);
            CHECK(sr::test::normalized_max_error(c.backward_data_gpu(), expected) <= k_tolerance);
        }
    }
}

TEST_CASE("CUDA conv2d backward-weights and bias gradient match the CPU", "[cuda]") {
    SR_REQUIRE_GPU();
    for (const auto& shape : k_model_shapes) {
        const Case c(shape);
        CpuTensor dw, db;
        c.backward_weights_cpu(dw, db);
        for (auto path : paths_for(shape)) {
            INFO(name(shape) << " path=" << path_name(path));
            SettingsGuard guard(settings_for(path));
            CpuTensor gdw, gdb;
            c.backward_weights_gpu(gdw, gdb);
            CHECK(sr::test::normalized_max_error(gdw, dw) <= k_tolerance);
            CHECK(sr::test::normalized_max_error(gdb, db) <= k_tolerance);
            c.backward_weights_gpu(gdw, gdb, /*with_bias=*/false);
            CHECK(sr::test::normalized_max_error(gdw, dw) <= k_tolerance);
        }
    }
}

TEST_CASE("CUDA conv2d bias gradient over many rows matches a double sum", "[cuda]") {
    SR_REQUIRE_GPU();
    // 2 x 96 x 96 = 18432 rows: many 512-row chunks, channels beyond one 32-wide block.
    const sr::cuda::ConvShape shape{2, 96, 96, 3, 40, 1};
    const Case c(shape);
    std::vector<double> expected(static_cast<std::size_t>(shape.o), 0.0);
    const int64_t rows = shape.n * shape.h * shape.w;
    for (int64_t p = 0; p < rows; ++p)
        for (int64_t o = 0; o < shape.o; ++o) expected[static_cast<std::size_t>(o)] += c.dy.data()[p * shape.o + o];
    CpuTensor dw, db;
    c.backward_weights_gpu(dw, db);
    auto reference = CpuTensor::empty({shape.o});
    for (int64_t o = 0; o < shape.o; ++o) reference.data()[o] = static_cast<float>(expected[static_cast<std::size_t>(o)]);
    CHECK(sr::test::normalized_max_error(db, reference) <= k_tolerance);
}

TEST_CASE("CUDA conv2d with heuristic plans (no measuring) matches the CPU", "[cuda]") {
    SR_REQUIRE_GPU();
    for (const auto& shape : {k_model_shapes[1], k_model_shapes[3], k_model_shapes[6]}) {
        const Case c(shape);
        for (auto path : paths_for(shape)) {
            INFO(name(shape) << " path=" << path_name(path));
            SettingsGuard guard(settings_for(path, /*measure=*/false));
            CHECK(sr::test::normalized_max_error(c.forward_gpu(true, true, true), c.forward_cpu(true, true, true)) <=
                  k_tolerance);
            CHECK(sr::test::normalized_max_error(c.backward_data_gpu(), c.backward_data_cpu()) <= k_tolerance);
            CpuTensor dw, db, gdw, gdb;
            c.backward_weights_cpu(dw, db);
            c.backward_weights_gpu(gdw, gdb);
            CHECK(sr::test::normalized_max_error(gdw, dw) <= k_tolerance);
            CHECK(sr::test::normalized_max_error(gdb, db) <= k_tolerance);
        }
    }
}

TEST_CASE("CUDA conv2d in deterministic mode repeats bit for bit", "[cuda]") {
    SR_REQUIRE_GPU();
    // Training-sized batches, where split reductions (and atomics) would show.
    for (const sr::cuda::ConvShape& shape : {sr::cuda::ConvShape{4, 24, 24, 64, 64, 3},
                                             sr::cuda::ConvShape{4, 24, 24, 32, 192, 1}}) {
        const Case c(shape);
        for (auto path : paths_for(shape)) {
            INFO(name(shape) << " path=" << path_name(path));
            SettingsGuard guard(settings_for(path, /*measure=*/true, /*deterministic=*/true));
            const CpuTensor y1 = c.forward_gpu(true, true, true), y2 = c.forward_gpu(true, true, true);
            CHECK(bit_identical(y1, y2));
            CHECK(sr::test::normalized_max_error(y1, c.forward_cpu(true, true, true)) <= k_tolerance);
            CHECK(bit_identical(c.backward_data_gpu(), c.backward_data_gpu()));
            CpuTensor dw1, db1, dw2, db2;
            c.backward_weights_gpu(dw1, db1);
            c.backward_weights_gpu(dw2, db2);
            CHECK(bit_identical(dw1, dw2));
            CHECK(bit_identical(db1, db2));
        }
    }
}

TEST_CASE("CUDA conv2d reads and writes operands at any float offset", "[cuda]") {
    SR_REQUIRE_GPU();
    // A batch view starts wherever the previous image ended; one float past a pool allocation is
    // only 4-byte aligned, which plans made for 16-byte operands must not assume.
    for (const auto& shape : {sr::cuda::ConvShape{1, 7, 5, 3, 12, 3}, sr::cuda::ConvShape{2, 5, 3, 9, 7, 1}}) {
        const Case c(shape);
        auto shifted = [](const CpuTensor& t) {
            auto g = GpuTensor::zeros({t.numel() + 1});
            sr::cuda::copy_host_to_device(g.data() + 1, t.data(), static_cast<std::size_t>(t.numel()) * sizeof(float));
            return g;
        };
        const GpuTensor x = shifted(c.x), w = shifted(c.w), b = shifted(c.b), y = shifted(c.y0), dy = shifted(c.dy);
        const GpuTensor dx = GpuTensor::zeros({c.x.numel() + 1}), dw = GpuTensor::zeros({c.w.numel() + 1}),
                        db = GpuTensor::zeros({c.b.numel() + 1});
        // Not cuBLASLt forced: it may have no algorithm for 4-byte-aligned operands, which the
        // automatic choice answers with cuDNN.
        for (auto path : {sr::cuda::ConvPath::cudnn, sr::cuda::ConvPath::automatic}) {
            INFO(name(shape) << " path=" << path_name(path));
            SettingsGuard guard(settings_for(path));
            sr::cuda::copy_host_to_device(y.data() + 1, c.y0.data(), static_cast<std::size_t>(c.y0.numel()) * sizeof(float));
            sr::cuda::conv2d_forward(shape, x.data() + 1, w.data() + 1, b.data() + 1, y.data() + 1, true, true);
            sr::cuda::conv2d_backward_data(shape, dy.data() + 1, w.data() + 1, dx.data() + 1);
            sr::cuda::conv2d_backward_weights(shape, x.data() + 1, dy.data() + 1, dw.data() + 1, db.data() + 1);
            auto unshift = [](const GpuTensor& g, const sr::Shape& s) {
                auto t = CpuTensor::empty(s);
                sr::cuda::copy_device_to_host(t.data(), g.data() + 1, static_cast<std::size_t>(t.numel()) * sizeof(float));
                return t;
            };
            CpuTensor cdw, cdb;
            c.backward_weights_cpu(cdw, cdb);
            CHECK(sr::test::normalized_max_error(unshift(y, c.y0.shape()), c.forward_cpu(true, true, true)) <= k_tolerance);
            CHECK(sr::test::normalized_max_error(unshift(dx, c.x.shape()), c.backward_data_cpu()) <= k_tolerance);
            CHECK(sr::test::normalized_max_error(unshift(dw, c.w.shape()), cdw) <= k_tolerance);
            CHECK(sr::test::normalized_max_error(unshift(db, c.b.shape()), cdb) <= k_tolerance);
        }
    }
}

TEST_CASE("CUDA conv2d with TF32 allowed stays within TF32 accuracy", "[cuda]") {
    SR_REQUIRE_GPU();
    const Case c(sr::cuda::ConvShape{2, 16, 16, 64, 64, 3});
    auto settings = settings_for(sr::cuda::ConvPath::automatic);
    settings.allow_tf32 = true;
    SettingsGuard guard(settings);
    // TF32 keeps 10 mantissa bits: about 1e-3 relative per product, less after summation.
    CHECK(sr::test::normalized_max_error(c.forward_gpu(true, false, false), c.forward_cpu(true, false, false)) <= 1e-2);
}

TEST_CASE("CUDA conv2d rejects bad shapes and null pointers before touching the device") {
    // Runs without a GPU: the checks come first, so the message is the same everywhere.
    float dummy = 0;
    const float* p = &dummy;
    CHECK_THROWS_WITH(sr::cuda::conv2d_forward({1, 4, 4, 3, 8, 2}, p, p, nullptr, &dummy, false, false),
                      Catch::Contains("kernel size must be odd") && Catch::Contains("k=2"));
    CHECK_THROWS_WITH(sr::cuda::conv2d_backward_data({1, 0, 4, 3, 8, 3}, p, p, &dummy),
                      Catch::Contains("conv2d_backward_data") && Catch::Contains("H=0"));
    CHECK_THROWS_WITH(sr::cuda::conv2d_backward_weights({1, 4, 4, 3, 8, 3}, p, nullptr, &dummy, nullptr),
                      Catch::Contains("null"));
}

TEST_CASE("CUDA conv2d settings are process-wide and read back") {
    SettingsGuard guard(sr::cuda::conv_settings());
    sr::cuda::ConvSettings settings;
    settings.deterministic = true, settings.allow_tf32 = true, settings.measure = false;
    settings.path = sr::cuda::ConvPath::cublaslt;
    sr::cuda::set_conv_settings(settings);
    const auto read = sr::cuda::conv_settings();
    CHECK(read.deterministic);
    CHECK(read.allow_tf32);
    CHECK_FALSE(read.measure);
    CHECK(read.path == sr::cuda::ConvPath::cublaslt);
}

}  // namespace test_cuda_conv2d
#endif  // SR_WITH_CUDA
