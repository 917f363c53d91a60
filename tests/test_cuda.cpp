// The CUDA backend at op level: device tensors (device index, fills, casts, strided copies of
// views, uploads), the runtime (pool statistics, deferred errors, pinned uploads) and every op
// against its CPU twin on the CPU tests' shapes (tests/test_ops.cpp, tests/test_conv2d.cpp),
// forward and backward. Tagged [cuda] and skipped where there is no GPU; the strided index math
// they share with the host is tested everywhere.
//
// Tolerances (normalized max error, sr::test::normalized_max_error):
// - moves (copies, pixel shuffle, casts, fills): 0, bit-exact;
// - elementwise ops, normalisation, Adam: 1e-5; the kernels evaluate the CPU's float expressions
//   but nvcc may contract a*b+c into one FMA (one rounding fewer), a few ulp at most;
// - sums, losses, weight norm: 1e-5; both sides accumulate in double, in different orders;
// - convolutions: 1e-4 (no TF32), as issue 10 sets for cuDNN against the CPU kernels.
#include <catch2/catch.hpp>

#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "sr/config.hpp"
#include "sr/core/strided_index.hpp"
#include "sr/core/tensor.hpp"
#include "test_support.hpp"

TEST_CASE("strided_offsets walks a view in row-major order with both sides' strides", "[tensor]") {
    // A crop of an NHWC tensor copied into a contiguous tensor: the source offset of each element
    // is where Tensor::at finds it, the destination offset its row-major index.
    auto base = sr::Tensor<float>::empty({3, 7, 9, 4});
    std::iota(base.data(), base.data() + base.numel(), 0.f);
    auto view = base.slice_batch(1, 3).crop(2, 3, 4, 5);
    sr::StridedLayout layout;
    layout.rank = view.rank();
    const auto dst_strides = sr::contiguous_strides(view.shape());
    for (int i = 0; i < view.rank(); ++i) {
        layout.shape[i] = view.dim(i);
        layout.src_strides[i] = view.stride(i);
        layout.dst_strides[i] = dst_strides[i];
    }
    int64_t linear = 0;
    for (int64_t n = 0; n < view.dim(0); ++n)
        for (int64_t h = 0; h < view.dim(1); ++h)
            for (int64_t w = 0; w < view.dim(2); ++w)
                for (int64_t c = 0; c < view.dim(3); ++c, ++linear) {
                    const auto at = sr::strided_offsets(layout, linear);
                    REQUIRE(at.src == &view.at({n, h, w, c}) - view.data());
                    REQUIRE(at.dst == linear);
                }
    CHECK(linear == view.numel());

    // Transposed destination strides: element (i, j) of a 2x3 lands at j*2 + i.
    sr::StridedLayout transpose;
    transpose.rank = 2;
    transpose.shape[0] = 2, transpose.shape[1] = 3;
    transpose.src_strides[0] = 3, transpose.src_strides[1] = 1;
    transpose.dst_strides[0] = 1, transpose.dst_strides[1] = 2;
    static_assert(sr::strided_offsets(sr::StridedLayout{2, {2, 3}, {3, 1}, {1, 2}}, 4).dst == 3);
    for (int64_t i = 0; i < 2; ++i)
        for (int64_t j = 0; j < 3; ++j) {
            const auto at = sr::strided_offsets(transpose, i * 3 + j);
            CHECK(at.src == i * 3 + j);
            CHECK(at.dst == j * 2 + i);
        }
    // Rank 0: the one element sits at offset 0 on both sides.
    CHECK(sr::strided_offsets(sr::StridedLayout{}, 0).src == 0);
    CHECK(sr::strided_offsets(sr::StridedLayout{}, 0).dst == 0);
}

#if SR_WITH_CUDA
#include "sr/autograd/backward.hpp"
#include "sr/core/rng.hpp"
#include "sr/core/upload.hpp"
#include "sr/cuda/memory.hpp"
#include "sr/ops/conv2d.hpp"
#include "sr/ops/elementwise.hpp"
#include "sr/ops/loss.hpp"
#include "sr/ops/normalize.hpp"
#include "sr/ops/pixel_shuffle.hpp"
#include "sr/ops/reduce.hpp"
#include "sr/ops/weight_norm.hpp"
#include "sr/optim/adam.hpp"

