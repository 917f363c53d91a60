// The device convolutions of sr/cuda/conv2d.hpp: argument checks, the choice between cuDNN and
// cuBLASLt (1x1 only) per problem, and the small kernels of our own both libraries share (bias
// gradient, the epilogue of an unfused forward).
#include <cstdlib>
#include <map>
#include <mutex>
#include <sstream>
#include <string>

#include "check.cuh"
#include "conv2d_common.cuh"
#include "sr/cuda/conv2d.hpp"
#include "sr/cuda/memory.hpp"
#include "stream.cuh"

namespace sr::cuda {

namespace {

ConvSettings settings_from_environment() {
    ConvSettings settings;
    const char* env = std::getenv("SR_CUDA_CONV_BACKEND");
    const std::string name = env ? env : "";
    if (name == "cudnn")
        settings.path = ConvPath::cudnn;
    else if (name == "cublaslt")
        settings.path = ConvPath::cublaslt;
    else if (!name.empty())
        ::sr::fail("SR_CUDA_CONV_BACKEND='", name, "' is not a convolution library; expected cudnn or cublaslt (or unset "
                   "for the automatic choice)");
    return settings;
}

std::mutex& settings_mutex() {
    static std::mutex mutex;
    return mutex;
}

// Read from the environment on first use (not at static initialisation, so a bad value is an
// sr::Error a tool can report rather than a crash before main).
ConvSettings& settings_storage() {
    static ConvSettings settings = settings_from_environment();
    return settings;
}

}  // namespace

void set_conv_settings(const ConvSettings& settings) {
    std::lock_guard<std::mutex> lock(settings_mutex());
    settings_storage() = settings;
}

ConvSettings conv_settings() {
    std::lock_guard<std::mutex> lock(settings_mutex());
    return settings_storage();
}

namespace detail::conv {

const char* pass_name(Pass pass) {
    switch (pass) {
        case Pass::forward: return "forward";
        case Pass::backward_data: return "backward-data";
        case Pass::backward_weights: return "backward-weights";
    }
    return "?";
}

std::string describe(const Problem& problem) {
    const ConvShape& s = problem.shape;
    std::ostringstream out;
    out << pass_name(problem.pass) << " convolution (N=" << s.n << ", H=" << s.h << ", W=" << s.w << ", C=" << s.c
        << ", O=" << s.o << ", k=" << s.k;
    if (problem.bias) out << "; bias";
    if (problem.relu) out << "; relu";
    if (problem.accumulate) out << "; accumulate";
    out << ")";
    return out.str();
}

int alignment_of(const Operands& operands) {
    uintptr_t bits = 0;
    for (const void* pointer : {static_cast<const void*>(operands.x), static_cast<const void*>(operands.w),
                                static_cast<const void*>(operands.dy), static_cast<const void*>(operands.b),
                                static_cast<const void*>(operands.z), static_cast<const void*>(operands.out)})
        bits |= reinterpret_cast<uintptr_t>(pointer);
    if (bits % 16 == 0) return 16;
    if (bits % 8 == 0) return 8;
    return 4;
}

EventPair::EventPair() {
    SR_CUDA_CHECK(cudaEventCreate(&start));
    SR_CUDA_CHECK(cudaEventCreate(&stop));
}

EventPair::~EventPair() {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
}

double EventPair::elapsed_ms() {
    SR_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    SR_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    return ms;
}

PoolBuffer::PoolBuffer(std::size_t bytes) {
    if (bytes > 0) m_data = device_malloc(bytes);
}

PoolBuffer::~PoolBuffer() {
    if (m_data) device_free(m_data);
}

Operands timing_operands(const Problem& problem, const Operands& operands, PoolBuffer& scratch) {
    Operands timing = operands;
    if (!problem.accumulate) return timing;
    const ConvShape& s = problem.shape;
    const std::size_t bytes = static_cast<std::size_t>(s.n * s.h * s.w * s.o) * sizeof(float);
    scratch = PoolBuffer(bytes);
    SR_CUDA_CHECK(cudaMemsetAsync(scratch.get(), 0, bytes, detail::compute_stream()));
    timing.out = scratch.floats();
    return timing;
}

// ---- epilogue of an unfused forward ----

struct EpilogueParams {
    const float* conv;  // may be y
    const float* bias;  // [channels] or null
    const float* addend;  // [count] or null; may be y
    float* y;
    int64_t count;
    int64_t channels;
    bool relu;
};

// Pointers are not __restrict__: conv and addend alias y in place, each element is read before the
// same thread writes it.
__global__ void epilogue_kernel(EpilogueParams p) {
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < p.count; i += stride) {
        float value = p.conv[i];
        if (p.bias) value += p.bias[i % p.channels];
        if (p.addend) value += p.addend[i];
        if (p.relu) value = fmaxf(value, 0.f);
        p.y[i] = value;
    }
}

void launch_epilogue(const float* conv, const float* b, const float* z, float* y, int64_t rows, int64_t channels,
                     bool relu, cudaStream_t stream) {
    EpilogueParams params{conv, b, z, y, rows * channels, channels, relu};
    epilogue_kernel<<<grid_for(params.count), k_block, 0, stream>>>(params);
    check_launch("conv2d epilogue");
}

// ---- bias gradient ----

// Block: 32 channels x 8 row lanes. Each block sums one chunk of rows into partial[chunk, o];
// a second kernel adds the chunks in order. Fixed order everywhere, so the result is bit-identical
// from run to run (no atomics).
inline constexpr int k_bias_channels = 32;
inline constexpr int k_bias_lanes = 8;

struct BiasGradientParams {
    const float* grad_y;  // [rows, channels]
    float* partial;       // [chunks, channels]
    int64_t rows, channels, rows_per_chunk;
};

__global__ void bias_gradient_partial_kernel(BiasGradientParams p) {
    __shared__ float lane_sums[k_bias_lanes][k_bias_channels + 1];
    const int64_t channel = static_cast<int64_t>(blockIdx.x) * k_bias_channels + threadIdx.x;
    const int64_t first = static_cast<int64_t>(blockIdx.y) * p.rows_per_chunk;
    const int64_t end = min(first + p.rows_per_chunk, p.rows);
    float sum = 0.f;
    if (channel < p.channels)
        for (int64_t row = first + threadIdx.y; row < end; row += k_bias_lanes) sum += p.grad_y[row * p.channels + channel];
    lane_sums[threadIdx.y][threadIdx.x] = sum;
    __syncthreads();
    if (threadIdx.y == 0 && channel < p.channels) {
        float total = 0.f;
        for (int lane = 0; lane < k_bias_lanes; ++lane) total += lane_sums[lane][threadIdx.x];
        p.partial[static_cast<int64_t>(blockIdx.y) * p.channels + channel] = total;
    }
}

__global__ void bias_gradient_final_kernel(const float* partial, float* grad_b, int64_t chunks, int64_t channels) {
    const int64_t channel = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (channel >= channels) return;
    float total = 0.f;
    for (int64_t chunk = 0; chunk < chunks; ++chunk) total += partial[chunk * channels + channel];
    grad_b[channel] = total;
}

void launch_bias_gradient(const float* grad_y, float* grad_b, int64_t rows, int64_t channels, cudaStream_t stream) {
    // 512-row chunks keep thousands of blocks busy on training batches; gridDim.y caps the count.
    int64_t rows_per_chunk = 512;
    if ((rows + rows_per_chunk - 1) / rows_per_chunk > 65535) rows_per_chunk = (rows + 65534) / 65535;
    const int64_t chunks = (rows + rows_per_chunk - 1) / rows_per_chunk;
    PoolBuffer partial(static_cast<std::size_t>(chunks * channels) * sizeof(float));
    BiasGradientParams params{grad_y, partial.floats(), rows, channels, rows_per_chunk};
    const dim3 grid(static_cast<unsigned>((channels + k_bias_channels - 1) / k_bias_channels),
                    static_cast<unsigned>(chunks));
    bias_gradient_partial_kernel<<<grid, dim3(k_bias_channels, k_bias_lanes), 0, stream>>>(params);
    check_launch("conv2d bias gradient (partial sums)");
    bias_gradient_final_kernel<<<static_cast<unsigned>((channels + k_block - 1) / k_block), k_block, 0, stream>>>(
        partial.floats(), grad_b, chunks, channels);
    check_launch("conv2d bias gradient (final sums)");
}

}  // namespace detail::conv

