#pragma once
// Whether ops record graph nodes. Recording is on by default; NoGradGuard turns it off for a scope
// (inference, optimizer updates, backward itself), so activations die as soon as they are unused.
namespace sr {

namespace autograd::detail {
inline bool& grad_enabled_flag() {
    thread_local bool enabled = true;
    return enabled;
}
}  // namespace autograd::detail

inline bool grad_enabled() { return autograd::detail::grad_enabled_flag(); }

class NoGradGuard {
public:
    NoGradGuard() : m_previous(grad_enabled()) { autograd::detail::grad_enabled_flag() = false; }
    ~NoGradGuard() { autograd::detail::grad_enabled_flag() = m_previous; }
    NoGradGuard(const NoGradGuard&) = delete;
    NoGradGuard& operator=(const NoGradGuard&) = delete;

private:
    bool m_previous;
};

}  // namespace sr
