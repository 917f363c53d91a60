#pragma once
// What the two convolution libraries of the CUDA backend share (internal to kernels/): the problem
// description that keys every plan cache, the operand pointers, the error context, timing with
// CUDA events, and the small kernels of our own (bias gradient, unfused epilogue). The exported
// functions of sr/cuda/conv2d.hpp (kernels/conv2d.cu) pick cuDNN (kernels/conv2d_cudnn.cu) or
// cuBLASLt (kernels/conv2d_gemm.cu) per problem.
#include <cuda_runtime.h>

#include <cstdint>
#include <limits>
#include <string>
#include <tuple>
#include <utility>

#include "sr/cuda/conv2d.hpp"

namespace sr::cuda::detail::conv {

enum class Pass { forward, backward_data, backward_weights };

// One convolution call as plans see it. Fusion flags apply to the forward pass only; the bias
// gradient is not part of it (kernels/conv2d.cu computes it with our reduction for both libraries).
// `alignment` is the largest of 16/8/4 bytes dividing every operand address: engines and GEMM
// kernels may assume it, so it is part of the key (batch views start at arbitrary offsets).
struct Problem {
    ConvShape shape;
    Pass pass = Pass::forward;
    bool bias = false, relu = false, accumulate = false;
    int alignment = 16;
    int device = 0;
};

inline auto key_tuple(const Problem& p, const ConvSettings& s) {
    return std::make_tuple(p.device, static_cast<int>(p.pass), p.shape.n, p.shape.h, p.shape.w, p.shape.c, p.shape.o,
                           p.shape.k, p.bias, p.relu, p.accumulate, p.alignment, s.deterministic, s.allow_tf32,
                           s.measure && !s.deterministic);
}

// A plan-cache key: the problem and the settings that change which plans are allowed or chosen.
struct PlanKey {
    Problem problem;
    ConvSettings settings;
    bool operator<(const PlanKey& other) const {
        return key_tuple(problem, settings) < key_tuple(other.problem, other.settings);
    }
};

// Device pointers of one call. forward: x, w, b (or null), z = the addend when accumulating (y
// itself in the exported API, so z may alias out), out = y. backward_data: dy, w, out = dx.
// backward_weights: x, dy, out = dw. While timing, out is a scratch buffer and z stays y.
struct Operands {
    const float* x = nullptr;
    const float* w = nullptr;
    const float* dy = nullptr;
    const float* b = nullptr;
    const float* z = nullptr;
    float* out = nullptr;
};

// "forward convolution (N=2, H=17, W=23, C=3, O=32, k=3; bias, relu)" for error messages.
std::string describe(const Problem& problem);
const char* pass_name(Pass pass);

int alignment_of(const Operands& operands);

inline bool wants_timing(const ConvSettings& settings) { return settings.measure && !settings.deterministic; }

// Milliseconds per run of `run` on the compute stream: one warm-up, then the mean of `repeats`
// runs between two events. Blocks the host (only used while choosing a plan).
template <class Run>
double time_on_stream(cudaStream_t stream, Run&& run, int repeats = 3);

// Owns a CUDA event pair for time_on_stream; defined in conv2d.cu.
struct EventPair {
    cudaEvent_t start = nullptr, stop = nullptr;
    EventPair();
    ~EventPair();
    EventPair(const EventPair&) = delete;
    EventPair& operator=(const EventPair&) = delete;
    double elapsed_ms();
};

template <class Run>
double time_on_stream(cudaStream_t stream, Run&& run, int repeats) {
    run();
    EventPair events;
    cudaEventRecord(events.start, stream);
    for (int i = 0; i < repeats; ++i) run();
    cudaEventRecord(events.stop, stream);
    return events.elapsed_ms() / repeats;
}

// Device memory from the stream-ordered pool, returned to it at scope exit (ordered after the work
// enqueued on the compute stream, so kernels using it may still be running).
class PoolBuffer {
public:
    PoolBuffer() = default;
    explicit PoolBuffer(std::size_t bytes);
    ~PoolBuffer();
    PoolBuffer(PoolBuffer&& other) noexcept : m_data(other.m_data) { other.m_data = nullptr; }
    PoolBuffer& operator=(PoolBuffer&& other) noexcept {
        std::swap(m_data, other.m_data);
        return *this;
    }
    PoolBuffer(const PoolBuffer&) = delete;
    PoolBuffer& operator=(const PoolBuffer&) = delete;
    void* get() const { return m_data; }
    float* floats() const { return static_cast<float*>(m_data); }

private:
    void* m_data = nullptr;
};

// Operands for timing candidates: with a residual addend in y (accumulate), timed runs write into
// a zeroed scratch output instead, so y receives its addend exactly once. `scratch` keeps that
// buffer alive for the caller.
Operands timing_operands(const Problem& problem, const Operands& operands, PoolBuffer& scratch);

// ---- our own kernels (kernels/conv2d.cu) ----

// y[p, o] = relu?(conv[p, o] + b[o] + z[p, o]) over P rows; b and z may be null, conv may be y.
void launch_epilogue(const float* conv, const float* b, const float* z, float* y, int64_t rows, int64_t channels,
                     bool relu, cudaStream_t stream);
// grad_b[o] = sum_p grad_y[p, o], in a fixed order (deterministic).
void launch_bias_gradient(const float* grad_y, float* grad_b, int64_t rows, int64_t channels, cudaStream_t stream);

// ---- the two libraries ----

inline constexpr double k_unsupported = std::numeric_limits<double>::infinity();

namespace cudnn {
// Runs the problem (fused where an engine exists, else our epilogue kernel after the plain
// convolution). Throws sr::Error naming the problem when cuDNN has no engine at all.
void run(const Problem& problem, const ConvSettings& settings, const Operands& operands);
// Chooses (and caches) the plan, then returns its time per call in ms, k_unsupported when cuDNN
// has no engine. operands.out may be scratch; operands.z is read only.
double time(const Problem& problem, const ConvSettings& settings, const Operands& operands);
}  // namespace cudnn

namespace gemm {
// 1x1 problems only (shape.k == 1).
void run(const Problem& problem, const ConvSettings& settings, const Operands& operands);
// As run, but returns false when cuBLASLt has no algorithm that runs it (the output is then unset).
bool try_run(const Problem& problem, const ConvSettings& settings, const Operands& operands);
double time(const Problem& problem, const ConvSettings& settings, const Operands& operands);
}  // namespace gemm

}  // namespace sr::cuda::detail::conv
