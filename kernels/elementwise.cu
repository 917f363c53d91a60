// Elementwise and normalisation kernels (declared in sr/cuda/elementwise.hpp, sr/cuda/normalize.hpp).
// CPU twins: sr/ops/elementwise.hpp and sr/ops/normalize.hpp.
#include "check.cuh"
#include "stream.cuh"
#include "sr/cuda/elementwise.hpp"
#include "sr/cuda/normalize.hpp"

namespace sr::cuda {

namespace {

enum class Binary { add, add_scaled, multiply, relu_backward };

struct BinaryParams {
    const float* a;
    const float* b;
    float* out;
    float alpha;
    int64_t count;
};

template <Binary op>
__global__ void binary_kernel(BinaryParams p) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < p.count; i += int64_t(blockDim.x) * gridDim.x) {
        if constexpr (op == Binary::add) p.out[i] = p.a[i] + p.b[i];
        if constexpr (op == Binary::add_scaled) p.out[i] = p.a[i] + p.alpha * p.b[i];
        if constexpr (op == Binary::multiply) p.out[i] = p.a[i] * p.b[i];
        if constexpr (op == Binary::relu_backward) p.out[i] = p.a[i] > 0.f ? p.b[i] : 0.f;  // a = x, b = grad_y
    }
}

template <Binary op>
void launch_binary(const BinaryParams& p) {
    if (p.count == 0) return;
    binary_kernel<op><<<detail::grid_for(p.count), detail::k_block, 0, detail::compute_stream()>>>(p);
    detail::check_launch("binary_kernel (add, multiply, relu backward)", p.count);
}

struct UnaryParams {
    const float* x;
    float* out;
    float alpha;
    int64_t count;
};

__global__ void scale_kernel(UnaryParams p) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < p.count; i += int64_t(blockDim.x) * gridDim.x)
        p.out[i] = p.alpha * p.x[i];
}

__global__ void relu_kernel(UnaryParams p) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < p.count; i += int64_t(blockDim.x) * gridDim.x)
        p.out[i] = fmaxf(p.x[i], 0.f);
}

struct NormalizeParams {
    const float* x;
    float* y;
    int64_t pixels;
    float mean255[3];
    float divisor;
    bool inverse;
};

__global__ void normalize_kernel(NormalizeParams p) {
    const int64_t count = p.pixels * 3;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(blockDim.x) * gridDim.x) {
        const float m = p.mean255[i % 3];
        p.y[i] = p.inverse ? p.x[i] * p.divisor + m : (p.x[i] - m) / p.divisor;
    }
}

void launch_normalize(const NormalizeParams& p) {
    if (p.pixels == 0) return;
    normalize_kernel<<<detail::grid_for(p.pixels * 3), detail::k_block, 0, detail::compute_stream()>>>(p);
    detail::check_launch("normalize_kernel", p.pixels * 3);
}

}  // namespace

void add(const float* a, const float* b, float* out, int64_t count) { launch_binary<Binary::add>({a, b, out, 1.f, count}); }
void add_scaled(const float* a, const float* b, float alpha, float* out, int64_t count) {
    launch_binary<Binary::add_scaled>({a, b, out, alpha, count});
}
void multiply(const float* a, const float* b, float* out, int64_t count) {
    launch_binary<Binary::multiply>({a, b, out, 1.f, count});
}
void relu_backward(const float* x, const float* grad_y, float* grad_x, int64_t count) {
    launch_binary<Binary::relu_backward>({x, grad_y, grad_x, 1.f, count});
}
void scale(const float* x, float alpha, float* out, int64_t count) {
    if (count == 0) return;
    scale_kernel<<<detail::grid_for(count), detail::k_block, 0, detail::compute_stream()>>>({x, out, alpha, count});
    detail::check_launch("scale_kernel", count);
}
void relu_forward(const float* x, float* y, int64_t count) {
    if (count == 0) return;
    relu_kernel<<<detail::grid_for(count), detail::k_block, 0, detail::compute_stream()>>>({x, y, 0.f, count});
    detail::check_launch("relu_kernel", count);
}
void normalize_rgb(const float* x, float* y, int64_t pixels, const float mean255[3], float divisor) {
    launch_normalize({x, y, pixels, {mean255[0], mean255[1], mean255[2]}, divisor, false});
}
void denormalize_rgb(const float* x, float* y, int64_t pixels, const float mean255[3], float divisor) {
    launch_normalize({x, y, pixels, {mean255[0], mean255[1], mean255[2]}, divisor, true});
}

}  // namespace sr::cuda