namespace test_cuda {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

using CpuTensor = sr::Tensor<float, sr::Cpu>;
using GpuTensor = sr::Tensor<float, sr::Cuda>;
using sr::Shape;

namespace {
CpuTensor random_tensor(const Shape& shape, uint64_t seed, double low = -1, double high = 1) {
    sr::Rng rng(seed);
    auto t = CpuTensor::empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(rng.uniform(low, high));
    return t;
}
GpuTensor to_gpu(const CpuTensor& t) { return t.to<sr::Cuda>(); }

double gpu_error(const GpuTensor& gpu, const CpuTensor& cpu) {
    return sr::test::normalized_max_error(gpu.to<sr::Cpu>(), cpu);
}
template <class T>
bool same_values(const sr::Tensor<T, sr::Cuda>& gpu, const sr::Tensor<T, sr::Cpu>& cpu) {
    return gpu.shape() == cpu.shape() && gpu.to_vector() == cpu.to_vector();
}
// A leaf copy that records gradients, on the CPU and on the device.
struct Leaf {
    CpuTensor cpu;
    GpuTensor gpu;
    Leaf(const CpuTensor& values) : cpu(values.clone()), gpu(values.to<sr::Cuda>()) {
        cpu.set_requires_grad(true);
        gpu.set_requires_grad(true);
    }
};
// The message of the sr::Error that f throws ("" when it does not throw).
template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const sr::Error& e) {
        return e.what();
    }
    return "";
}

// tests/test_conv2d.cpp's table: odd and even sizes, 1- and 3-channel edges, kernels 1/3/5, batch > 1.
struct ConvCase {
    int64_t n, h, w, c, o, k;
};
const ConvCase k_conv_cases[] = {
    {1, 5, 7, 3, 4, 3},  {2, 6, 6, 1, 3, 3},   {3, 7, 4, 16, 8, 3}, {1, 9, 8, 8, 16, 5}, {2, 4, 5, 12, 9, 1},
    {1, 1, 1, 3, 5, 3},  {1, 2, 3, 4, 4, 5},   {2, 8, 9, 32, 25, 1}, {1, 6, 10, 25, 32, 3}, {2, 5, 6, 3, 12, 5},
    {1, 12, 11, 64, 64, 3}, {2, 7, 13, 20, 48, 3}, {1, 3, 17, 7, 70, 3}, {1, 4, 30, 9, 33, 1},
};
}  // namespace

TEST_CASE("CUDA devices: count, current device, properties, guard", "[cuda]") {
    SR_REQUIRE_GPU();
    const int count = sr::cuda::device_count();
    REQUIRE(count >= 1);
    sr::cuda::set_device(0);
    CHECK(sr::cuda::current_device() == 0);
    const auto props = sr::cuda::device_properties(0);
    CHECK(!props.name.empty());
    CHECK(props.total_memory > (std::size_t(1) << 30));
    CHECK(props.compute_major >= 7);
    CHECK(props.multiprocessors > 0);
    CHECK_THROWS_WITH(sr::cuda::set_device(count), Catch::Contains("no CUDA device " + std::to_string(count)));
    CHECK_THROWS_WITH(sr::cuda::set_device(-1), Catch::Contains("no CUDA device -1"));
    {
        sr::cuda::DeviceGuard guard(count - 1);
        CHECK(sr::cuda::current_device() == count - 1);
        CHECK(GpuTensor::zeros({4}).device_index() == count - 1);
    }
    CHECK(sr::cuda::current_device() == 0);
    std::size_t free_bytes = 0, total_bytes = 0;
    sr::cuda::memory_info(free_bytes, total_bytes);
    CHECK(total_bytes > (std::size_t(1) << 30));
    CHECK(free_bytes > 0);
    CHECK(free_bytes <= total_bytes);
}

TEST_CASE("CUDA tensors: device index, full, fill, zeros, item, round trips", "[cuda]") {
    SR_REQUIRE_GPU();
    sr::cuda::set_device(0);
    auto host = random_tensor({3, 5, 7, 2}, 1);
    auto device = host.to<sr::Cuda>();
    CHECK(device.device_index() == 0);
    CHECK(host.device_index() == -1);
    CHECK(device.slice_batch(1, 2).device_index() == 0);
    CHECK(same_values(device, host));  // bit-exact round trip
    CHECK(same_values(device.clone(), host));
    CHECK(same_values(device.to<sr::Cuda>(), host));

    CHECK(same_values(GpuTensor::full({1000, 37}, 2.5f), CpuTensor::full({1000, 37}, 2.5f)));
    CHECK(same_values(GpuTensor::zeros({3, 333}), CpuTensor::zeros({3, 333})));
    CHECK(same_values(sr::Tensor<double, sr::Cuda>::full({17}, -0.125), sr::Tensor<double>::full({17}, -0.125)));
    CHECK(same_values(sr::Tensor<uint8_t, sr::Cuda>::full({5, 77}, uint8_t(201)),
                      sr::Tensor<uint8_t>::full({5, 77}, uint8_t(201))));
    CHECK(same_values(sr::Tensor<int32_t, sr::Cuda>::full({9}, -7), sr::Tensor<int32_t>::full({9}, -7)));
    device.fill_(-3.f);
    CHECK(same_values(device, CpuTensor::full(host.shape(), -3.f)));
    CHECK_THROWS_WITH(device.crop(0, 0, 2, 2).fill_(1.f), Catch::Contains("not contiguous"));

    CHECK(GpuTensor::full(Shape{}, 4.25f).item() == 4.25f);
    CHECK(GpuTensor::from_vector({2, 2}, {1.f, -2.f, 3.5f, 4.f}).to_vector() == std::vector<float>{1.f, -2.f, 3.5f, 4.f});
    CHECK(to_gpu(host).reshape({210}).slice_batch(17, 18).item() == host.data()[17]);
    CHECK_THROWS_WITH(device.item(), Catch::Contains("has 210 elements"));
    auto empty = GpuTensor::zeros({2, 0, 3});
    CHECK(empty.numel() == 0);
    CHECK(empty.to<sr::Cpu>().numel() == 0);
    CHECK(GpuTensor::zeros({2, 0, 3, 4}).crop(0, 1, 0, 2).contiguous().numel() == 0);

    // An upload from pageable memory that is freed right after.
    auto* values = new std::vector<float>(100000);
    std::iota(values->begin(), values->end(), 0.f);
    auto uploaded = GpuTensor::empty({100000});
    sr::cuda::copy_host_to_device(uploaded.data(), values->data(), values->size() * sizeof(float));
    const std::vector<float> expected = *values;
    std::fill(values->begin(), values->end(), -1.f);
    delete values;
    CHECK(uploaded.to_vector() == expected);
}

