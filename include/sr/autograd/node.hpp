#pragma once
// Graph nodes of the define-by-run tape.
//
// When an op runs with recording on and some input requires a gradient, it attaches a Node to its
// output (output.grad_fn). The node holds the input tensors (the graph's edges, which keeps
// everything backward needs alive) and whatever it saved from the forward pass. Each node gets a
// sequence number when created: the order of the tape. backward() (sr/autograd/backward.hpp)
// visits the nodes reachable from the loss in decreasing sequence order, so every node runs after
// all the nodes that consume its output.
#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "sr/autograd/grad_mode.hpp"
#include "sr/core/parallel.hpp"
#include "sr/core/tensor.hpp"
#include "sr/cuda/elementwise.hpp"

namespace sr::autograd {

inline uint64_t next_sequence_number() {
    static std::atomic<uint64_t> counter{0};
    return ++counter;
}

template <class T, class D>
class Node {
public:
    explicit Node(std::vector<Tensor<T, D>> inputs) : m_inputs(std::move(inputs)), m_sequence(next_sequence_number()) {}
    virtual ~Node() = default;
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    // Given dL/d(output), adds dL/d(input i) to every input that requires a gradient
    // (through accumulate()). Runs with recording off.
    virtual void backward(const Tensor<T, D>& grad_output) = 0;
    // The op's name, for error messages and graph dumps.
    virtual const char* name() const = 0;

    uint64_t sequence() const { return m_sequence; }
    const std::vector<Tensor<T, D>>& inputs() const { return m_inputs; }
    bool input_needs_grad(std::size_t i) const { return m_inputs[i].requires_grad(); }

protected:
    const Tensor<T, D>& input(std::size_t i) const { return m_inputs[i]; }
    void accumulate(std::size_t i, const Tensor<T, D>& grad) const {
        if (m_inputs[i].requires_grad()) m_inputs[i].accumulate_grad(grad);
    }

private:
    std::vector<Tensor<T, D>> m_inputs;
    uint64_t m_sequence;
};

// True when an op on these inputs must record a node.
template <class T, class D, class... More>
bool should_record(const Tensor<T, D>& first, const More&... more) {
    if (!grad_enabled()) return false;
    return first.requires_grad() || (... || more.requires_grad());
}

// Attaches a new NodeType(args...) to output, which becomes a non-leaf requiring a gradient.
template <class NodeType, class T, class D, class... Args>
void attach_node(const Tensor<T, D>& output, Args&&... args) {
    output.impl().grad_fn = std::make_shared<NodeType>(std::forward<Args>(args)...);
    output.impl().requires_grad = true;
}

}  // namespace sr::autograd

namespace sr {

// Every recorded op's node reaches Tensor::accumulate_grad, so it is defined with Node (below the
// ops) and sums with the raw loop or CUDA kernel itself; Tensor::backward, which needs the whole
// tape machinery, is in sr/autograd/backward.hpp, above the ops.
template <class T, class D>
void Tensor<T, D>::accumulate_grad(const Tensor& g) const {
    SR_CHECK(g.shape() == shape(), "gradient of shape ", g.shape(), " for a tensor of shape ", shape());
    Impl& self = impl();
    if (!self.grad) {
        // Adopt the incoming gradient without copying. Gradients may therefore share storage
        // (a + b gives both the same one): treat them as read-only, as the optimizers do.
        self.grad = g.contiguous().impl_ptr();
        return;
    }
    const Tensor current(self.grad), incoming = g.contiguous();
    auto sum = Tensor::empty(shape());
    const int64_t n = sum.numel();
    if constexpr (is_cuda_v<D>) {
        cuda::add(current.data(), incoming.data(), sum.data(), n);
    } else {
        const T *pa = current.data(), *pb = incoming.data();
        T* po = sum.data();
        parallel_for(n, k_elementwise_grain, [=](int64_t begin, int64_t end) {
#pragma omp simd
            for (int64_t i = begin; i < end; ++i) po[i] = pa[i] + pb[i];
        });
    }
    self.grad = sum.impl_ptr();
}

}  // namespace sr
