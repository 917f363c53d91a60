#pragma once
// CPU parallelism for ops: OpenMP, the same runtime oneDNN (Debian's build) uses, so our loops and
// oneDNN's share one pool of threads and one thread-count setting.
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>

namespace sr {

namespace detail {
// The process-wide thread count (0: never set). OpenMP keeps its count per thread, so
// omp_set_num_threads on one thread left others (data loaders, a caller's worker threads) at the
// default; num_threads() applies this setting to whichever thread asks.
inline std::atomic<int>& thread_setting() {
    static std::atomic<int> threads{0};
    return threads;
}
}  // namespace detail

// Threads used by ops (elementwise work, our convolution kernels and oneDNN), on every thread of
// the process that runs ops from now on.
inline void set_num_threads(int threads) {
    threads = std::max(1, threads);
    detail::thread_setting().store(threads);
    omp_set_num_threads(threads);
}
// The thread count for ops started on the calling thread; also applies set_num_threads' setting
// to this thread's OpenMP state (ops call it before starting parallel work).
inline int num_threads() {
    const int setting = detail::thread_setting().load(std::memory_order_relaxed);
    if (setting > 0 && !omp_in_parallel() && omp_get_max_threads() != setting) omp_set_num_threads(setting);
    return setting > 0 ? setting : omp_get_max_threads();
}

// Calls body(begin, end) on disjoint chunks covering [0, count), in parallel when the work is
// large enough to pay for waking the threads (min_chunk elements per thread at least).
// body must not throw: an exception cannot leave an OpenMP region. Record failures and check after.
template <class Body>
void parallel_for(int64_t count, int64_t min_chunk, Body&& body) {
    if (count <= 0) return;
    const int threads = static_cast<int>(std::min<int64_t>(num_threads(), std::max<int64_t>(1, count / std::max<int64_t>(1, min_chunk))));
    if (threads <= 1 || omp_in_parallel()) {
        body(int64_t{0}, count);
        return;
    }
#pragma omp parallel num_threads(threads)
    {
        const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
        const int64_t begin = count * t / nt, end = count * (t + 1) / nt;
        if (begin < end) body(begin, end);
    }
}

// While it lives, OpenMP work started by the calling thread runs on that thread alone; the previous
// count comes back at the end. OpenMP keeps the thread count per thread (omp_set_num_threads), so
// other threads, and the caller's setting outside the scope, are untouched. For libraries that
// would start a team of their own inside a body parallel_for runs on the caller (Eigen's GEMM).
class SerialOpenMpScope {
public:
    SerialOpenMpScope() : m_previous_threads(omp_get_max_threads()) { omp_set_num_threads(1); }
    ~SerialOpenMpScope() { omp_set_num_threads(m_previous_threads); }
    SerialOpenMpScope(const SerialOpenMpScope&) = delete;
    SerialOpenMpScope& operator=(const SerialOpenMpScope&) = delete;

private:
    int m_previous_threads;
};

// Elementwise loops below this size run on one thread.
inline constexpr int64_t k_elementwise_grain = 1 << 15;

}  // namespace sr