TEST_CASE("CUDA casts convert each element as static_cast does on the CPU", "[cuda]") {
    SR_REQUIRE_GPU();
    auto x = random_tensor({4, 9, 11, 3}, 2, -300, 300);
    CHECK(same_values(to_gpu(x).cast<double>(), x.cast<double>()));
    CHECK(same_values(to_gpu(x).cast<double>().cast<float>(), x));
    CHECK(same_values(to_gpu(x).cast<int32_t>(), x.cast<int32_t>()));
    CHECK(same_values(to_gpu(x).cast<int32_t>().cast<float>(), x.cast<int32_t>().cast<float>()));
    auto pixels = random_tensor({2, 13, 17, 3}, 3, 0, 255.99);
    CHECK(same_values(to_gpu(pixels).cast<uint8_t>(), pixels.cast<uint8_t>()));
    CHECK(same_values(to_gpu(pixels).cast<uint8_t>().cast<float>(), pixels.cast<uint8_t>().cast<float>()));
    CHECK(same_values(to_gpu(x).cast<float>(), x));
    // A view is made contiguous first.
    CHECK(same_values(to_gpu(x).crop(1, 2, 5, 6).cast<double>(), x.crop(1, 2, 5, 6).cast<double>()));
}

TEST_CASE("CUDA strided copies: crops, batch slices, strided destinations", "[cuda]") {
    SR_REQUIRE_GPU();
    auto host = random_tensor({4, 19, 23, 5}, 4);
    auto device = to_gpu(host);
    for (int64_t top : {0, 3})
        for (int64_t left : {0, 1, 7})
            for (int64_t height : {1, 9, 16})
                for (int64_t width : {1, 8, 16}) {
                    INFO("crop top " << top << " left " << left << " " << height << "x" << width);
                    auto cpu_view = host.crop(top, left, height, width);
                    auto gpu_view = device.crop(top, left, height, width);
                    REQUIRE(!gpu_view.is_contiguous());
                    CHECK(same_values(gpu_view.contiguous(), cpu_view.contiguous()));
                    CHECK(same_values(gpu_view.slice_batch(1, 3).clone(), cpu_view.slice_batch(1, 3).clone()));
                    CHECK(same_values(gpu_view, cpu_view));  // to<Cpu> of a view
                }
    // A crop of a crop, then copy_to into a strided destination window of another device tensor.
    auto inner = device.crop(2, 3, 12, 14).crop(1, 2, 6, 7);
    auto cpu_inner = host.crop(2, 3, 12, 14).crop(1, 2, 6, 7);
    auto canvas = GpuTensor::zeros({4, 10, 10, 5});
    auto cpu_canvas = CpuTensor::zeros({4, 10, 10, 5});
    inner.copy_to(canvas.crop(3, 2, 6, 7));
    cpu_inner.copy_to(cpu_canvas.crop(3, 2, 6, 7));
    CHECK(same_values(canvas, cpu_canvas));
    // A contiguous source into a strided destination, and a CPU view uploaded.
    to_gpu(cpu_inner.contiguous()).copy_to(canvas.crop(0, 0, 6, 7));
    cpu_inner.contiguous().copy_to(cpu_canvas.crop(0, 0, 6, 7));
    CHECK(same_values(canvas, cpu_canvas));
    CHECK(same_values(cpu_inner.to<sr::Cuda>(), cpu_inner.contiguous()));
    // Other element sizes take the same kernel.
    auto bytes = to_gpu(random_tensor({2, 8, 8, 3}, 5, 0, 255)).cast<uint8_t>();
    auto cpu_bytes = bytes.to<sr::Cpu>();
    CHECK(same_values(bytes.crop(1, 2, 5, 3).contiguous(), cpu_bytes.crop(1, 2, 5, 3).contiguous()));
    auto doubles = to_gpu(host).cast<double>();
    CHECK(same_values(doubles.crop(4, 4, 3, 9).contiguous(), host.cast<double>().crop(4, 4, 3, 9).contiguous()));
    CHECK_THROWS_WITH(device.copy_to(canvas), Catch::Contains("copy_to: shape"));
    // reshape still demands contiguity, and names the fix.
    CHECK_THROWS_WITH(device.crop(0, 0, 2, 2).reshape({4 * 2 * 2 * 5}), Catch::Contains("call contiguous()"));
}

