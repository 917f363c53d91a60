#pragma once
// Which CPU backend runs a float convolution of a given shape and pass, chosen by timing the
// candidates on the running machine the first time that (shape, pass) is seen.
//
// Why measure: which implementation wins depends on the CPU, not on how the binary was built. On
// an AVX2-only Zen 3 our direct kernels beat oneDNN 2.6's NHWC convolutions on every 3x3 pass; on
// an AMX Xeon oneDNN's brgconv kernels win them (docs/benchmarks.md). A fixed table is wrong on
// one of the two, so the first call of each (shape, pass) runs every candidate on the real
// operands (into scratch outputs), keeps the fastest for the rest of the process and then runs it
// for real. The cost is a few extra convolutions once per shape.
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <tuple>
#include <utility>
#include <vector>

namespace sr::ops::choice {

enum class Pass { forward, backward_data, backward_weights };

// One convolution problem: NHWC input [n, h, w, c], o outputs, k x k kernel, the pass, and the
// threads it runs on (the winner on one thread is not always the winner on two).
struct Key {
    int64_t n = 0, h = 0, w = 0, c = 0, o = 0, k = 0;
    Pass pass = Pass::forward;
    int threads = 1;
    auto tie() const { return std::tie(n, h, w, c, o, k, pass, threads); }
    bool operator<(const Key& other) const { return tie() < other.tie(); }
};

// A candidate: an identifier (the caller's backend enum as int) and a callable that performs the
// whole pass once into scratch outputs.
struct Candidate {
    int id = 0;
    std::function<void()> run;
};

namespace detail {
struct Table {
    std::mutex mutex;
    std::map<Key, int> winners;
};
inline Table& table() {
    static Table t;
    return t;
}

// Seconds of the fastest of `repeats` timed runs, after one untimed run (which also creates
// oneDNN primitives and warms caches, so setup is not charged to a candidate).
inline double time_candidate(const Candidate& candidate) {
    using clock = std::chrono::steady_clock;
    candidate.run();
    double best = std::numeric_limits<double>::infinity();
    for (int r = 0; r < 3; ++r) {
        const auto start = clock::now();
        candidate.run();
        const double seconds = std::chrono::duration<double>(clock::now() - start).count();
        best = std::min(best, seconds);
        if (seconds > 0.05) break;  // long runs are stable enough after one sample
    }
    return best;
}
}  // namespace detail

// The winner recorded for `key`, or none when it has not been measured yet.
inline std::optional<int> known(const Key& key) {
    auto& t = detail::table();
    std::lock_guard lock(t.mutex);
    auto it = t.winners.find(key);
    if (it == t.winners.end()) return std::nullopt;
    return it->second;
}

// The winner for `key`, measured now when this is its first use. candidates must be non-empty;
// with one candidate nothing is timed. Thread-safe; two threads meeting a new key at once may
// both measure it (the later result is kept), which costs time but never correctness.
inline int winner(const Key& key, std::span<const Candidate> candidates) {
    auto& t = detail::table();
    {
        std::lock_guard lock(t.mutex);
        auto it = t.winners.find(key);
        if (it != t.winners.end()) return it->second;
    }
    int best_id = candidates.front().id;
    if (candidates.size() > 1) {
        double best_time = std::numeric_limits<double>::infinity();
        for (const auto& candidate : candidates) {
            const double seconds = detail::time_candidate(candidate);
            if (seconds < best_time) best_time = seconds, best_id = candidate.id;
        }
    }
    std::lock_guard lock(t.mutex);
    t.winners[key] = best_id;
    return best_id;
}

// The measured winners so far (for benchmarks and logs): key -> candidate id.
inline std::vector<std::pair<Key, int>> winners() {
    auto& t = detail::table();
    std::lock_guard lock(t.mutex);
    return {t.winners.begin(), t.winners.end()};
}

// Forgets every measurement, so the next use of each shape measures again (tests, benchmarks).
inline void forget() {
    auto& t = detail::table();
    std::lock_guard lock(t.mutex);
    t.winners.clear();
}

}  // namespace sr::ops::choice