namespace {

using namespace detail::conv;

enum class Library { cudnn, cublaslt };

void check_shape(const ConvShape& shape, const char* op) {
    SR_CHECK(shape.n > 0 && shape.h > 0 && shape.w > 0 && shape.c > 0 && shape.o > 0,
             op, " (CUDA): every dimension must be positive, got N=", shape.n, ", H=", shape.h, ", W=", shape.w,
             ", C=", shape.c, ", O=", shape.o);
    SR_CHECK(shape.k > 0 && shape.k % 2 == 1, op, " (CUDA): the kernel size must be odd ('same' padding), got k=",
             shape.k);
}

int current_device_index() {
    int device = 0;
    SR_CUDA_CHECK(cudaGetDevice(&device));
    return device;
}

std::mutex& choice_mutex() {
    static std::mutex mutex;
    return mutex;
}

std::map<PlanKey, Library>& choices() {
    static std::map<PlanKey, Library> map;
    return map;
}

// cuBLASLt handles 1x1 only. Measured: each library times its own best plan on these operands
// (the addend is only read, the output goes to scratch when it holds the addend), and the faster
// wins for this problem for the rest of the process.
Library choose_library(const Problem& problem, const ConvSettings& settings, const Operands& operands) {
    if (problem.shape.k != 1 || settings.path == ConvPath::cudnn) return Library::cudnn;
    if (settings.path == ConvPath::cublaslt || !wants_timing(settings)) return Library::cublaslt;
    std::lock_guard<std::mutex> lock(choice_mutex());
    const PlanKey key{problem, settings};
    if (auto found = choices().find(key); found != choices().end()) return found->second;
    Operands timing = operands;
    PoolBuffer scratch;
    if (problem.pass == Pass::forward && problem.accumulate) {
        const ConvShape& s = problem.shape;
        scratch = PoolBuffer(static_cast<std::size_t>(s.n * s.h * s.w * s.o) * sizeof(float));
        SR_CUDA_CHECK(cudaMemsetAsync(scratch.get(), 0, static_cast<std::size_t>(s.n * s.h * s.w * s.o) * sizeof(float),
                                      detail::compute_stream()));
        timing.out = scratch.floats();
    }
    const double gemm_ms = gemm::time(problem, settings, timing);
    const double cudnn_ms = cudnn::time(problem, settings, timing);
    const Library chosen = cudnn_ms < gemm_ms ? Library::cudnn : Library::cublaslt;
    choices().emplace(key, chosen);
    return chosen;
}

void run(const Problem& problem, const ConvSettings& settings, const Operands& operands) {
    if (choose_library(problem, settings, operands) == Library::cublaslt) {
        if (settings.path == ConvPath::cublaslt) return gemm::run(problem, settings, operands);
        // The automatic choice takes cuBLASLt unmeasured (heuristics only, deterministic mode) or
        // when neither library could be timed: cuDNN runs what cuBLASLt has no algorithm for.
        if (gemm::try_run(problem, settings, operands)) return;
    }
    cudnn::run(problem, settings, operands);
}

}  // namespace