TEST_CASE("CUDA elementwise ops and their gradients match the CPU", "[cuda]") {
    SR_REQUIRE_GPU();
    for (const Shape& shape : {Shape{3, 70, 90, 5}, Shape{3, 33, 47, 5}, Shape{1, 1, 1, 1}, Shape{7}}) {
        INFO("shape " << shape);
        auto a = random_tensor(shape, 1), b = random_tensor(shape, 2);
        auto ga = to_gpu(a), gb = to_gpu(b);
        CHECK(gpu_error(ga + gb, a + b) <= 1e-5);
        CHECK(gpu_error(ga - gb, a - b) <= 1e-5);
        CHECK(gpu_error(sr::add_scaled(ga, gb, 0.3f), sr::add_scaled(a, b, 0.3f)) <= 1e-5);
        CHECK(gpu_error(2.5f * ga, 2.5f * a) <= 1e-5);
        CHECK(gpu_error(sr::multiply(ga, gb), sr::multiply(a, b)) <= 1e-5);
        CHECK(gpu_error(sr::relu(ga), sr::relu(a)) <= 1e-5);

        // One expression using every op, differentiated with respect to both inputs.
        Leaf la(a), lb(b);
        auto upstream = random_tensor(shape, 3);
        auto expression = [](const auto& x, const auto& y, const auto& u) {
            auto z = sr::relu(sr::add_scaled(x, 0.5f * y, -1.5f)) + sr::multiply(x, y) - y;
            return sr::sum(sr::multiply(z, u));
        };
        auto cpu_loss = expression(la.cpu, lb.cpu, upstream);
        auto gpu_loss = expression(la.gpu, lb.gpu, to_gpu(upstream));
        CHECK(gpu_error(gpu_loss, cpu_loss) <= 1e-5);
        cpu_loss.backward();
        gpu_loss.backward();
        CHECK(gpu_error(la.gpu.grad(), la.cpu.grad()) <= 1e-5);
        CHECK(gpu_error(lb.gpu.grad(), lb.cpu.grad()) <= 1e-5);
    }
    CHECK_THROWS_WITH(to_gpu(random_tensor({2, 3}, 1)) + to_gpu(random_tensor({3, 2}, 1)), Catch::Contains("shapes differ"));
    CHECK_THROWS_WITH(sr::relu(to_gpu(random_tensor({2, 6, 6, 3}, 1)).crop(0, 0, 2, 2)), Catch::Contains("contiguous"));
}

TEST_CASE("CUDA sums, means and losses with their gradients match the CPU", "[cuda]") {
    SR_REQUIRE_GPU();
    for (const Shape& shape : {Shape{2, 33, 41, 3}, Shape{4, 64, 64, 3}, Shape{1}, Shape{16, 96, 96, 3}}) {
        INFO("shape " << shape);
        auto a = random_tensor(shape, 4, 0, 255), b = random_tensor(shape, 5, 0, 255);
        CHECK(gpu_error(sr::sum(to_gpu(a)), sr::sum(a)) <= 1e-5);
        CHECK(gpu_error(sr::mean(to_gpu(a)), sr::mean(a)) <= 1e-5);
        for (auto kind : {sr::LossKind::l1, sr::LossKind::mse}) {
            Leaf la(a), lb(b);
            auto cpu_loss = sr::mean(sr::scale(sr::loss(kind, la.cpu, lb.cpu), 3.f) + sr::sum(la.cpu));
            auto gpu_loss = sr::mean(sr::scale(sr::loss(kind, la.gpu, lb.gpu), 3.f) + sr::sum(la.gpu));
            CHECK(gpu_error(gpu_loss, cpu_loss) <= 1e-5);
            cpu_loss.backward();
            gpu_loss.backward();
            CHECK(gpu_error(la.gpu.grad(), la.cpu.grad()) <= 1e-5);
            CHECK(gpu_error(lb.gpu.grad(), lb.cpu.grad()) <= 1e-5);
        }
    }
    // Float sums accumulate in double on the device too: a million ones sum exactly.
    CHECK(sr::sum(GpuTensor::full({1000, 1000}, 1.f)).item() == 1e6f);
    CHECK(sr::mean(GpuTensor::full({3, 1000, 1001}, 0.5f)).item() == 0.5f);
}

