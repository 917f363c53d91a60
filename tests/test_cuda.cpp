// The CUDA kernels against their CPU twins (same op, same inputs). Tagged [cuda]: skipped with a
// message on machines without a GPU; compiled only when sr was built with CUDA.
#include <catch2/catch.hpp>

#include "sr/config.hpp"
#include "test_support.hpp"

#if SR_WITH_CUDA
#include "sr/autograd/backward.hpp"
#include "sr/core/rng.hpp"
#include "sr/ops/elementwise.hpp"
#include "sr/ops/loss.hpp"
#include "sr/ops/normalize.hpp"
#include "sr/ops/pixel_shuffle.hpp"
#include "sr/ops/reduce.hpp"
#include "sr/ops/weight_norm.hpp"
#include "sr/optim/adam.hpp"

using CpuTensor = sr::Tensor<float, sr::Cpu>;
using GpuTensor = sr::Tensor<float, sr::Cuda>;

namespace {
CpuTensor random_tensor(const sr::Shape& shape, uint64_t seed, double low = -1, double high = 1) {
    sr::Rng rng(seed);
    auto t = CpuTensor::empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(rng.uniform(low, high));
    return t;
}
// Relative tolerance: the kernels compute the same float expressions as the CPU, except sums,
// which run in a different order (1e-6 relative on these sizes).
void require_close(const GpuTensor& gpu, const CpuTensor& cpu, double tolerance = 1e-6) {
    CHECK(sr::test::normalized_max_error(gpu.to<sr::Cpu>(), cpu) < tolerance);
}
}  // namespace

TEST_CASE("CUDA elementwise kernels match the CPU", "[cuda]") {
    SR_REQUIRE_GPU();
    auto a = random_tensor({3, 33, 47, 5}, 1), b = random_tensor({3, 33, 47, 5}, 2);
    auto ga = a.to<sr::Cuda>(), gb = b.to<sr::Cuda>();
    require_close(ga + gb, a + b);
    require_close(sr::add_scaled(ga, gb, 0.3f), sr::add_scaled(a, b, 0.3f));
    require_close(2.5f * ga, 2.5f * a);
    require_close(sr::multiply(ga, gb), sr::multiply(a, b));
    require_close(sr::relu(ga), sr::relu(a));
    auto rgb = random_tensor({2, 9, 11, 3}, 3, 0, 255);
    require_close(sr::normalize(rgb.to<sr::Cuda>()), sr::normalize(rgb));
    require_close(sr::denormalize(rgb.to<sr::Cuda>()), sr::denormalize(rgb));
}

TEST_CASE("CUDA pixel shuffle, sums, losses and their gradients match the CPU", "[cuda]") {
    SR_REQUIRE_GPU();
    for (int s : {2, 3, 4}) {
        auto x = random_tensor({2, 5, 7, 3 * s * s}, 10 + s);
        require_close(sr::pixel_shuffle(x.to<sr::Cuda>(), s), sr::pixel_shuffle(x, s), 0);
        auto y = random_tensor({2, 5 * s, 7 * s, 3}, 20 + s);
        require_close(sr::pixel_unshuffle(y.to<sr::Cuda>(), s), sr::pixel_unshuffle(y, s), 0);
    }
    auto a = random_tensor({4, 64, 64, 3}, 30, 0, 255), b = random_tensor({4, 64, 64, 3}, 31, 0, 255);
    require_close(sr::sum(a.to<sr::Cuda>()), sr::sum(a));
    for (auto kind : {sr::LossKind::l1, sr::LossKind::mse}) {
        auto ga = a.to<sr::Cuda>();
        ga.set_requires_grad(true);
        auto ca = a.clone();
        ca.set_requires_grad(true);
        auto gl = sr::loss(kind, ga, b.to<sr::Cuda>());
        auto cl = sr::loss(kind, ca, b);
        require_close(gl, cl);
        gl.backward();
        cl.backward();
        require_close(ga.grad(), ca.grad());
    }
}

TEST_CASE("CUDA weight norm and Adam match the CPU", "[cuda]") {
    SR_REQUIRE_GPU();
    auto v = random_tensor({32, 3, 3, 25}, 40), g = random_tensor({32}, 41, 0.5, 2);
    auto gv = v.to<sr::Cuda>(), gg = g.to<sr::Cuda>();
    gv.set_requires_grad(true);
    gg.set_requires_grad(true);
    auto cv = v.clone(), cg = g.clone();
    cv.set_requires_grad(true);
    cg.set_requires_grad(true);
    auto upstream = random_tensor(v.shape(), 42);
    auto gw = sr::weight_norm(gv, gg);
    auto cw = sr::weight_norm(cv, cg);
    require_close(gw, cw);
    sr::sum(sr::multiply(gw, upstream.to<sr::Cuda>())).backward();
    sr::sum(sr::multiply(cw, upstream)).backward();
    require_close(gv.grad(), cv.grad(), 1e-5);
    require_close(gg.grad(), cg.grad(), 1e-5);

    sr::optim::Adam<float, sr::Cuda> gpu_adam({{"v", gv}}, {1e-2});
    sr::optim::Adam<float, sr::Cpu> cpu_adam({{"v", cv}}, {1e-2});
    for (int step = 0; step < 3; ++step) {
        gpu_adam.step();
        cpu_adam.step();
    }
    require_close(gv, cv, 1e-6);
}

#else

TEST_CASE("CUDA kernels", "[cuda]") { SR_SKIP("sr was built without CUDA (SR_WITH_CUDA=OFF or no nvcc)"); }

#endif
