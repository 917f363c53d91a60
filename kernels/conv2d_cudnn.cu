// Convolutions through cuDNN 9's graph (backend) API, written against the backend descriptors
// directly. Layouts need no conversion: NHWC activations are tensors with dimensions (N, C, H, W)
// and strides (HWC, 1, WC, C); OHWI weights are (O, C, K, K) with strides (KKC, 1, KC, C).
//
// One graph per problem: the forward convolution followed by pointwise ops for the residual
// addend, the bias and ReLU (y = relu(conv + z + b)), backward-data, or backward-filter. Engine
// configurations come from heuristics mode A (mode FALLBACK when A has none), filtered by the
// settings (no tensor-core/TF32 engines unless allowed, no non-deterministic ones in deterministic
// mode). With timing, the first few candidates run on the call's operands and the fastest stays;
// otherwise the first that executes. When no engine runs a fused graph, the plain convolution runs
// and our epilogue kernel applies bias, addend and ReLU.
#include <cudnn_graph.h>

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "check.cuh"
#include "conv2d_common.cuh"
#include "sr/cuda/memory.hpp"
#include "stream.cuh"

namespace sr::cuda::detail::conv::cudnn {

namespace {

std::string status_text(cudnnStatus_t status) {
    std::string text = cudnnGetErrorString(status);
    std::array<char, 1024> last{};
    cudnnGetLastErrorString(last.data(), last.size());
    if (last[0]) text += std::string(" (") + last.data() + ")";
    return text;
}

// Owns one backend descriptor.
class Descriptor {
public:
    Descriptor() = default;
    explicit Descriptor(cudnnBackendDescriptor_t handle) : m_handle(handle) {}
    ~Descriptor() {
        if (m_handle) cudnnBackendDestroyDescriptor(m_handle);
    }
    Descriptor(Descriptor&& other) noexcept : m_handle(std::exchange(other.m_handle, nullptr)) {}
    Descriptor& operator=(Descriptor&& other) noexcept {
        std::swap(m_handle, other.m_handle);
        return *this;
    }
    Descriptor(const Descriptor&) = delete;
    Descriptor& operator=(const Descriptor&) = delete;
    cudnnBackendDescriptor_t get() const { return m_handle; }

private:
    cudnnBackendDescriptor_t m_handle = nullptr;
};

// Creates, sets and finalizes descriptors for one problem; every failure names the call, the
// descriptor and the problem.
class Builder {
public:
    explicit Builder(const Problem& problem) : m_problem(problem) {}

    void check(cudnnStatus_t status, const char* call, const char* what) const {
        if (status != CUDNN_STATUS_SUCCESS)
            ::sr::fail("cuDNN ", call, " (", what, ") failed for the ", describe(m_problem), ": ", status_text(status));
    }

    Descriptor create(cudnnBackendDescriptorType_t type, const char* what) const {
        cudnnBackendDescriptor_t handle = nullptr;
        check(cudnnBackendCreateDescriptor(type, &handle), "cudnnBackendCreateDescriptor", what);
        return Descriptor(handle);
    }

    void set(const Descriptor& d, cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, int64_t count,
             const void* values, const char* what) const {
        check(cudnnBackendSetAttribute(d.get(), name, type, count, values), "cudnnBackendSetAttribute", what);
    }
    void set_int64(const Descriptor& d, cudnnBackendAttributeName_t name, int64_t value, const char* what) const {
        set(d, name, CUDNN_TYPE_INT64, 1, &value, what);
    }
    void set_int64s(const Descriptor& d, cudnnBackendAttributeName_t name, const std::vector<int64_t>& values,
                    const char* what) const {
        set(d, name, CUDNN_TYPE_INT64, static_cast<int64_t>(values.size()), values.data(), what);
    }
    void set_float(const Descriptor& d, cudnnBackendAttributeName_t name, float value, const char* what) const {
        set(d, name, CUDNN_TYPE_FLOAT, 1, &value, what);
    }
    void set_data_type(const Descriptor& d, cudnnBackendAttributeName_t name, cudnnDataType_t value,
                       const char* what) const {
        set(d, name, CUDNN_TYPE_DATA_TYPE, 1, &value, what);
    }
    void set_descriptor(const Descriptor& d, cudnnBackendAttributeName_t name, const Descriptor& value,
                        const char* what) const {
        cudnnBackendDescriptor_t handle = value.get();
        set(d, name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &handle, what);
    }
    void set_handle(const Descriptor& d, cudnnBackendAttributeName_t name, cudnnHandle_t handle,
                    const char* what) const {
        set(d, name, CUDNN_TYPE_HANDLE, 1, &handle, what);
    }
    void finalize(const Descriptor& d, const char* what) const {
        check(cudnnBackendFinalize(d.get()), "cudnnBackendFinalize", what);
    }