TEST_CASE("CUDA pixel shuffle and unshuffle match the CPU exactly, with gradients", "[cuda]") {
    SR_REQUIRE_GPU();
    for (int s : {2, 3, 4})
        for (int64_t c : {1, 3, 5}) {
            INFO("scale " << s << " channels " << c);
            auto x = random_tensor({2, 3, 4, c * s * s}, 10 + s);
            auto y = sr::pixel_shuffle(to_gpu(x), s);
            CHECK(same_values(y, sr::pixel_shuffle(x, s)));
            CHECK(same_values(sr::pixel_unshuffle(y, s), x));
            auto big = random_tensor({2, 5 * s, 7 * s, c}, 20 + s);
            CHECK(same_values(sr::pixel_unshuffle(to_gpu(big), s), sr::pixel_unshuffle(big, s)));

            Leaf leaf(x);
            auto upstream = random_tensor({2, 3 * s, 4 * s, c}, 30 + s);
            auto cpu_loss = sr::sum(sr::multiply(sr::pixel_shuffle(leaf.cpu, s), upstream));
            auto gpu_loss = sr::sum(sr::multiply(sr::pixel_shuffle(leaf.gpu, s), to_gpu(upstream)));
            cpu_loss.backward();
            gpu_loss.backward();
            CHECK(same_values(leaf.gpu.grad(), leaf.cpu.grad()));
        }
    CHECK_THROWS_WITH(sr::pixel_shuffle(to_gpu(random_tensor({1, 2, 2, 6}, 1)), 2),
                      Catch::Contains("divisible by scale^2 = 4"));
}

TEST_CASE("CUDA normalize and denormalize match the CPU, with gradients", "[cuda]") {
    SR_REQUIRE_GPU();
    for (const Shape& shape : {Shape{2, 5, 7, 3}, Shape{4, 48, 48, 3}}) {
        auto x = random_tensor(shape, 20, 0, 255);
        CHECK(gpu_error(sr::normalize(to_gpu(x)), sr::normalize(x)) <= 1e-5);
        CHECK(gpu_error(sr::denormalize(to_gpu(x)), sr::denormalize(x)) <= 1e-5);
        CHECK(gpu_error(sr::denormalize(sr::normalize(to_gpu(x))), x) <= 1e-5);
        Leaf leaf(x);
        auto upstream = random_tensor(shape, 21);
        auto cpu_loss = sr::sum(sr::multiply(sr::denormalize(sr::scale(sr::normalize(leaf.cpu), 2.f)), upstream));
        auto gpu_loss = sr::sum(sr::multiply(sr::denormalize(sr::scale(sr::normalize(leaf.gpu), 2.f)), to_gpu(upstream)));
        cpu_loss.backward();
        gpu_loss.backward();
        CHECK(gpu_error(leaf.gpu.grad(), leaf.cpu.grad()) <= 1e-5);
    }
    CHECK_THROWS_WITH(sr::normalize(to_gpu(random_tensor({1, 2, 2, 4}, 1))), Catch::Contains("RGB"));
}

TEST_CASE("CUDA weight norm matches the CPU, forward and backward", "[cuda]") {
    SR_REQUIRE_GPU();
    for (const Shape& shape : {Shape{6, 3, 3, 5}, Shape{32, 3, 3, 25}, Shape{64, 1, 1, 384}, Shape{3, 5, 5, 3}}) {
        INFO("v shape " << shape);
        Leaf v(random_tensor(shape, 40)), g(random_tensor({shape[0]}, 41, 0.5, 2));
        auto upstream = random_tensor(shape, 42);
        auto cpu_w = sr::weight_norm(v.cpu, g.cpu);
        auto gpu_w = sr::weight_norm(v.gpu, g.gpu);
        CHECK(gpu_error(gpu_w, cpu_w) <= 1e-5);
        sr::sum(sr::multiply(cpu_w, upstream)).backward();
        sr::sum(sr::multiply(gpu_w, to_gpu(upstream))).backward();
        CHECK(gpu_error(v.gpu.grad(), v.cpu.grad()) <= 1e-5);
        CHECK(gpu_error(g.gpu.grad(), g.cpu.grad()) <= 1e-5);
        // g = ||v|| reproduces v.
        CHECK(gpu_error(sr::weight_norm(to_gpu(v.cpu.detach()), to_gpu(sr::row_norms(v.cpu.detach()))), v.cpu.detach()) <=
              1e-5);
    }
}

