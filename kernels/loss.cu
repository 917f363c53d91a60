// Reductions and losses (declared in sr/cuda/reduce.hpp). CPU twins: sr/ops/reduce.hpp and
// sr/ops/loss.hpp. Sums run in two passes: per-block partial sums in double, then one block
// adds the partials, so the result does not depend on atomics' ordering (deterministic).
#include <algorithm>

#include "check.cuh"
#include "stream.cuh"
#include "sr/cuda/reduce.hpp"

namespace sr::cuda {

namespace {

enum class Term { value, abs_diff, sq_diff };

constexpr int k_reduce_blocks = 1024;

struct ReduceParams {
    const float* a;
    const float* b;
    int64_t count;
    double* partial;  // [gridDim.x]
};

template <Term term>
__global__ void partial_sum_kernel(ReduceParams p) {
    __shared__ double shared[detail::k_block];
    double acc = 0;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < p.count; i += int64_t(blockDim.x) * gridDim.x) {
        if constexpr (term == Term::value) acc += p.a[i];
        if constexpr (term == Term::abs_diff) acc += fabsf(p.a[i] - p.b[i]);
        if constexpr (term == Term::sq_diff) {
            const float d = p.a[i] - p.b[i];
            acc += double(d) * d;
        }
    }
    shared[threadIdx.x] = acc;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
        if (threadIdx.x < stride) shared[threadIdx.x] += shared[threadIdx.x + stride];
        __syncthreads();
    }
    if (threadIdx.x == 0) p.partial[blockIdx.x] = shared[0];
}

__global__ void finish_sum_kernel(const double* partial, int parts, double factor, float* out) {
    __shared__ double shared[detail::k_block];
    double acc = 0;
    for (int i = threadIdx.x; i < parts; i += blockDim.x) acc += partial[i];
    shared[threadIdx.x] = acc;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
        if (threadIdx.x < stride) shared[threadIdx.x] += shared[threadIdx.x + stride];
        __syncthreads();
    }
    if (threadIdx.x == 0) *out = static_cast<float>(shared[0] * factor);
}

template <Term term>
void launch_sum(const float* a, const float* b, int64_t count, double factor, float* out) {
    const int blocks = static_cast<int>(std::min<int64_t>(k_reduce_blocks, std::max<int64_t>(1, (count + detail::k_block - 1) / detail::k_block)));
    // Scratch from the stream-ordered pool, on the compute stream like the kernels that use it.
    cudaStream_t stream = detail::compute_stream();
    double* partial = nullptr;
    SR_CUDA_CHECK(cudaMallocAsync(&partial, sizeof(double) * blocks, stream));
    partial_sum_kernel<term><<<blocks, detail::k_block, 0, stream>>>({a, b, count, partial});
    detail::check_launch("partial_sum_kernel (sum, l1, mse)", count);
    finish_sum_kernel<<<1, detail::k_block, 0, stream>>>(partial, blocks, factor, out);
    detail::check_launch("finish_sum_kernel");
    SR_CUDA_CHECK(cudaFreeAsync(partial, stream));
}

enum class Grad { broadcast, l1, mse };

struct GradParams {
    const float* a;
    const float* b;
    const float* grad_out;  // one device float
    float factor;
    int64_t count;
    float* grad;
};

template <Grad kind>
__global__ void grad_kernel(GradParams p) {
    const float g = *p.grad_out * p.factor;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < p.count; i += int64_t(blockDim.x) * gridDim.x) {
        if constexpr (kind == Grad::broadcast) p.grad[i] = g;
        if constexpr (kind == Grad::l1) {
            const float d = p.a[i] - p.b[i];
            p.grad[i] = d > 0.f ? g : (d < 0.f ? -g : 0.f);
        }
        if constexpr (kind == Grad::mse) p.grad[i] = 2.f * g * (p.a[i] - p.b[i]);
    }
}

template <Grad kind>
void launch_grad(const GradParams& p) {
    if (p.count == 0) return;
    grad_kernel<kind><<<detail::grid_for(p.count), detail::k_block, 0, detail::compute_stream()>>>(p);
    detail::check_launch("grad_kernel (sum, l1, mse backward)", p.count);
}

}  // namespace

void sum(const float* x, int64_t count, float factor, float* out) { launch_sum<Term::value>(x, nullptr, count, factor, out); }
void fill_from_scalar(const float* grad_out, float factor, float* grad_x, int64_t count) {
    launch_grad<Grad::broadcast>({nullptr, nullptr, grad_out, factor, count, grad_x});
}
void l1_loss_forward(const float* a, const float* b, int64_t count, float* out) {
    launch_sum<Term::abs_diff>(a, b, count, 1.0 / double(count), out);
}
void l1_loss_backward(const float* a, const float* b, const float* grad_out, int64_t count, float* grad_a) {
    launch_grad<Grad::l1>({a, b, grad_out, 1.f / float(count), count, grad_a});
}
void mse_loss_forward(const float* a, const float* b, int64_t count, float* out) {
    launch_sum<Term::sq_diff>(a, b, count, 1.0 / double(count), out);
}
void mse_loss_backward(const float* a, const float* b, const float* grad_out, int64_t count, float* grad_a) {
    launch_grad<Grad::mse>({a, b, grad_out, 1.f / float(count), count, grad_a});
}

}  // namespace sr::cuda
