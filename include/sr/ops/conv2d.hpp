#pragma once
// 2-D convolution, stride 1, "same" zero padding (cross-correlation, as every framework computes it).
//
//   x: [N, H, W, C]  NHWC activations, contiguous
//   w: [O, K, K, C]  OHWI weights, K odd (1, 3, 5, ...), contiguous
//   b: [O]           bias, or an undefined tensor for none
//   y: [N, H, W, O]  y[n,h,w,o] = b[o] + sum_{kh,kw,c} w[o,kh,kw,c] * x[n, h+kh-K/2, w+kw-K/2, c]
//                    (x outside the image reads as 0)
//
// Backends: float on the CPU runs on our direct SIMD kernels (sr/ops/cpu/conv2d_direct.hpp) or
// oneDNN (sr/ops/cpu/conv2d_onednn.hpp), see ConvBackend; other scalar types (double for gradient
// checks) on the Eigen GEMM path (sr/ops/cpu/conv2d_gemm.hpp). With set_cpu_precision(bf16)
// (sr/ops/cpu/precision.hpp) every float CPU convolution runs on oneDNN with bf16 operands and
// float accumulation. The naive reference the tests compare all of them against lives in
// tests/reference/.
#include <cstdlib>
#include <string>
#include <vector>
#include <type_traits>

#include "sr/autograd/node.hpp"
#include "sr/core/tensor.hpp"
#include "sr/cuda/conv2d.hpp"
#include "sr/ops/cpu/conv2d_choice.hpp"
#include "sr/ops/cpu/conv2d_direct.hpp"
#include "sr/ops/cpu/conv2d_gemm.hpp"
#include "sr/ops/cpu/conv2d_onednn.hpp"
#include "sr/ops/cpu/precision.hpp"
#include "sr/ops/elementwise.hpp"
#include "sr/ops/flop_counter.hpp"

