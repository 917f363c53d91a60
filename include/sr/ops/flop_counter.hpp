#pragma once
// Counts the arithmetic of the convolutions a thread runs while a FlopCounter is in scope:
// 2 FLOPs per multiply-add, i.e. 2 * N * H_out * W_out * C_in * C_out * K * K per forward
// convolution (bias, ReLU and residual epilogues not counted: they are under 1 % of the work).
// Only forward convolutions count (ops::conv2d_forward and the fused bf16 residual chain), on any
// device; what a model's own non-convolution ops do is not seen. Without a counter in scope a
// convolution pays one thread-local load and a branch.
//
//   FlopCounter counter;
//   model(x);
//   uint64_t flops = counter.flops();
//
// Counters nest: an inner counter's count is added to the outer one when it ends. A counter
// counts the thread that created it and must end on that thread.
#include <cstdint>

namespace sr::ops {

class FlopCounter;

namespace detail {
inline thread_local FlopCounter* active_flop_counter = nullptr;
}

class FlopCounter {
public:
    FlopCounter() : m_outer(detail::active_flop_counter) { detail::active_flop_counter = this; }
    ~FlopCounter() {
        detail::active_flop_counter = m_outer;
        if (m_outer) m_outer->m_flops += m_flops;
    }
    FlopCounter(const FlopCounter&) = delete;
    FlopCounter& operator=(const FlopCounter&) = delete;

    uint64_t flops() const { return m_flops; }
    void add(uint64_t flops) { m_flops += flops; }

private:
    FlopCounter* m_outer;
    uint64_t m_flops = 0;
};

// Called by every forward convolution: batch n, output h x w, c in and o out channels, k x k kernel.
inline void count_conv2d_forward(int64_t n, int64_t h, int64_t w, int64_t c, int64_t o, int64_t k) {
    if (FlopCounter* counter = detail::active_flop_counter) [[unlikely]]
        counter->add(2 * static_cast<uint64_t>(n * h * w) * static_cast<uint64_t>(c * o * k * k));
}

}  // namespace sr::ops