TEST_CASE("CUDA weight norm raises the CPU's zero-row error at the next synchronising call", "[cuda]") {
    SR_REQUIRE_GPU();
    auto v = random_tensor({5, 3, 3, 4}, 50);
    std::fill(v.data() + 3 * 36, v.data() + 4 * 36, 0.f);  // row 3 is all zeros
    auto g = random_tensor({5}, 51, 0.5, 2);
    const std::string cpu_message = error_of([&] { sr::weight_norm(v, g); });
    REQUIRE(cpu_message.find("row 3") != std::string::npos);

    // The launch itself does not wait, so it cannot throw; the read of any value does.
    GpuTensor w;
    REQUIRE_NOTHROW(w = sr::weight_norm(to_gpu(v), to_gpu(g)));
    CHECK(error_of([&] { w.to<sr::Cpu>(); }) == cpu_message);
    // Raised once: the word is cleared, and the device keeps working.
    CHECK_NOTHROW(sr::cuda::synchronize());
    CHECK(gpu_error(sr::weight_norm(to_gpu(random_tensor({5, 3, 3, 4}, 52)), to_gpu(g)),
                    sr::weight_norm(random_tensor({5, 3, 3, 4}, 52), g)) <= 1e-5);

    // Also through item() and synchronize().
    auto w2 = sr::weight_norm(to_gpu(v), to_gpu(g));
    CHECK(error_of([&] { sr::sum(w2).item(); }) == cpu_message);
    sr::weight_norm(to_gpu(v), to_gpu(g));
    CHECK(error_of([] { sr::cuda::synchronize(); }) == cpu_message);
    // A zero row in another shape names that shape.
    auto flat = CpuTensor::zeros({2, 7});
    flat.data()[3] = 1.f;  // row 0 non-zero, row 1 zero
    auto flat_g = CpuTensor::full({2}, 1.f);
    const std::string flat_message = error_of([&] { sr::weight_norm(flat, flat_g); });
    REQUIRE(flat_message.find("[2, 7]") != std::string::npos);
    auto w3 = sr::weight_norm(to_gpu(flat), to_gpu(flat_g));
    CHECK(error_of([&] { w3.to<sr::Cpu>(); }) == flat_message);
}

TEST_CASE("CUDA Adam matches the CPU over several steps", "[cuda]") {
    SR_REQUIRE_GPU();
    Leaf v(random_tensor({32, 3, 3, 25}, 40)), b(random_tensor({32}, 43));
    sr::optim::Adam<float, sr::Cuda> gpu_adam({{"v", v.gpu}, {"b", b.gpu}}, {1e-2});
    sr::optim::Adam<float, sr::Cpu> cpu_adam({{"v", v.cpu}, {"b", b.cpu}}, {1e-2});
    for (int step = 0; step < 5; ++step) {
        auto target = random_tensor(v.cpu.shape(), 100 + step);
        auto cpu_loss = sr::mse_loss(v.cpu, target) + sr::mean(sr::multiply(b.cpu, b.cpu));
        auto gpu_loss = sr::mse_loss(v.gpu, to_gpu(target)) + sr::mean(sr::multiply(b.gpu, b.gpu));
        cpu_adam.zero_grad();
        gpu_adam.zero_grad();
        cpu_loss.backward();
        gpu_loss.backward();
        cpu_adam.step();
        gpu_adam.step();
    }
    CHECK(gpu_error(v.gpu, v.cpu) <= 1e-5);
    CHECK(gpu_error(b.gpu, b.cpu) <= 1e-5);
    const auto gpu_state = gpu_adam.state();
    const auto cpu_state = cpu_adam.state();
    REQUIRE(gpu_state.size() == cpu_state.size());
    for (std::size_t i = 0; i < gpu_state.size(); ++i) {
        INFO(gpu_state[i].name);
        CHECK(gpu_error(gpu_state[i].tensor, cpu_state[i].tensor) <= 1e-5);
    }
}

