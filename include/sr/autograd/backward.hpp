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
#include <unordered_set>
#include <vector>

#include "sr/autograd/grad_mode.hpp"
#include "sr/autograd/node.hpp"
#include "sr/core/tensor.hpp"

namespace sr {

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

    for (auto& step : steps) {
        if (!step.output->grad) continue;  // nothing flowed here (e.g. only through a detached path)
        Tensor grad_output(step.output->grad);
        step.node->backward(grad_output);
        if (step.output.get() != m_impl.get()) step.output->grad.reset();  // intermediate gradients die here
    }
    if (!retain_graph)
        for (auto& step : steps) step.output->grad_fn.reset();
}

}  // namespace sr