    const Problem& problem() const { return m_problem; }

private:
    const Problem& m_problem;
};

// Which operand pointer a graph tensor reads or writes.
enum class Role { x, w, dy, b, z, out };

const float* pointer_for(Role role, const Operands& operands) {
    switch (role) {
        case Role::x: return operands.x;
        case Role::w: return operands.w;
        case Role::dy: return operands.dy;
        case Role::b: return operands.b;
        case Role::z: return operands.z;
        case Role::out: return operands.out;
    }
    return nullptr;
}

// An operation graph with the descriptors it was made of (kept alive as long as its plans) and
// the unique ids of its non-virtual tensors.
struct Graph {
    std::vector<Descriptor> parts;
    Descriptor graph;
    std::vector<int64_t> uids;
    std::vector<Role> roles;
};

class GraphBuilder {
public:
    GraphBuilder(const Builder& builder, Graph& graph) : m_b(builder), m_graph(graph) {}

    // A 4-d tensor given in NCHW order of dimensions with explicit strides. Virtual tensors live
    // only inside a fused kernel; the others are bound to an operand at execution.
    const Descriptor& tensor(std::array<int64_t, 4> dims, std::array<int64_t, 4> strides, std::optional<Role> role,
                             const char* what) {
        Descriptor d = m_b.create(CUDNN_BACKEND_TENSOR_DESCRIPTOR, what);
        const int64_t uid = role ? static_cast<int64_t>(m_graph.uids.size()) + 1 : m_next_virtual_uid++;
        m_b.set_data_type(d, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_DATA_FLOAT, what);
        m_b.set_int64s(d, CUDNN_ATTR_TENSOR_DIMENSIONS, {dims.begin(), dims.end()}, what);
        m_b.set_int64s(d, CUDNN_ATTR_TENSOR_STRIDES, {strides.begin(), strides.end()}, what);
        m_b.set_int64(d, CUDNN_ATTR_TENSOR_UNIQUE_ID, uid, what);
        m_b.set_int64(d, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, m_b.problem().alignment, what);
        const bool is_virtual = !role;
        m_b.set(d, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &is_virtual, what);
        m_b.finalize(d, what);
        if (role) {
            m_graph.uids.push_back(uid);
            m_graph.roles.push_back(*role);
        }
        m_graph.parts.push_back(std::move(d));
        return m_graph.parts.back();
    }

    // NHWC activations [n, h, w, channels].
    const Descriptor& activations(int64_t channels, std::optional<Role> role, const char* what) {
        const ConvShape& s = m_b.problem().shape;
        return tensor({s.n, channels, s.h, s.w}, {s.h * s.w * channels, 1, s.w * channels, channels}, role, what);
    }
    // OHWI weights [o, k, k, c].
    const Descriptor& weights(Role role, const char* what) {
        const ConvShape& s = m_b.problem().shape;
        return tensor({s.o, s.c, s.k, s.k}, {s.k * s.k * s.c, 1, s.k * s.c, s.c}, role, what);
    }
    // A per-channel vector [o] broadcast over N, H, W.
    const Descriptor& bias(const char* what) {
        const int64_t o = m_b.problem().shape.o;
        return tensor({1, o, 1, 1}, {o, 1, o, o}, Role::b, what);
    }