namespace sr {

// Which implementation runs float convolutions on the CPU. automatic times the candidates (our
// direct SIMD kernels where the CPU has AVX2+FMA or AVX-512, and oneDNN) the first time each
// (shape, pass, threads) is seen and keeps the fastest for the process (sr/ops/cpu/conv2d_choice.hpp);
// the others force one implementation, for tests, benchmarks and as fallbacks. The environment
// variable SR_CONV_BACKEND (direct | onednn | gemm) overrides automatic.
enum class ConvBackend { automatic, direct, onednn, gemm };

namespace detail {
inline ConvBackend& conv_backend_setting() {
    static ConvBackend backend = [] {
        const char* env = std::getenv("SR_CONV_BACKEND");
        const std::string name = env ? env : "";
        if (name == "direct") return ConvBackend::direct;
        if (name == "onednn") return ConvBackend::onednn;
        if (name == "gemm") return ConvBackend::gemm;
        return ConvBackend::automatic;
    }();
    return backend;
}
}  // namespace detail

inline void set_conv_backend(ConvBackend backend) { detail::conv_backend_setting() = backend; }
inline ConvBackend conv_backend() { return detail::conv_backend_setting(); }

namespace detail {
using ConvPass = ops::choice::Pass;

// The backend setting resolved against what this CPU can run: automatic stays automatic (measured
// per shape by the caller) when there is more than one candidate; direct without AVX2/AVX-512
// falls back to oneDNN.
inline ConvBackend float_conv_backend() {
    const ConvBackend chosen = conv_backend();
    if ((chosen == ConvBackend::automatic || chosen == ConvBackend::direct) && !ops::direct::available())
        return ConvBackend::onednn;
    return chosen;
}
}  // namespace detail

// What the forward does after the convolution and bias, fused into one pass.
struct ConvEpilogue {
    bool relu = false;        // y = max(y, 0)
    bool accumulate = false;  // y += conv(x) + b instead of y = ... (a residual add in place)
};

namespace ops {

namespace detail {
template <class T, class D>
gemm::ConvGeometry conv_geometry(const Tensor<T, D>& x, const Tensor<T, D>& w, const Tensor<T, D>& b) {
    SR_CHECK(x.rank() == 4, "conv2d: input must be NHWC [N, H, W, C], got shape ", x.shape());
    SR_CHECK(w.rank() == 4 && w.dim(1) == w.dim(2) && w.dim(1) % 2 == 1, "conv2d: weights must be OHWI [O, K, K, C] "
             "with an odd square kernel, got shape ", w.shape());
    SR_CHECK(w.dim(3) == x.dim(3), "conv2d: input has ", x.dim(3), " channels (shape ", x.shape(),
             ") but the weights expect ", w.dim(3), " (shape ", w.shape(), ")");
    SR_CHECK(!b.defined() || (b.rank() == 1 && b.dim(0) == w.dim(0)), "conv2d: bias shape ", b.defined() ? b.shape() : Shape{},
             " does not match ", w.dim(0), " output channels");
    SR_CHECK(x.is_contiguous() && w.is_contiguous() && (!b.defined() || b.is_contiguous()),
             "conv2d: input, weights and bias must be contiguous (input shape ", x.shape(), ")");
    return {x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.dim(0), w.dim(1)};
}
inline direct::Geometry direct_geometry(const gemm::ConvGeometry& g) { return {g.n, g.h, g.w, g.c, g.o, g.k}; }
inline onednn::ConvShape onednn_shape(const gemm::ConvGeometry& g, bool has_bias) {
    onednn::ConvShape s;
    s.n = g.n, s.h = g.h, s.w = g.w, s.c = g.c, s.o = g.o, s.k = g.k, s.has_bias = has_bias;
    s.bf16 = cpu_precision() == Precision::bf16;
    return s;
}
// The CUDA backend (cuDNN, cuBLASLt for 1x1: sr/cuda/conv2d.hpp) takes float only.
template <class T>
cuda::ConvShape cuda_shape(const gemm::ConvGeometry& g) {
    static_assert(std::is_same_v<T, float>, "conv2d on the GPU is float only; cast with Tensor::cast<float>()");
    return {g.n, g.h, g.w, g.c, g.o, g.k};
}

// The float passes on one concrete CPU backend (direct, onednn or gemm); pointers as in the ops below.
inline void float_forward(ConvBackend backend, const gemm::ConvGeometry& g, const float* x, const float* w,
                          const float* b, float* y, ConvEpilogue epilogue, bool training) {
    if (backend == ConvBackend::gemm) {
        gemm::conv2d_forward(g, x, w, b, y, epilogue.relu, epilogue.accumulate);
    } else if (backend == ConvBackend::direct) {
        direct::conv2d_forward(direct_geometry(g), x, w, b, y, epilogue.relu, epilogue.accumulate);
    } else {
        auto s = onednn_shape(g, b != nullptr);
        s.relu = epilogue.relu, s.accumulate = epilogue.accumulate, s.training = training;
        onednn::conv2d_forward(s, x, w, b, y);
    }
}
inline void float_backward_data(ConvBackend backend, const gemm::ConvGeometry& g, const float* grad_y, const float* w,
                                float* grad_x) {
    if (backend == ConvBackend::direct)
        direct::conv2d_backward_data(direct_geometry(g), grad_y, w, grad_x);
    else if (backend == ConvBackend::onednn)
        onednn::conv2d_backward_data(onednn_shape(g, false), grad_y, w, grad_x);
    else
        gemm::conv2d_backward_data(g, grad_y, w, grad_x);
}
inline void float_backward_weights(ConvBackend backend, const gemm::ConvGeometry& g, const float* x,
                                   const float* grad_y, float* grad_w, float* grad_b) {
    if (backend == ConvBackend::direct)
        direct::conv2d_backward_weights(direct_geometry(g), x, grad_y, grad_w, grad_b);
    else if (backend == ConvBackend::onednn)
        onednn::conv2d_backward_weights(onednn_shape(g, grad_b != nullptr), x, grad_y, grad_w, grad_b);
    else
        gemm::conv2d_backward_weights(g, x, grad_y, grad_w, grad_b);
}

// The CPU backend for a float pass: the forced one, or under automatic the measured winner for
// this layer (channels, kernel size), pass and thread count, timed on the first size it meets. On first use, scratch_size zeroed floats of scratch output are
// allocated and run(backend, scratch) is timed for each candidate (sr/ops/cpu/conv2d_choice.hpp),
// so the real outputs (and an accumulate epilogue's addend) are touched only by the winner.
template <class Run>
ConvBackend float_pass_backend(const gemm::ConvGeometry& g, sr::detail::ConvPass pass, int64_t scratch_size, Run&& run) {
    const int threads = num_threads();  // also applies set_num_threads to this thread's OpenMP
    // bf16 convolutions exist on oneDNN only (AMX / AVX512-BF16 kernels).
    if (cpu_precision() == Precision::bf16) return ConvBackend::onednn;
    const ConvBackend backend = sr::detail::float_conv_backend();
    if (backend != ConvBackend::automatic) return backend;
    // Keyed by layer, not by image size: every tile, batch and image size of a layer runs on the
    // same backend, so tiled inference stays bit-equal to a whole-image pass (backends round
    // differently) and validation shapes cannot change what training runs on.
    const choice::Key key{0, 0, 0, g.c, g.o, g.k, pass, threads};
    if (auto id = choice::known(key, direct::isa_name(direct::isa()))) return static_cast<ConvBackend>(*id);
    std::vector<float> scratch(static_cast<std::size_t>(scratch_size), 0.f);
    const choice::Candidate candidates[] = {
        {int(ConvBackend::direct), [&] { run(ConvBackend::direct, scratch.data()); }},
        {int(ConvBackend::onednn), [&] { run(ConvBackend::onednn, scratch.data()); }},
    };
    return static_cast<ConvBackend>(choice::winner(key, candidates));
}
}  // namespace detail

// y = epilogue(conv(x, w) + b); y: [N, H, W, O], preallocated (and holding the addend when
// epilogue.accumulate). `training` keeps oneDNN's forward_training primitive, which the backward
// primitives are tuned against.
template <class T, class D>
void conv2d_forward(const Tensor<T, D>& x, const Tensor<T, D>& w, const Tensor<T, D>& b, const Tensor<T, D>& y,
                    ConvEpilogue epilogue = {}, bool training = false) {
    const auto g = detail::conv_geometry(x, w, b);
    SR_CHECK(y.shape() == Shape({g.n, g.h, g.w, g.o}) && y.is_contiguous(), "conv2d: output must be a contiguous ",
             Shape({g.n, g.h, g.w, g.o}), ", got ", y.shape());
    count_conv2d_forward(g.n, g.h, g.w, g.c, g.o, g.k);
    if constexpr (is_cuda_v<D>) {
        cuda::conv2d_forward(detail::cuda_shape<T>(g), x.data(), w.data(), b.defined() ? b.data() : nullptr, y.data(),
                             epilogue.relu, epilogue.accumulate);
        return;
    }
    if constexpr (std::is_same_v<T, float>) {
        const float* bias = b.defined() ? b.data() : nullptr;
        const auto backend = detail::float_pass_backend(g, sr::detail::ConvPass::forward, y.numel(),
                                                        [&](ConvBackend candidate, float* scratch) {
                                                            detail::float_forward(candidate, g, x.data(), w.data(), bias,
                                                                                  scratch, epilogue, training);
                                                        });
        detail::float_forward(backend, g, x.data(), w.data(), bias, y.data(), epilogue, training);
    } else {
        gemm::conv2d_forward(g, x.data(), w.data(), b.defined() ? b.data() : nullptr, y.data(), epilogue.relu,
                             epilogue.accumulate);
    }
}

// grad_x [N, H, W, C] from grad_y [N, H, W, O] and w; overwrites grad_x.
template <class T, class D>
void conv2d_backward_data(const Tensor<T, D>& grad_y, const Tensor<T, D>& w, const Tensor<T, D>& grad_x) {
    const auto g = detail::conv_geometry(grad_x, w, Tensor<T, D>());
    SR_CHECK(grad_y.shape() == Shape({g.n, g.h, g.w, g.o}) && grad_y.is_contiguous(),
             "conv2d backward: output gradient must be a contiguous ", Shape({g.n, g.h, g.w, g.o}), ", got ", grad_y.shape());
    if constexpr (is_cuda_v<D>) {
        cuda::conv2d_backward_data(detail::cuda_shape<T>(g), grad_y.data(), w.data(), grad_x.data());
        return;
    }
    if constexpr (std::is_same_v<T, float>) {
        const auto backend = detail::float_pass_backend(g, sr::detail::ConvPass::backward_data, grad_x.numel(),
                                                        [&](ConvBackend candidate, float* scratch) {
                                                            detail::float_backward_data(candidate, g, grad_y.data(),
                                                                                        w.data(), scratch);
                                                        });
        detail::float_backward_data(backend, g, grad_y.data(), w.data(), grad_x.data());
        return;
    }
    gemm::conv2d_backward_data(g, grad_y.data(), w.data(), grad_x.data());
}

// grad_w [O, K, K, C] and grad_b [O] (undefined: skipped) from x and grad_y; both overwritten.
template <class T, class D>
void conv2d_backward_weights(const Tensor<T, D>& x, const Tensor<T, D>& grad_y, const Tensor<T, D>& grad_w,
                             const Tensor<T, D>& grad_b) {
    const auto g = detail::conv_geometry(x, grad_w, grad_b);
    SR_CHECK(grad_y.shape() == Shape({g.n, g.h, g.w, g.o}) && grad_y.is_contiguous(),
             "conv2d backward: output gradient must be a contiguous ", Shape({g.n, g.h, g.w, g.o}), ", got ", grad_y.shape());
    if constexpr (is_cuda_v<D>) {
        cuda::conv2d_backward_weights(detail::cuda_shape<T>(g), x.data(), grad_y.data(), grad_w.data(),
                                      grad_b.defined() ? grad_b.data() : nullptr);
        return;
    }
    if constexpr (std::is_same_v<T, float>) {
        const bool has_bias = grad_b.defined();
        const auto backend = detail::float_pass_backend(
            g, sr::detail::ConvPass::backward_weights, grad_w.numel() + (has_bias ? grad_b.numel() : 0),
            [&](ConvBackend candidate, float* scratch) {
                detail::float_backward_weights(candidate, g, x.data(), grad_y.data(), scratch,
                                               has_bias ? scratch + grad_w.numel() : nullptr);
            });
        detail::float_backward_weights(backend, g, x.data(), grad_y.data(), grad_w.data(),
                                       has_bias ? grad_b.data() : nullptr);
        return;
    }
    gemm::conv2d_backward_weights(g, x.data(), grad_y.data(), grad_w.data(), grad_b.defined() ? grad_b.data() : nullptr);
}

// Both gradients of a convolution, as autograd needs them: grad_x [N, H, W, C] (undefined:
// skipped) from grad_y and w, and grad_w [O, K, K, C] with grad_b [O] (grad_w undefined: both
// skipped; grad_b undefined: no bias) from x and grad_y; all overwritten. Under bf16 on the CPU
// both passes share one bf16 copy of grad_y (sr/ops/cpu/conv2d_onednn.hpp).
template <class T, class D>
void conv2d_backward(const Tensor<T, D>& x, const Tensor<T, D>& grad_y, const Tensor<T, D>& w, const Tensor<T, D>& grad_x,
                     const Tensor<T, D>& grad_w, const Tensor<T, D>& grad_b) {
    if constexpr (std::is_same_v<T, float> && is_cpu_v<D>) {
        if (cpu_precision() == Precision::bf16 && grad_x.defined() && grad_w.defined()) {
            const auto g = detail::conv_geometry(x, w, grad_b);
            SR_CHECK(grad_y.shape() == Shape({g.n, g.h, g.w, g.o}) && grad_y.is_contiguous(),
                     "conv2d backward: output gradient must be a contiguous ", Shape({g.n, g.h, g.w, g.o}), ", got ",
                     grad_y.shape());
            SR_CHECK(grad_x.shape() == x.shape() && grad_x.is_contiguous() && grad_w.shape() == w.shape() &&
                         grad_w.is_contiguous(),
                     "conv2d backward: gradients must be contiguous and shaped like their inputs (input ", x.shape(),
                     ", weights ", w.shape(), "), got ", grad_x.shape(), " and ", grad_w.shape());
            num_threads();  // applies set_num_threads to this thread's OpenMP, as every conv pass does
            onednn::conv2d_backward_both(detail::onednn_shape(g, grad_b.defined()), x.data(), grad_y.data(), w.data(),
                                         grad_x.data(), grad_w.data(), grad_b.defined() ? grad_b.data() : nullptr);
            return;
        }
    }
    if (grad_x.defined()) conv2d_backward_data(grad_y, w, grad_x);
    if (grad_w.defined()) conv2d_backward_weights(x, grad_y, grad_w, grad_b);
}

}  // namespace ops

namespace autograd {
template <class T, class D>
class Conv2dNode final : public Node<T, D> {
public:
    Conv2dNode(const Tensor<T, D>& x, const Tensor<T, D>& w, const Tensor<T, D>& b) : Node<T, D>(make_inputs(x, w, b)) {}
    void backward(const Tensor<T, D>& grad_output) override {
        const auto& x = this->input(0);
        const auto& w = this->input(1);
        const bool has_bias = this->inputs().size() == 3;
        const Tensor<T, D> grad_y = grad_output.contiguous();
        const bool bias_grad = has_bias && this->input_needs_grad(2);
        const bool weight_grads = this->input_needs_grad(1) || bias_grad;
        auto grad_x = this->input_needs_grad(0) ? Tensor<T, D>::empty(x.shape()) : Tensor<T, D>();
        auto grad_w = weight_grads ? Tensor<T, D>::empty(w.shape()) : Tensor<T, D>();
        auto grad_b = weight_grads && has_bias ? Tensor<T, D>::empty(this->input(2).shape()) : Tensor<T, D>();
        ops::conv2d_backward(x, grad_y, w, grad_x, grad_w, grad_b);
        if (grad_x.defined()) this->accumulate(0, grad_x);
        if (weight_grads) {
            this->accumulate(1, grad_w);
            if (has_bias) this->accumulate(2, grad_b);
        }
    }
    const char* name() const override { return "conv2d"; }

private:
    static std::vector<Tensor<T, D>> make_inputs(const Tensor<T, D>& x, const Tensor<T, D>& w, const Tensor<T, D>& b) {
        if (b.defined()) return {x, w, b};
        return {x, w};
    }
};
}  // namespace autograd

// y = conv2d(x, w) + b, then ReLU when relu = true; shapes in the header comment. When no
// gradient is recorded, bias and ReLU run fused in the convolution's epilogue; otherwise the ReLU
// is a separate recorded op (its backward needs the pre-activation).
template <class T, class D>
Tensor<T, D> conv2d(const Tensor<T, D>& x, const Tensor<T, D>& w, const Tensor<T, D>& b = {}, bool relu_after = false) {
    const bool record = b.defined() ? autograd::should_record(x, w, b) : autograd::should_record(x, w);
    const auto g = ops::detail::conv_geometry(x, w, b);
    auto y = Tensor<T, D>::empty(Shape{g.n, g.h, g.w, g.o});
    ops::conv2d_forward(x, w, b, y, ConvEpilogue{relu_after && !record, false}, record);
    if (!record) return y;
    autograd::attach_node<autograd::Conv2dNode<T, D>>(y, x, w, b);
    return relu_after ? relu(y) : y;
}

}  // namespace sr
