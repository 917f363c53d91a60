#pragma once
// CPU parallelism for ops: OpenMP, the same runtime oneDNN (Debian's build) uses, so our loops and
// oneDNN's share one pool of threads and one thread-count setting.
#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace sr {

// Threads used by ops (elementwise work and oneDNN convolutions).
inline void set_num_threads(int threads) { omp_set_num_threads(std::max(1, threads)); }
inline int num_threads() { return omp_get_max_threads(); }

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

// Elementwise loops below this size run on one thread.
inline constexpr int64_t k_elementwise_grain = 1 << 15;

}  // namespace sr
