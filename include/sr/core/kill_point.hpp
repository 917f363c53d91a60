#pragma once
// Test-only crash injection: kill_point(name) raises SIGKILL on the process at the n-th call whose
// name starts with <phase>, when the environment holds SR_TEST_KILL_AT=<phase>:<n> (n >= 1,
// counted from this process's start). Unset, a kill point costs one branch on a cached flag.
//
// It exists so that tests/test_crash_resume.cpp can kill sr-train at exactly the moments a
// random `kill -9` hits only by luck: inside a step, during validation, and between writing a
// file and renaming it into place. The names the product uses:
//   step                   after a step's backward pass, before the optimizer update
//   validation             before each validation batch
//   write:<file name>      inside io::AtomicFile::commit, after the data is on disk and before
//                          the rename (write:last.safetensors is the checkpoint, write:epoch- a
//                          model file of sr-train)
// Never set SR_TEST_KILL_AT outside tests: the process dies without cleanup, by design.
#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace sr::testing {

namespace detail {

struct KillSchedule {
    bool armed = false;
    std::string phase;
    int64_t at = 0;     // 1-based occurrence that kills
    std::atomic<int64_t> seen{0};  // occurrences so far (writers may run on pool threads)

    KillSchedule() {
        const char* value = std::getenv("SR_TEST_KILL_AT");
        if (!value) return;
        const std::string_view text(value);
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) return;
        int64_t n = 0;
        for (char c : text.substr(colon + 1)) {
            if (c < '0' || c > '9') return;
            n = n * 10 + (c - '0');
        }
        if (n < 1) return;
        phase = std::string(text.substr(0, colon));
        at = n;
        armed = true;
    }
};

inline KillSchedule& kill_schedule() {
    static KillSchedule schedule;
    return schedule;
}

}  // namespace detail

// Called at the training loop's and the file writers' critical moments; thread-safe.
inline void kill_point(std::string_view name) {
    auto& s = detail::kill_schedule();
    if (!s.armed || !name.starts_with(s.phase)) return;
    if (s.seen.fetch_add(1) + 1 == s.at) std::raise(SIGKILL);
}

}  // namespace sr::testing