    const Descriptor& convolution() {
        const int64_t pad = m_b.problem().shape.k / 2;
        const char* what = "convolution descriptor";
        Descriptor d = m_b.create(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, what);
        const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
        m_b.set_data_type(d, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_DATA_FLOAT, what);
        m_b.set(d, CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode, what);
        m_b.set_int64(d, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, 2, what);
        m_b.set_int64s(d, CUDNN_ATTR_CONVOLUTION_DILATIONS, {1, 1}, what);
        m_b.set_int64s(d, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, {1, 1}, what);
        m_b.set_int64s(d, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, {pad, pad}, what);
        m_b.set_int64s(d, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, {pad, pad}, what);
        m_b.finalize(d, what);
        m_graph.parts.push_back(std::move(d));
        return m_graph.parts.back();
    }

    const Descriptor& pointwise(cudnnPointwiseMode_t mode, const Descriptor& x, const Descriptor* b,
                                const Descriptor& y, const char* what) {
        Descriptor pw = m_b.create(CUDNN_BACKEND_POINTWISE_DESCRIPTOR, what);
        m_b.set(pw, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode, what);
        m_b.set_data_type(pw, CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_DATA_FLOAT, what);
        m_b.finalize(pw, what);
        Descriptor op = m_b.create(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, what);
        m_b.set_descriptor(op, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, pw, what);
        m_b.set_descriptor(op, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, x, what);
        if (b) m_b.set_descriptor(op, CUDNN_ATTR_OPERATION_POINTWISE_BDESC, *b, what);
        m_b.set_descriptor(op, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, y, what);
        m_b.finalize(op, what);
        m_graph.parts.push_back(std::move(pw));
        return add_operation(std::move(op));
    }

    const Descriptor& add_operation(Descriptor op) {
        m_operations.push_back(op.get());
        m_graph.parts.push_back(std::move(op));
        return m_graph.parts.back();
    }