TEST_CASE("CUDA conv2d op (cuDNN / cuBLASLt behind sr::conv2d) matches the CPU, forward and backward", "[cuda]") {
    SR_REQUIRE_GPU();
    for (const auto& cs : k_conv_cases) {
        INFO("N=" << cs.n << " H=" << cs.h << " W=" << cs.w << " C=" << cs.c << " O=" << cs.o << " k=" << cs.k);
        auto x = random_tensor({cs.n, cs.h, cs.w, cs.c}, 1);
        auto w = random_tensor({cs.o, cs.k, cs.k, cs.c}, 2);
        auto b = random_tensor({cs.o}, 3);
        auto addend = random_tensor({cs.n, cs.h, cs.w, cs.o}, 4);
        {
            sr::NoGradGuard no_grad;  // the fused bias + ReLU epilogue
            CHECK(gpu_error(sr::conv2d(to_gpu(x), to_gpu(w), to_gpu(b), true), sr::conv2d(x, w, b, true)) <= 1e-4);
            CHECK(gpu_error(sr::conv2d(to_gpu(x), to_gpu(w)), sr::conv2d(x, w)) <= 1e-4);
            // The residual-add epilogue through the raw op.
            auto y = to_gpu(addend);
            auto cpu_y = addend.clone();
            sr::ops::conv2d_forward(to_gpu(x), to_gpu(w), to_gpu(b), y, sr::ConvEpilogue{true, true});
            sr::ops::conv2d_forward(x, w, b, cpu_y, sr::ConvEpilogue{true, true});
            CHECK(gpu_error(y, cpu_y) <= 1e-4);
        }
        // Backward without the ReLU: a pre-activation within rounding of 0 could take the other
        // side on the GPU and move a whole upstream value (tested on its own above and below).
        Leaf lx(x), lw(w), lb(b);
        auto upstream = random_tensor({cs.n, cs.h, cs.w, cs.o}, 5);
        auto cpu_loss = sr::sum(sr::multiply(sr::conv2d(lx.cpu, lw.cpu, lb.cpu), upstream));
        auto gpu_loss = sr::sum(sr::multiply(sr::conv2d(lx.gpu, lw.gpu, lb.gpu), to_gpu(upstream)));
        CHECK(gpu_error(gpu_loss, cpu_loss) <= 1e-4);
        cpu_loss.backward();
        gpu_loss.backward();
        CHECK(gpu_error(lx.gpu.grad(), lx.cpu.grad()) <= 1e-4);
        CHECK(gpu_error(lw.gpu.grad(), lw.cpu.grad()) <= 1e-4);
        CHECK(gpu_error(lb.gpu.grad(), lb.cpu.grad()) <= 1e-4);
    }
    CHECK_THROWS_WITH(sr::conv2d(to_gpu(random_tensor({1, 4, 4, 3}, 1)), to_gpu(random_tensor({8, 3, 3, 4}, 2))),
                      Catch::Contains("3 channels") && Catch::Contains("expect 4"));
}

TEST_CASE("CUDA ops composed as a small network train like the CPU (one step)", "[cuda]") {
    SR_REQUIRE_GPU();
    // normalize -> weight-normed 3x3 conv + ReLU -> 1x1 conv -> pixel shuffle x2 -> denormalize ->
    // L1 loss, then Adam: the models' ops chained as they are (residual adds are covered above).
    // With these seeds the ReLU's inputs keep at least 1.4e-5 of their maximum away from 0
    // (measured on the CPU), about 100 times the GPU's rounding difference, so no element
    // switches sides.
    auto lr = random_tensor({2, 9, 10, 3}, 60, 0, 255), hr = random_tensor({2, 18, 20, 3}, 61, 0, 255);
    Leaf v(random_tensor({8, 3, 3, 3}, 62, -0.3, 0.3)), g(random_tensor({8}, 63, 0.5, 1.5));
    Leaf b1(random_tensor({8}, 64, -0.1, 0.1)), w2(random_tensor({12, 1, 1, 8}, 65, -0.3, 0.3));
    Leaf b2(random_tensor({12}, 66, -0.1, 0.1));
    auto run = [&](auto pick, const auto& x, const auto& y) {
        auto n = sr::normalize(x);
        auto h = sr::conv2d(n, sr::weight_norm(pick(v), pick(g)), pick(b1), true);
        auto body = sr::pixel_shuffle(sr::conv2d(h, pick(w2), pick(b2)), 2);
        return sr::l1_loss(sr::denormalize(body), y);
    };
    auto cpu_pick = [](Leaf& l) -> const CpuTensor& { return l.cpu; };
    auto gpu_pick = [](Leaf& l) -> const GpuTensor& { return l.gpu; };
    auto cpu_loss = run(cpu_pick, lr, hr);
    auto gpu_loss = run(gpu_pick, to_gpu(lr), to_gpu(hr));
    CHECK(gpu_error(gpu_loss, cpu_loss) <= 1e-4);
    cpu_loss.backward();
    gpu_loss.backward();
    for (Leaf* leaf : {&v, &g, &b1, &w2, &b2}) CHECK(gpu_error(leaf->gpu.grad(), leaf->cpu.grad()) <= 1e-4);
    sr::optim::Adam<float, sr::Cuda> gpu_adam({{"v", v.gpu}, {"g", g.gpu}, {"b1", b1.gpu}, {"w2", w2.gpu}, {"b2", b2.gpu}},
                                              {1e-3});
    sr::optim::Adam<float, sr::Cpu> cpu_adam({{"v", v.cpu}, {"g", g.cpu}, {"b1", b1.cpu}, {"w2", w2.cpu}, {"b2", b2.cpu}},
                                             {1e-3});
    gpu_adam.step();
    cpu_adam.step();
    for (Leaf* leaf : {&v, &g, &b1, &w2, &b2}) CHECK(gpu_error(leaf->gpu, leaf->cpu) <= 1e-4);
}