void conv2d_forward(const ConvShape& shape, const float* x, const float* w, const float* b, float* y, bool relu,
                    bool accumulate) {
    check_shape(shape, "conv2d_forward");
    SR_CHECK(x && w && y, "conv2d_forward (CUDA): input, weights and output must be device pointers, got null");
    Problem problem;
    problem.shape = shape;
    problem.pass = Pass::forward;
    problem.bias = b != nullptr, problem.relu = relu, problem.accumulate = accumulate;
    Operands operands;
    operands.x = x, operands.w = w, operands.b = b, operands.z = accumulate ? y : nullptr, operands.out = y;
    problem.alignment = alignment_of(operands);
    problem.device = current_device_index();
    run(problem, conv_settings(), operands);
}

void conv2d_backward_data(const ConvShape& shape, const float* grad_y, const float* w, float* grad_x) {
    check_shape(shape, "conv2d_backward_data");
    SR_CHECK(grad_y && w && grad_x, "conv2d_backward_data (CUDA): grad_y, weights and grad_x must be device pointers, "
             "got null");
    Problem problem;
    problem.shape = shape;
    problem.pass = Pass::backward_data;
    Operands operands;
    operands.dy = grad_y, operands.w = w, operands.out = grad_x;
    problem.alignment = alignment_of(operands);
    problem.device = current_device_index();
    run(problem, conv_settings(), operands);
}

void conv2d_backward_weights(const ConvShape& shape, const float* x, const float* grad_y, float* grad_w,
                             float* grad_b) {
    check_shape(shape, "conv2d_backward_weights");
    SR_CHECK(x && grad_y && grad_w, "conv2d_backward_weights (CUDA): input, grad_y and grad_w must be device pointers, "
             "got null");
    Problem problem;
    problem.shape = shape;
    problem.pass = Pass::backward_weights;
    Operands operands;
    operands.x = x, operands.dy = grad_y, operands.out = grad_w;
    problem.alignment = alignment_of(operands);
    problem.device = current_device_index();
    run(problem, conv_settings(), operands);
    if (grad_b)
        launch_bias_gradient(grad_y, grad_b, shape.n * shape.h * shape.w, shape.o, detail::compute_stream());
}

}  // namespace sr::cuda
