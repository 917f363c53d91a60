// 1x1 convolutions as cuBLASLt GEMMs. With P = N*H*W pixels, NHWC activations are row-major
// [P, C] matrices and OHWI weights row-major [O, C], which cuBLASLt (column-major) sees as their
// transposes without any copy:
//   forward           y^T [O, P]  = W [O, C] (W^T stored, op T)  * x^T [C, P]   + b (+ y^T), relu
//   backward-data     dx^T [C, P] = W^T [C, O] (stored, op N)    * dy^T [O, P]
//   backward-weights  dW^T [C, O] = x^T [C, P]                   * dy [P, O] (dy^T stored, op T)
// Bias and ReLU are the BIAS / RELU_BIAS epilogues (bias per row of D = per output channel) when
// every operand is 16-byte aligned, the residual add is beta = 1 with C = y (then ReLU, if asked,
// as our epilogue kernel, as is a bias at a smaller alignment). FP32 compute
// (CUBLAS_COMPUTE_32F) unless TF32 is allowed.
#include <cublasLt.h>

#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "check.cuh"
#include "conv2d_common.cuh"
#include "sr/cuda/memory.hpp"
#include "stream.cuh"

namespace sr::cuda::detail::conv::gemm {

namespace {

void check(cublasStatus_t status, const char* call, const Problem& problem) {
    if (status != CUBLAS_STATUS_SUCCESS)
        ::sr::fail("cuBLASLt ", call, " failed for the ", describe(problem), ": ", cublasGetStatusString(status),
                   " (status ", static_cast<int>(status), ")");
}

class MatmulDesc {
public:
    MatmulDesc(cublasComputeType_t compute, const Problem& problem) {
        check(cublasLtMatmulDescCreate(&m_handle, compute, CUDA_R_32F), "cublasLtMatmulDescCreate", problem);
    }
    ~MatmulDesc() { cublasLtMatmulDescDestroy(m_handle); }
    MatmulDesc(const MatmulDesc&) = delete;
    MatmulDesc& operator=(const MatmulDesc&) = delete;
    template <class T>
    void set(cublasLtMatmulDescAttributes_t attribute, const T& value, const Problem& problem) {
        check(cublasLtMatmulDescSetAttribute(m_handle, attribute, &value, sizeof(value)),
              "cublasLtMatmulDescSetAttribute", problem);
    }
    cublasLtMatmulDesc_t get() const { return m_handle; }

private:
    cublasLtMatmulDesc_t m_handle = nullptr;
};

// A column-major float matrix of `rows` x `cols` with leading dimension `ld`.
class Layout {
public:
    Layout(uint64_t rows, uint64_t cols, int64_t ld, const Problem& problem) {
        check(cublasLtMatrixLayoutCreate(&m_handle, CUDA_R_32F, rows, cols, ld), "cublasLtMatrixLayoutCreate", problem);
    }
    ~Layout() { cublasLtMatrixLayoutDestroy(m_handle); }
    Layout(const Layout&) = delete;
    Layout& operator=(const Layout&) = delete;
    cublasLtMatrixLayout_t get() const { return m_handle; }

private:
    cublasLtMatrixLayout_t m_handle = nullptr;
};

class Preference {
public:
    explicit Preference(const Problem& problem) {
        check(cublasLtMatmulPreferenceCreate(&m_handle), "cublasLtMatmulPreferenceCreate", problem);
    }
    ~Preference() { cublasLtMatmulPreferenceDestroy(m_handle); }
    Preference(const Preference&) = delete;
    Preference& operator=(const Preference&) = delete;
    template <class T>
    void set(cublasLtMatmulPreferenceAttributes_t attribute, const T& value, const Problem& problem) {
        check(cublasLtMatmulPreferenceSetAttribute(m_handle, attribute, &value, sizeof(value)),
              "cublasLtMatmulPreferenceSetAttribute", problem);
    }
    cublasLtMatmulPreference_t get() const { return m_handle; }

private:
    cublasLtMatmulPreference_t m_handle = nullptr;
};

// The GEMM of one problem: D = alpha * op(A) op(B) + beta * C, with C = D's layout.
struct Plan {
    std::unique_ptr<MatmulDesc> desc;
    std::unique_ptr<Layout> a, b, d;
    float beta = 0.f;
    std::vector<cublasLtMatmulHeuristicResult_t> candidates;  // once settled, candidates[0] is the algorithm
    bool settled = false;
};

// Pointers in the order the GEMM reads them.
struct Pointers {
    const float* a;
    const float* b;
    const float* c;
    float* d;
    const float* bias;
};

Pointers pointers_for(const Problem& problem, const Operands& operands) {
    switch (problem.pass) {
        case Pass::forward:
            return {operands.w, operands.x, problem.accumulate ? operands.z : operands.out, operands.out, operands.b};
        case Pass::backward_data: return {operands.w, operands.dy, operands.out, operands.out, nullptr};
        case Pass::backward_weights: return {operands.x, operands.dy, operands.out, operands.out, nullptr};
    }
    return {};
}

// The BIAS epilogue reads the bias vector with vector loads, and no preference attribute tells the
// heuristics its alignment: a bias that is not 16-byte aligned (a view at an odd float offset)
// would fault, which poisons the CUDA context. The key's alignment covers the bias pointer, so
// below 16 bytes the bias is added by our epilogue kernel after the GEMM.
bool fused_bias(const Problem& problem) { return problem.bias && problem.alignment >= 16; }

// The bias commutes with beta * C, ReLU does not: whether cuBLASLt applies ReLU before or after
// adding beta * C is not something our result should hinge on, so with a residual addend ReLU runs
// as our epilogue kernel afterwards (a combination no model layer uses); likewise when the bias is
// ours, as ReLU comes after it.
bool fused_relu(const Problem& problem) {
    return problem.relu && !problem.accumulate && (!problem.bias || fused_bias(problem));
}

// Workspace offered to the heuristics: enough for split-K on these sizes, small next to activations.
constexpr std::size_t k_max_workspace = std::size_t{32} << 20;

std::unique_ptr<Plan> make_plan(const Problem& problem, const ConvSettings& settings, cublasLtHandle_t handle) {
    const ConvShape& s = problem.shape;
    const uint64_t pixels = static_cast<uint64_t>(s.n * s.h * s.w);
    const uint64_t c = static_cast<uint64_t>(s.c), o = static_cast<uint64_t>(s.o);
    auto plan = std::make_unique<Plan>();
    plan->desc = std::make_unique<MatmulDesc>(settings.allow_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F,
                                              problem);
    cublasOperation_t trans_a = CUBLAS_OP_N, trans_b = CUBLAS_OP_N;
    uint64_t m = 0, n = 0;
    switch (problem.pass) {
        case Pass::forward:
            trans_a = CUBLAS_OP_T;
            plan->a = std::make_unique<Layout>(c, o, static_cast<int64_t>(c), problem);            // W^T stored [C, O]
            plan->b = std::make_unique<Layout>(c, pixels, static_cast<int64_t>(c), problem);       // x^T [C, P]
            m = o, n = pixels;
            plan->beta = problem.accumulate ? 1.f : 0.f;
            break;
        case Pass::backward_data:
            plan->a = std::make_unique<Layout>(c, o, static_cast<int64_t>(c), problem);            // W^T [C, O]
            plan->b = std::make_unique<Layout>(o, pixels, static_cast<int64_t>(o), problem);       // dy^T [O, P]
            m = c, n = pixels;
            break;
        case Pass::backward_weights:
            trans_b = CUBLAS_OP_T;
            plan->a = std::make_unique<Layout>(c, pixels, static_cast<int64_t>(c), problem);       // x^T [C, P]
            plan->b = std::make_unique<Layout>(o, pixels, static_cast<int64_t>(o), problem);       // dy^T stored [O, P]
            m = c, n = o;
            break;
    }
    plan->d = std::make_unique<Layout>(m, n, static_cast<int64_t>(m), problem);
    plan->desc->set(CUBLASLT_MATMUL_DESC_TRANSA, trans_a, problem);
    plan->desc->set(CUBLASLT_MATMUL_DESC_TRANSB, trans_b, problem);
    cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
    if (problem.pass == Pass::forward) {
        const bool relu = fused_relu(problem), bias = fused_bias(problem);
        if (bias && relu)
            epilogue = CUBLASLT_EPILOGUE_RELU_BIAS;
        else if (bias)
            epilogue = CUBLASLT_EPILOGUE_BIAS;
        else if (relu)
            epilogue = CUBLASLT_EPILOGUE_RELU;
    }
    plan->desc->set(CUBLASLT_MATMUL_DESC_EPILOGUE, epilogue, problem);

    Preference preference(problem);
    preference.set(CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, k_max_workspace, problem);
    const uint32_t alignment = static_cast<uint32_t>(problem.alignment);
    preference.set(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, alignment, problem);
    preference.set(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, alignment, problem);
    preference.set(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, alignment, problem);
    preference.set(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, alignment, problem);
    const int wanted = wants_timing(settings) ? 6 : 3;
    std::vector<cublasLtMatmulHeuristicResult_t> results(static_cast<std::size_t>(wanted));
    int returned = 0;
    const cublasStatus_t status =
        cublasLtMatmulAlgoGetHeuristic(handle, plan->desc->get(), plan->a->get(), plan->b->get(), plan->d->get(),
                                       plan->d->get(), preference.get(), wanted, results.data(), &returned);
    // NOT_SUPPORTED is cuBLASLt's "no algorithm for this configuration" (e.g. an epilogue with these
    // alignments): no candidates, so timing reports k_unsupported and cuDNN runs the problem.
    if (status == CUBLAS_STATUS_NOT_SUPPORTED) return plan;
    check(status, "cublasLtMatmulAlgoGetHeuristic", problem);
    for (int i = 0; i < returned; ++i)
        if (results[static_cast<std::size_t>(i)].state == CUBLAS_STATUS_SUCCESS)
            plan->candidates.push_back(results[static_cast<std::size_t>(i)]);
    return plan;
}

cublasStatus_t execute(cublasLtHandle_t handle, Plan& plan, const cublasLtMatmulHeuristicResult_t& algorithm,
                       const Problem& problem, const Operands& operands) {
    const Pointers p = pointers_for(problem, operands);
    if (problem.pass == Pass::forward && fused_bias(problem))
        plan.desc->set(CUBLASLT_MATMUL_DESC_BIAS_POINTER, p.bias, problem);
    PoolBuffer workspace(algorithm.workspaceSize);
    const float alpha = 1.f;
    const cublasStatus_t status =
        cublasLtMatmul(handle, plan.desc->get(), &alpha, p.a, plan.a->get(), p.b, plan.b->get(), &plan.beta, p.c,
                       plan.d->get(), p.d, plan.d->get(), &algorithm.algo, workspace.get(), algorithm.workspaceSize,
                       detail::compute_stream());
    const bool our_bias = problem.pass == Pass::forward && problem.bias && !fused_bias(problem);
    const bool our_relu = problem.pass == Pass::forward && problem.relu && !fused_relu(problem);
    if (status == CUBLAS_STATUS_SUCCESS && (our_bias || our_relu)) {
        const ConvShape& s = problem.shape;
        launch_epilogue(p.d, our_bias ? p.bias : nullptr, nullptr, p.d, s.n * s.h * s.w, s.o, our_relu,
                        detail::compute_stream());
    }
    return status;
}

// One cuBLASLt handle per device; never destroyed (see the cuDNN handles in conv2d_cudnn.cu).
cublasLtHandle_t handle_for(int device, const Problem& problem) {
    static std::map<int, cublasLtHandle_t> handles;
    if (auto found = handles.find(device); found != handles.end()) return found->second;
    cublasLtHandle_t handle = nullptr;
    check(cublasLtCreate(&handle), "cublasLtCreate", problem);
    handles.emplace(device, handle);
    return handle;
}

std::mutex& cache_mutex() {
    static std::mutex mutex;
    return mutex;
}

std::map<PlanKey, std::unique_ptr<Plan>>& cache() {
    static std::map<PlanKey, std::unique_ptr<Plan>> map;
    return map;
}

[[noreturn]] void fail_no_algorithm(const Problem& problem, const ConvSettings& settings) {
    ::sr::fail("cuBLASLt has no algorithm for the ", describe(problem), " as a GEMM on device ", problem.device,
               " (TF32 ", settings.allow_tf32 ? "allowed" : "off", ", operands aligned to ", problem.alignment,
               " bytes)");
}

// Keeps the fastest candidate (timing) or the first that runs, then runs it on the operands.
void settle(cublasLtHandle_t handle, Plan& plan, const Problem& problem, const ConvSettings& settings,
            const Operands& operands) {
    if (!wants_timing(settings)) {
        for (std::size_t i = 0; i < plan.candidates.size(); ++i) {
            if (execute(handle, plan, plan.candidates[i], problem, operands) == CUBLAS_STATUS_SUCCESS) {
                plan.candidates = {plan.candidates[i]};
                plan.settled = true;
                return;
            }
        }
        plan.candidates.clear();
        return;
    }
    PoolBuffer scratch;
    const Operands timing = timing_operands(problem, operands, scratch);
    double best_ms = k_unsupported;
    std::size_t best = plan.candidates.size();
    for (std::size_t i = 0; i < plan.candidates.size(); ++i) {
        if (execute(handle, plan, plan.candidates[i], problem, timing) != CUBLAS_STATUS_SUCCESS) continue;
        cublasStatus_t status = CUBLAS_STATUS_SUCCESS;
        const double ms = time_on_stream(detail::compute_stream(), [&] {
            status = execute(handle, plan, plan.candidates[i], problem, timing);
        });
        if (status == CUBLAS_STATUS_SUCCESS && ms < best_ms) best_ms = ms, best = i;
    }
    if (best == plan.candidates.size()) {
        plan.candidates.clear();
        return;
    }
    plan.candidates = {plan.candidates[best]};
    plan.settled = true;
    check(execute(handle, plan, plan.candidates[0], problem, operands), "cublasLtMatmul", problem);
}

// Returns false when cuBLASLt has no algorithm for the problem.
bool run_locked(const Problem& problem, const ConvSettings& settings, const Operands& operands) {
    SR_CHECK(problem.shape.k == 1, "cuBLASLt runs 1x1 convolutions only, got the ", describe(problem));
    const cublasLtHandle_t handle = handle_for(problem.device, problem);
    std::unique_ptr<Plan>& slot = cache()[PlanKey{problem, settings}];
    if (!slot) slot = make_plan(problem, settings, handle);
    Plan& plan = *slot;
    if (plan.settled) {
        check(execute(handle, plan, plan.candidates[0], problem, operands), "cublasLtMatmul", problem);
        return true;
    }
    if (plan.candidates.empty()) return false;
    settle(handle, plan, problem, settings, operands);
    return plan.settled;
}

}  // namespace

void run(const Problem& problem, const ConvSettings& settings, const Operands& operands) {
    std::lock_guard<std::mutex> lock(cache_mutex());
    if (!run_locked(problem, settings, operands)) fail_no_algorithm(problem, settings);
}

bool try_run(const Problem& problem, const ConvSettings& settings, const Operands& operands) {
    std::lock_guard<std::mutex> lock(cache_mutex());
    return run_locked(problem, settings, operands);
}

double time(const Problem& problem, const ConvSettings& settings, const Operands& operands) {
    std::lock_guard<std::mutex> lock(cache_mutex());
    if (!run_locked(problem, settings, operands)) return k_unsupported;
    return time_on_stream(detail::compute_stream(), [&] { run_locked(problem, settings, operands); });
}

}  // namespace sr::cuda::detail::conv::gemm
