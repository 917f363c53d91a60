#pragma once
// Reverse-mode differentiation: Tensor::backward() (gradient accumulation, which every op's node
// reaches, is in sr/autograd/node.hpp).
//
// backward() collects the nodes reachable from the loss, orders them by decreasing sequence
// number (the reverse of the order the forward pass recorded them: the tape), and runs each
// node's backward with the gradient accumulated on its output. A tensor used twice (a skip
// connection) receives the sum of both contributions before its node runs, because every
// consumer was recorded after it. Non-leaf gradients are freed as soon as their node has run,
// and the graph is released afterwards unless retain_graph is set.
#include <algorithm>
#include <functional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "sr/autograd/grad_mode.hpp"
#include "sr/autograd/node.hpp"
#include "sr/core/tensor.hpp"

namespace sr {

namespace autograd {

// Called by backward() on its thread for each leaf that requires a gradient, as soon as that
// gradient is complete (no node left to run adds to it), while the rest of the backward pass still
// runs: data-parallel training starts averaging a gradient there (sr/dist/gradient_sync.hpp). Set
// for a scope with LeafGradientHookGuard; leaves no gradient reaches are not reported.
template <class T, class D>
using LeafGradientHook = std::function<void(const Tensor<T, D>& leaf)>;

namespace detail {
template <class T, class D>
const LeafGradientHook<T, D>*& leaf_gradient_hook() {
    thread_local const LeafGradientHook<T, D>* hook = nullptr;
    return hook;
}
}  // namespace detail

template <class T, class D>
class LeafGradientHookGuard {
public:
    explicit LeafGradientHookGuard(const LeafGradientHook<T, D>& hook) : m_previous(detail::leaf_gradient_hook<T, D>()) {
        detail::leaf_gradient_hook<T, D>() = &hook;
    }
    ~LeafGradientHookGuard() { detail::leaf_gradient_hook<T, D>() = m_previous; }
    LeafGradientHookGuard(const LeafGradientHookGuard&) = delete;
    LeafGradientHookGuard& operator=(const LeafGradientHookGuard&) = delete;

private:
    const LeafGradientHook<T, D>* m_previous;
};

}  // namespace autograd

template <class T, class D>
void Tensor<T, D>::backward(bool retain_graph) const {
    SR_CHECK(numel() == 1, "backward: the loss must be a scalar, got shape ", shape());
    SR_CHECK(requires_grad(), "backward: the loss does not depend on any tensor that requires a gradient");
    NoGradGuard no_grad;

    // Seed dL/dL = 1 (a fill on the device: an upload would wait for the stream).
    Tensor seed = Tensor::full(shape(), T(1));
    accumulate_grad(seed);
    if (is_leaf()) return;

    // Collect the reachable nodes with the tensor each one produced.
    struct Step {
        autograd::Node<T, D>* node;
        std::shared_ptr<Impl> output;
    };
    std::vector<Step> steps;
    std::unordered_set<const Impl*> seen;
    std::vector<std::shared_ptr<Impl>> stack{impl_ptr()};
    seen.insert(impl_ptr().get());
    while (!stack.empty()) {
        auto current = std::move(stack.back());
        stack.pop_back();
        if (!current->grad_fn) continue;
        steps.push_back({current->grad_fn.get(), current});
        for (const auto& input : current->grad_fn->inputs()) {
            if (!input.requires_grad()) continue;
            if (seen.insert(input.impl_ptr().get()).second) stack.push_back(input.impl_ptr());
        }
    }
    std::sort(steps.begin(), steps.end(),
              [](const Step& a, const Step& b) { return a.node->sequence() > b.node->sequence(); });

    // With a hook: how many nodes still to run feed each leaf; at zero its gradient is final.
    const autograd::LeafGradientHook<T, D>* hook = autograd::detail::leaf_gradient_hook<T, D>();
    std::unordered_map<const Impl*, int> pending_consumers;
    if (hook)
        for (const auto& step : steps)
            for (const auto& input : step.node->inputs())
                if (input.requires_grad() && !input.impl().grad_fn) ++pending_consumers[input.impl_ptr().get()];

    for (auto& step : steps) {
        if (step.output->grad) {  // else nothing flowed here (e.g. only through a detached path)
            Tensor grad_output(step.output->grad);
            step.node->backward(grad_output);
            if (step.output.get() != m_impl.get()) step.output->grad.reset();  // intermediate gradients die here
        }
        if (!hook) continue;
        for (const auto& input : step.node->inputs()) {
            if (!input.requires_grad() || input.impl().grad_fn) continue;
            if (--pending_consumers[input.impl_ptr().get()] == 0 && input.impl().grad) (*hook)(input);
        }
    }
    if (!retain_graph)
        for (auto& step : steps) step.output->grad_fn.reset();
}

}  // namespace sr