TEST_CASE("CUDA memory pool: statistics, peak reset, reuse without growth, release", "[cuda]") {
    SR_REQUIRE_GPU();
    sr::cuda::synchronize();
    sr::cuda::reset_peak_memory_stats();
    const auto before = sr::cuda::memory_stats();
    CHECK(before.peak_in_use == before.in_use);
    CHECK(before.reserved >= before.in_use);
    constexpr std::size_t k_bytes = std::size_t(64) << 20;
    {
        auto block = GpuTensor::zeros({int64_t(k_bytes / sizeof(float))});
        sr::cuda::synchronize();
        const auto during = sr::cuda::memory_stats();
        CHECK(during.in_use >= before.in_use + k_bytes);
        CHECK(during.peak_in_use >= during.in_use);
        CHECK(during.reserved >= during.in_use);
        CHECK(during.peak_reserved >= during.reserved);
    }
    sr::cuda::synchronize();
    const auto after = sr::cuda::memory_stats();
    CHECK(after.in_use == before.in_use);
    CHECK(after.peak_in_use >= before.in_use + k_bytes);  // the peak remembers the block
    // The release threshold keeps the freed block reserved, and the next allocation of that size
    // reuses it instead of growing the pool.
    CHECK(after.reserved >= before.in_use + k_bytes);
    {
        auto again = GpuTensor::empty({int64_t(k_bytes / sizeof(float))});
        sr::cuda::synchronize();
        CHECK(sr::cuda::memory_stats().reserved == after.reserved);
    }
    sr::cuda::reset_peak_memory_stats();
    CHECK(sr::cuda::memory_stats().peak_in_use == sr::cuda::memory_stats().in_use);
    sr::cuda::release_cached_memory();
    CHECK(sr::cuda::memory_stats().reserved < after.reserved);
    // Out of memory is an sr::Error naming the size, not a crash.
    const std::size_t total = sr::cuda::device_properties(sr::cuda::current_device()).total_memory;
    CHECK_THROWS_WITH(sr::cuda::device_malloc(total * 2), Catch::Contains("out of GPU memory") &&
                                                              Catch::Contains(std::to_string(total * 2)));
    CHECK_NOTHROW(GpuTensor::zeros({1024}).to<sr::Cpu>());
}

TEST_CASE("CUDA pinned uploads arrive intact and order the compute stream after the copy", "[cuda]") {
    SR_REQUIRE_GPU();
    sr::cuda::PinnedUpload uploader(2);
    CHECK(uploader.device() == sr::cuda::current_device());
    std::vector<CpuTensor> batches;
    std::vector<GpuTensor> uploaded, doubled;
    for (int i = 0; i < 5; ++i) {
        // Growing sizes make slots reallocate; the host tensor is overwritten right after.
        auto batch = random_tensor({4 + i, 48, 48, 3}, 70 + i, 0, 255);
        batches.push_back(batch.clone());
        uploaded.push_back(sr::upload_async(uploader, batch));
        // Enqueued right after the upload on the compute stream: must see the uploaded values.
        doubled.push_back(2.f * uploaded.back());
        batch.fill_(-1.f);
    }
    for (int i = 0; i < 5; ++i) {
        CHECK(uploaded[i].device_index() == uploader.device());
        CHECK(same_values(uploaded[i], batches[i]));
        CHECK(gpu_error(doubled[i], 2.f * batches[i]) == 0);
    }
    CHECK(uploader.staging_bytes() >= 2 * std::size_t(7 * 48 * 48 * 3) * sizeof(float));
    // A strided host view is uploaded as its contiguous copy.
    auto image = random_tensor({2, 20, 30, 3}, 80);
    CHECK(same_values(sr::upload_async(uploader, image.crop(3, 4, 10, 11)), image.crop(3, 4, 10, 11).contiguous()));
    CHECK(sr::upload_async(uploader, CpuTensor::zeros({0, 3})).numel() == 0);
    // The raw interface: caller-owned device memory.
    std::vector<int32_t> words(1000);
    std::iota(words.begin(), words.end(), -500);
    void* raw = uploader.upload(words.data(), words.size() * sizeof(int32_t));
    auto adopted = sr::Tensor<int32_t, sr::Cuda>::adopt_device_memory({1000}, static_cast<int32_t*>(raw), uploader.device());
    CHECK(adopted.to_vector() == words);
}

}  // namespace test_cuda
#else

TEST_CASE("CUDA kernels", "[cuda]") { SR_SKIP("sr was built without CUDA (SR_WITH_CUDA=OFF or no nvcc)"); }

#endif