    void finish(cudnnHandle_t handle) {
        const char* what = "operation graph";
        Descriptor d = m_b.create(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, what);
        m_b.set(d, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                static_cast<int64_t>(m_operations.size()), m_operations.data(), what);
        m_b.set_handle(d, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, handle, what);
        m_b.finalize(d, what);
        m_graph.graph = std::move(d);
    }

private:
    const Builder& m_b;
    Graph& m_graph;
    std::vector<cudnnBackendDescriptor_t> m_operations;
    int64_t m_next_virtual_uid = 1000;
};

// std::vector reallocation would move Descriptors but the references handed out above point into
// it; reserving enough up front keeps them valid (the largest graph has 4 operations, 9 tensors).
constexpr std::size_t k_max_graph_parts = 32;

Graph build_graph(const Builder& b, cudnnHandle_t handle) {
    const Problem& p = b.problem();
    Graph graph;
    graph.parts.reserve(k_max_graph_parts);
    GraphBuilder g(b, graph);
    const Descriptor& conv = g.convolution();
    if (p.pass == Pass::forward) {
        const Descriptor& x = g.activations(p.shape.c, Role::x, "x tensor");
        const Descriptor& w = g.weights(Role::w, "w tensor");
        struct Step {
            cudnnPointwiseMode_t mode;
            Role operand;
            const char* what;
        };
        std::vector<Step> steps;
        if (p.accumulate) steps.push_back({CUDNN_POINTWISE_ADD, Role::z, "residual add"});
        if (p.bias) steps.push_back({CUDNN_POINTWISE_ADD, Role::b, "bias add"});
        if (p.relu) steps.push_back({CUDNN_POINTWISE_RELU_FWD, Role::out, "relu"});
        const Descriptor* current = &g.activations(p.shape.o, steps.empty() ? std::optional<Role>(Role::out)
                                                                             : std::nullopt,
                                                   steps.empty() ? "y tensor" : "convolution result");
        const char* what = "convolution forward operation";
        Descriptor op = b.create(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, what);
        b.set_descriptor(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, x, what);
        b.set_descriptor(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, w, what);
        b.set_descriptor(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, *current, what);
        b.set_descriptor(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, conv, what);
        b.set_float(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, 1.f, what);
        b.set_float(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, 0.f, what);
        b.finalize(op, what);
        g.add_operation(std::move(op));
        for (std::size_t i = 0; i < steps.size(); ++i) {
            const bool last = i + 1 == steps.size();
            const Descriptor* operand = nullptr;
            if (steps[i].operand == Role::z) operand = &g.activations(p.shape.o, Role::z, "residual tensor");
            if (steps[i].operand == Role::b) operand = &g.bias("bias tensor");
            const Descriptor& result = g.activations(p.shape.o, last ? std::optional<Role>(Role::out) : std::nullopt,
                                                     last ? "y tensor" : "intermediate tensor");
            g.pointwise(steps[i].mode, *current, operand, result, steps[i].what);
            current = &result;
        }
    } else if (p.pass == Pass::backward_data) {
        const Descriptor& dy = g.activations(p.shape.o, Role::dy, "dy tensor");
        const Descriptor& w = g.weights(Role::w, "w tensor");
        const Descriptor& dx = g.activations(p.shape.c, Role::out, "dx tensor");
        const char* what = "convolution backward-data operation";
        Descriptor op = b.create(CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR, what);
        b.set_descriptor(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY, dy, what);
        b.set_descriptor(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W, w, what);
        b.set_descriptor(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX, dx, what);
        b.set_descriptor(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC, conv, what);
        b.set_float(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA, 1.f, what);
        b.set_float(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA, 0.f, what);
        b.finalize(op, what);
        g.add_operation(std::move(op));
    } else {
        const Descriptor& x = g.activations(p.shape.c, Role::x, "x tensor");
        const Descriptor& dy = g.activations(p.shape.o, Role::dy, "dy tensor");
        const Descriptor& dw = g.weights(Role::out, "dw tensor");
        const char* what = "convolution backward-filter operation";
        Descriptor op = b.create(CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR, what);
        b.set_descriptor(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X, x, what);
        b.set_descriptor(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY, dy, what);
        b.set_descriptor(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW, dw, what);
        b.set_descriptor(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC, conv, what);
        b.set_float(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA, 1.f, what);
        b.set_float(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA, 0.f, what);
        b.finalize(op, what);
        g.add_operation(std::move(op));
    }
    g.finish(handle);
    return graph;
}

// ---- engine configurations and plans ----

std::vector<Descriptor> engine_configs(const Builder& b, const Graph& graph, cudnnBackendHeurMode_t mode) {
    const char* what = mode == CUDNN_HEUR_MODE_A ? "engine heuristics (mode A)" : "engine heuristics (fallback)";
    Descriptor heuristics = b.create(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, what);
    b.set_descriptor(heuristics, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, graph.graph, what);
    b.set(heuristics, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode, what);
    // A graph no heuristic covers fails here; that is "no candidates", not an error.
    if (cudnnBackendFinalize(heuristics.get()) != CUDNN_STATUS_SUCCESS) return {};
    // Like the finalize above, a result query cuDNN refuses means no candidates from this mode.
    int64_t count = 0;
    if (cudnnBackendGetAttribute(heuristics.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0,
                                 &count, nullptr) != CUDNN_STATUS_SUCCESS)
        return {};
    std::vector<Descriptor> configs;
    std::vector<cudnnBackendDescriptor_t> handles;
    for (int64_t i = 0; i < count; ++i) {
        configs.push_back(b.create(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, "engine configuration"));
        handles.push_back(configs.back().get());
    }
    if (count == 0) return configs;
    int64_t returned = 0;
    if (cudnnBackendGetAttribute(heuristics.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, count,
                                 &returned, handles.data()) != CUDNN_STATUS_SUCCESS)
        return {};
    configs.resize(static_cast<std::size_t>(std::min(returned, count)));
    return configs;
}

struct EngineInfo {
    int64_t index = -1;
    std::vector<cudnnBackendNumericalNote_t> notes;
    bool runtime_compiled = false;  // finalizing its plan compiles a kernel (NVRTC): about a second
};

// The engine's notes, or nullopt when cuDNN cannot describe it (such an engine is skipped: without
// its notes we cannot tell whether it computes in TF32 or non-deterministically).
std::optional<EngineInfo> engine_info(const Builder& b, const Descriptor& config) {
    Descriptor engine = b.create(CUDNN_BACKEND_ENGINE_DESCRIPTOR, "engine");
    cudnnBackendDescriptor_t engine_handle = engine.get();
    int64_t count = 0;
    if (cudnnBackendGetAttribute(config.get(), CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &count,
                                 &engine_handle) != CUDNN_STATUS_SUCCESS)
        return std::nullopt;
    EngineInfo info;
    if (cudnnBackendGetAttribute(engine_handle, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &count,
                                 &info.index) != CUDNN_STATUS_SUCCESS)
        info.index = -1;
    std::array<cudnnBackendNumericalNote_t, CUDNN_NUMERICAL_NOTE_TYPE_COUNT> notes{};
    if (cudnnBackendGetAttribute(engine_handle, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                                 static_cast<int64_t>(notes.size()), &count, notes.data()) != CUDNN_STATUS_SUCCESS)
        return std::nullopt;
    info.notes.assign(notes.begin(), notes.begin() + std::clamp<int64_t>(count, 0, static_cast<int64_t>(notes.size())));
    std::array<cudnnBackendBehaviorNote_t, CUDNN_BEHAVIOR_NOTE_TYPE_COUNT> behaviour{};
    if (cudnnBackendGetAttribute(engine_handle, CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE, CUDNN_TYPE_BEHAVIOR_NOTE,
                                 static_cast<int64_t>(behaviour.size()), &count, behaviour.data()) != CUDNN_STATUS_SUCCESS)
        count = 0;
    for (int64_t i = 0; i < std::clamp<int64_t>(count, 0, static_cast<int64_t>(behaviour.size())); ++i)
        if (behaviour[static_cast<std::size_t>(i)] == CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION) info.runtime_compiled = true;
    return info;
}

// Float in, float out: tensor-core engines compute in TF32 (and may reduce at lower precision),
// which only the explicit setting allows.
bool allowed(const EngineInfo& info, const ConvSettings& settings) {
    for (cudnnBackendNumericalNote_t note : info.notes) {
        if (!settings.allow_tf32 &&
            (note == CUDNN_NUMERICAL_NOTE_TENSOR_CORE || note == CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS ||
             note == CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION))
            return false;
        if (settings.deterministic && note == CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC) return false;
    }
    return true;
}

// A finalized plan with the engine configuration it was made from (kept alive with it, as the
// plan may refer to it).
struct Candidate {
    Descriptor config;
    Descriptor plan;
    int64_t workspace = 0;
    int64_t engine = -1;
};

// Why a search found nothing, for the "no engine" error.
struct SearchReport {
    int64_t configurations = 0, excluded = 0, failed_plans = 0, too_much_workspace = 0, failed_runs = 0;
    cudnnStatus_t last_status = CUDNN_STATUS_SUCCESS;
};

std::optional<Candidate> make_plan(const Builder& b, cudnnHandle_t handle, Descriptor config, SearchReport& report) {
    const char* what = "execution plan";
    Candidate candidate;
    candidate.config = std::move(config);
    candidate.plan = b.create(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, what);
    b.set_handle(candidate.plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, handle, what);
    b.set_descriptor(candidate.plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, candidate.config, what);
    const cudnnStatus_t status = cudnnBackendFinalize(candidate.plan.get());
    if (status != CUDNN_STATUS_SUCCESS) {
        ++report.failed_plans;
        report.last_status = status;
        return std::nullopt;
    }
    int64_t count = 0;
    b.check(cudnnBackendGetAttribute(candidate.plan.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64,
                                     1, &count, &candidate.workspace),
            "cudnnBackendGetAttribute", "plan workspace size");
    return candidate;
}

constexpr int64_t k_deterministic_workspace_limit = int64_t{512} << 20;

// Runtime-compiled engines among the candidates of one search: each costs a kernel compilation
// on first use of a shape, and the heuristics rank the best of them first anyway.
constexpr int k_max_runtime_compiled = 1;

// Up to `wanted` usable plans in heuristic order: mode A's, or the fallback mode's when A has none
// (or only the fallback mode's, `fallback_only`, after all of A's failed to run).
std::vector<Candidate> find_candidates(const Builder& b, cudnnHandle_t handle, const Graph& graph,
                                       const ConvSettings& settings, std::size_t wanted, SearchReport& report,
                                       bool fallback_only = false) {
    std::size_t free_bytes = 0, total_bytes = 0;
    SR_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    // The pool's cached memory counts as used here, so this is a conservative bound. Deterministic
    // mode uses a fixed bound instead: the plan must not depend on what else the process holds, or
    // a resumed run could pick another one.
    const int64_t workspace_limit = settings.deterministic ? k_deterministic_workspace_limit
                                                           : static_cast<int64_t>(free_bytes / 2);
    std::vector<Candidate> candidates;
    int runtime_compiled = 0;
    for (cudnnBackendHeurMode_t mode : {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_FALLBACK}) {
        if (fallback_only && mode != CUDNN_HEUR_MODE_FALLBACK) continue;
        for (Descriptor& config : engine_configs(b, graph, mode)) {
            ++report.configurations;
            const std::optional<EngineInfo> info = engine_info(b, config);
            if (!info || !allowed(*info, settings)) {
                ++report.excluded;
                continue;
            }
            if (info->runtime_compiled && runtime_compiled >= k_max_runtime_compiled) continue;
            if (info->runtime_compiled) ++runtime_compiled;
            std::optional<Candidate> candidate = make_plan(b, handle, std::move(config), report);
            if (!candidate) continue;
            if (candidate->workspace > workspace_limit) {
                ++report.too_much_workspace;
                continue;
            }
            candidate->engine = info->index;
            candidates.push_back(std::move(*candidate));
            if (candidates.size() >= wanted) return candidates;
        }
        if (!candidates.empty()) break;
    }
    return candidates;
}

cudnnStatus_t execute(const Builder& b, cudnnHandle_t handle, const Candidate& candidate, const Graph& graph,
                      const Operands& operands) {
    PoolBuffer workspace(static_cast<std::size_t>(candidate.workspace));
    std::vector<void*> pointers;
    for (Role role : graph.roles) pointers.push_back(const_cast<float*>(pointer_for(role, operands)));
    const char* what = "variant pack";
    Descriptor pack = b.create(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, what);
    b.set_int64s(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, graph.uids, what);
    b.set(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, static_cast<int64_t>(pointers.size()),
          pointers.data(), what);
    void* workspace_pointer = workspace.get();
    b.set(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace_pointer, what);
    b.finalize(pack, what);
    return cudnnBackendExecute(handle, candidate.plan.get(), pack.get());
}

// ---- handles and the plan cache ----

// One handle per device, bound to its compute stream. Never destroyed: the handles live as long
// as the process, and destroying them from static destructors can run after the driver unloaded.
cudnnHandle_t handle_for(int device) {
    static std::map<int, cudnnHandle_t> handles;
    if (auto found = handles.find(device); found != handles.end()) return found->second;
    cudnnHandle_t handle = nullptr;
    cudnnStatus_t status = cudnnCreate(&handle);
    if (status != CUDNN_STATUS_SUCCESS)
        ::sr::fail("cuDNN cudnnCreate failed on device ", device, ": ", status_text(status),
                   " (is libcudnn 9 with its engine libraries on the library path?)");
    status = cudnnSetStream(handle, detail::compute_stream());
    if (status != CUDNN_STATUS_SUCCESS) ::sr::fail("cuDNN cudnnSetStream failed on device ", device, ": ", status_text(status));
    handles.emplace(device, handle);
    return handle;
}

struct Entry {
    Graph graph;
    std::vector<Candidate> candidates;  // once settled, candidates[0] is the plan
    bool settled = false;
    bool unfused = false;  // no engine runs the fused graph: plain convolution, then our epilogue
    bool searched_fallback = false;  // the fallback mode's candidates were tried after A's failed
    SearchReport report;
};

std::mutex& cache_mutex() {
    static std::mutex mutex;
    return mutex;
}

std::map<PlanKey, std::unique_ptr<Entry>>& cache() {
    static std::map<PlanKey, std::unique_ptr<Entry>> map;
    return map;
}

constexpr std::size_t k_timed_candidates = 6;
constexpr std::size_t k_untimed_candidates = 3;

bool is_fused(const Problem& p) { return p.pass == Pass::forward && (p.bias || p.relu || p.accumulate); }

[[noreturn]] void fail_no_engine(const Problem& problem, const ConvSettings& settings, const SearchReport& r) {
    ::sr::fail("cuDNN has no engine for the ", describe(problem), " on device ", problem.device, " (TF32 ",
               settings.allow_tf32 ? "allowed" : "off", settings.deterministic ? ", deterministic" : "", "): ",
               r.configurations, " engine configurations from the heuristics, ", r.excluded,
               " excluded by these settings, ", r.failed_plans, " failed to build a plan, ", r.too_much_workspace,
               " needed more workspace than allowed, ", r.failed_runs, " failed to run",
               r.last_status != CUDNN_STATUS_SUCCESS ? "; last status " + status_text(r.last_status) : std::string());
}

// Keeps the fastest candidate (timing) or the first that runs, on the call's operands. While
// timing an accumulating forward, the output goes to scratch so y keeps its addend.
void settle(const Builder& b, cudnnHandle_t handle, Entry& entry, const ConvSettings& settings,
            const Operands& operands) {
    const Problem& problem = b.problem();
    if (!wants_timing(settings)) {
        for (std::size_t i = 0; i < entry.candidates.size(); ++i) {
            const cudnnStatus_t status = execute(b, handle, entry.candidates[i], entry.graph, operands);
            if (status == CUDNN_STATUS_SUCCESS) {
                Candidate chosen = std::move(entry.candidates[i]);
                entry.candidates.clear();
                entry.candidates.push_back(std::move(chosen));
                entry.settled = true;
                return;
            }
            ++entry.report.failed_runs;
            entry.report.last_status = status;
        }
        entry.candidates.clear();
        return;
    }
    PoolBuffer scratch;
    const Operands timing = timing_operands(problem, operands, scratch);
    double best_ms = k_unsupported;
    std::size_t best = entry.candidates.size();
    for (std::size_t i = 0; i < entry.candidates.size(); ++i) {
        cudnnStatus_t status = execute(b, handle, entry.candidates[i], entry.graph, timing);
        if (status != CUDNN_STATUS_SUCCESS) {
            ++entry.report.failed_runs;
            entry.report.last_status = status;
            continue;
        }
        const double ms = time_on_stream(detail::compute_stream(), [&] {
            status = execute(b, handle, entry.candidates[i], entry.graph, timing);
        });
        if (status == CUDNN_STATUS_SUCCESS && ms < best_ms) best_ms = ms, best = i;
    }
    if (best == entry.candidates.size()) {
        entry.candidates.clear();
        return;
    }
    Candidate chosen = std::move(entry.candidates[best]);
    entry.candidates.clear();
    entry.candidates.push_back(std::move(chosen));
    entry.settled = true;
    // The real output has not been written yet (timing ran into scratch or will be overwritten).
    const cudnnStatus_t status = execute(b, handle, entry.candidates[0], entry.graph, operands);
    b.check(status, "cudnnBackendExecute", "chosen plan");
}

// Runs `problem`; the cache lock is held. Returns with the work enqueued on the compute stream.
void run_locked(const Problem& problem, const ConvSettings& settings, const Operands& operands) {
    const Builder b(problem);
    const cudnnHandle_t handle = handle_for(problem.device);
    std::unique_ptr<Entry>& slot = cache()[PlanKey{problem, settings}];
    if (!slot) {
        auto entry = std::make_unique<Entry>();
        try {
            entry->graph = build_graph(b, handle);
            entry->candidates = find_candidates(b, handle, entry->graph, settings,
                                                wants_timing(settings) ? k_timed_candidates : k_untimed_candidates,
                                                entry->report);
        } catch (const ::sr::Error&) {
            // A fusion this cuDNN rejects while building (not just without an engine) still has the
            // plain convolution and our epilogue; a plain graph's failure is the caller's error.
            if (!is_fused(problem)) throw;
            entry->candidates.clear();
        }
        if (entry->candidates.empty() && !is_fused(problem)) fail_no_engine(problem, settings, entry->report);
        entry->unfused = entry->candidates.empty();
        slot = std::move(entry);
    }
    Entry& entry = *slot;
    if (!entry.unfused) {
        if (entry.settled) {
            b.check(execute(b, handle, entry.candidates[0], entry.graph, operands), "cudnnBackendExecute", "plan");
            return;
        }
        settle(b, handle, entry, settings, operands);  // runs the chosen plan on the operands
        if (entry.settled) return;
        if (!entry.searched_fallback) {
            // Every candidate built a plan and failed to run: the fallback engines are the
            // simplest, most widely applicable ones.
            entry.searched_fallback = true;
            entry.candidates = find_candidates(b, handle, entry.graph, settings,
                                               wants_timing(settings) ? k_timed_candidates : k_untimed_candidates,
                                               entry.report, /*fallback_only=*/true);
            if (!entry.candidates.empty()) settle(b, handle, entry, settings, operands);
            if (entry.settled) return;
        }
        if (!is_fused(problem)) fail_no_engine(problem, settings, entry.report);
        entry.unfused = true;
    }
    // Fused graph without an engine: the plain convolution into y (or into scratch when y holds
    // the addend), then bias, addend and ReLU in one pass of our own.
    Problem plain = problem;
    plain.bias = plain.relu = plain.accumulate = false;
    const ConvShape& s = problem.shape;
    const int64_t rows = s.n * s.h * s.w;
    PoolBuffer scratch;
    Operands conv_operands = operands;
    conv_operands.b = conv_operands.z = nullptr;
    if (problem.accumulate) {
        scratch = PoolBuffer(static_cast<std::size_t>(rows * s.o) * sizeof(float));
        conv_operands.out = scratch.floats();
    }
    run_locked(plain, settings, conv_operands);
    launch_epilogue(conv_operands.out, operands.b, problem.accumulate ? operands.z : nullptr, operands.out, rows, s.o,
                    problem.relu, detail::compute_stream());
}

}  // namespace

void run(const Problem& problem, const ConvSettings& settings, const Operands& operands) {
    std::lock_guard<std::mutex> lock(cache_mutex());
    run_locked(problem, settings, operands);
}

double time(const Problem& problem, const ConvSettings& settings, const Operands& operands) {
    std::lock_guard<std::mutex> lock(cache_mutex());
    try {
        run_locked(problem, settings, operands);
    } catch (const ::sr::Error&) {
        // Only "no engine" can leave no plan cached; any other failure repeats on the real run,
        // which reports it.
        auto found = cache().find(PlanKey{problem, settings});
        if (found == cache().end() || !found->second || (found->second->candidates.empty() && !found->second->unfused))
            return k_unsupported;
        throw;
    }
    return time_on_stream(detail::compute_stream(), [&] { run_locked(problem, settings, operands); });
}

}  // namespace sr::cuda::detail::conv::cudnn
