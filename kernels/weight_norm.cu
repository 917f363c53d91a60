// Weight normalisation forward and backward (declared in sr/cuda/weight_norm.hpp).
// CPU twin: sr/ops/weight_norm.hpp. One block per output channel: the row is reduced in shared
// memory, then scaled. A row whose norm is not positive is reported as a deferred device error
// (device_error.cuh) with the CPU's message, so the forward needs no host wait.
#include "check.cuh"
#include "device_error.cuh"
#include "stream.cuh"
#include "sr/cuda/weight_norm.hpp"

namespace sr::cuda {

namespace {

struct WeightNormParams {
    const float* v;
    const float* g;
    const float* norms;
    const float* grad_w;
    int64_t row_size;
    float* w;
    float* out_norms;
    float* grad_v;
    float* grad_g;
    detail::DeviceErrorSink error;
    int rank;
    long long dims[6];
};

__device__ double block_sum(double value) {
    __shared__ double shared[detail::k_block];
    shared[threadIdx.x] = value;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
        if (threadIdx.x < stride) shared[threadIdx.x] += shared[threadIdx.x + stride];
        __syncthreads();
    }
    const double total = shared[0];
    __syncthreads();
    return total;
}

__global__ void weight_norm_forward_kernel(WeightNormParams p) {
    const int64_t row = blockIdx.x;
    const float* v = p.v + row * p.row_size;
    double sq = 0;
    for (int64_t k = threadIdx.x; k < p.row_size; k += blockDim.x) sq += double(v[k]) * v[k];
    const float norm = static_cast<float>(sqrt(block_sum(sq)));
    if (threadIdx.x == 0) {
        p.out_norms[row] = norm;
        if (!(norm > 0.f)) detail::report_device_error(p.error, detail::k_weight_norm_zero_row, row, p.rank, p.dims);
    }
    const float factor = p.g[row] / norm;
    for (int64_t k = threadIdx.x; k < p.row_size; k += blockDim.x) p.w[row * p.row_size + k] = factor * v[k];
}

__global__ void weight_norm_backward_kernel(WeightNormParams p) {
    const int64_t row = blockIdx.x;
    const float* v = p.v + row * p.row_size;
    const float* gw = p.grad_w + row * p.row_size;
    double s = 0;
    for (int64_t k = threadIdx.x; k < p.row_size; k += blockDim.x) s += double(gw[k]) * v[k];
    s = block_sum(s);
    const double n = p.norms[row];
    if (threadIdx.x == 0) p.grad_g[row] = static_cast<float>(s / n);
    const float a = static_cast<float>(p.g[row] / n), b = static_cast<float>(s / (n * n));
    for (int64_t k = threadIdx.x; k < p.row_size; k += blockDim.x) p.grad_v[row * p.row_size + k] = a * (gw[k] - b * v[k]);
}

}  // namespace

void weight_norm_forward(const float* v, const float* g, int64_t rows, int64_t row_size, float* w, float* norms,
                         const WeightShape& v_shape) {
    if (rows == 0) return;
    SR_CHECK(rows <= 0x7fffffff, "weight_norm: ", rows, " rows exceed the grid's limit");
    WeightNormParams p{v, g, nullptr, nullptr, row_size, w, norms, nullptr, nullptr, detail::device_error_sink(),
                       v_shape.rank, {}};
    for (int i = 0; i < v_shape.rank && i < 6; ++i) p.dims[i] = v_shape.dims[i];
    weight_norm_forward_kernel<<<static_cast<unsigned>(rows), detail::k_block, 0, detail::compute_stream()>>>(p);
    detail::check_launch("weight_norm_forward_kernel", rows * row_size);
}

void weight_norm_backward(const float* v, const float* g, const float* norms, const float* grad_w, int64_t rows,
                          int64_t row_size, float* grad_v, float* grad_g) {
    if (rows == 0) return;
    WeightNormParams p{v, g, norms, grad_w, row_size, nullptr, nullptr, grad_v, grad_g, {}, 0, {}};
    weight_norm_backward_kernel<<<static_cast<unsigned>(rows), detail::k_block, 0, detail::compute_stream()>>>(p);
    detail::check_launch("weight_norm_backward_kernel", rows * row_size);
}

}  // namespace sr::cuda
