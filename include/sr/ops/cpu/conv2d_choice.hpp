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
//
// Winners are also kept on disk, one file per CPU model and direct-kernel variant, in
// $SR_CACHE_DIR (default $XDG_CACHE_HOME/sr or ~/.cache/sr; SR_CACHE_DIR=off disables it), and
// read back by later processes. Besides saving the measurements, this keeps the choice stable
// across processes on one machine: the backends round differently, and a resumed training run
// must continue bit-exactly where the interrupted one stopped.
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
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
// threads it runs on (the winner on one thread is not always the winner on two). A caller may
// leave n, h, w at 0 to key a whole layer (sr/ops/conv2d.hpp does, so tiles and whole images agree).
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
inline std::string cpu_model_name() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 1);
    return "unknown-cpu";
}

// The file holding this machine's winners, or empty when the disk cache is off or has no home.
inline std::filesystem::path cache_file(const std::string& variant) {
    std::filesystem::path dir;
    if (const char* env = std::getenv("SR_CACHE_DIR"); env && *env) {
        if (std::string(env) == "off") return {};
        dir = env;
    } else if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
        dir = std::filesystem::path(xdg) / "sr";
    } else if (const char* home = std::getenv("HOME"); home && *home) {
        dir = std::filesystem::path(home) / ".cache" / "sr";
    } else {
        return {};
    }
    std::string name = "conv2d-choice-" + cpu_model_name() + "-" + variant;
    for (char& ch : name)
        if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-') ch = '_';
    return dir / (name + ".txt");
}

struct Table {
    std::mutex mutex;
    std::map<Key, int> winners;
    std::filesystem::path file;
    bool loaded = false;
};
inline Table& table() {
    static Table t;
    return t;
}

// Adds the winners recorded in `file` to `winners`. Lines: n h w c o k pass threads winner; a
// malformed line (a concurrent writer's half line) is skipped.
inline void read_winners(const std::filesystem::path& file, std::map<Key, int>& winners) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        Key key;
        int pass = 0, id = 0;
        if (fields >> key.n >> key.h >> key.w >> key.c >> key.o >> key.k >> pass >> key.threads >> id && pass >= 0 &&
            pass <= 2)
            key.pass = static_cast<Pass>(pass), winners.emplace(key, id);
    }
}

// Reads the disk cache once (caller holds the mutex).
inline void load(Table& t, const std::string& variant) {
    if (t.loaded) return;
    t.loaded = true;
    t.file = cache_file(variant);
    if (!t.file.empty()) read_winners(t.file, t.winners);
}

// Appends one winner to `file` (one short line per write, so concurrent processes interleave
// whole lines); failures only lose the record.
inline void append_winner(const std::filesystem::path& file, const Key& key, int id) {
    if (file.empty()) return;
    std::error_code ec;
    std::filesystem::create_directories(file.parent_path(), ec);
    std::ofstream out(file, std::ios::app);
    out << key.n << ' ' << key.h << ' ' << key.w << ' ' << key.c << ' ' << key.o << ' ' << key.k << ' '
        << static_cast<int>(key.pass) << ' ' << key.threads << ' ' << id << '\n';
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

// The winner recorded for `key` (in this process or on disk), or none when it has not been
// measured yet. `variant` names what the candidates are compiled for (the disk cache keeps one
// file per CPU model and variant).
inline std::optional<int> known(const Key& key, const std::string& variant) {
    auto& t = detail::table();
    std::lock_guard lock(t.mutex);
    detail::load(t, variant);
    auto it = t.winners.find(key);
    if (it == t.winners.end()) return std::nullopt;
    return it->second;
}

// The winner for `key`, measured now when this is its first use. candidates must be non-empty;
// with one candidate nothing is timed. Thread-safe; two threads meeting a new key at once may
// both measure it (the first result is kept), which costs time but never correctness.
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
    if (auto it = t.winners.find(key); it != t.winners.end()) return it->second;  // another thread was first
    detail::append_winner(t.file, key, best_id);
    // Every process follows the first record of a key in the file, the measuring one included: two
    // processes that measured the same shape at once (and may disagree) still run the same backend,
    // which a resumed training run needs to continue bit-exactly.
    if (!t.file.empty()) {
        std::map<Key, int> on_disk;
        detail::read_winners(t.file, on_disk);
        if (auto it = on_disk.find(key); it != on_disk.end()) best_id = it->second;
    }
    t.winners[key] = best_id;
    return best_id;
}

// The measured winners so far (for benchmarks and logs): key -> candidate id.
inline std::vector<std::pair<Key, int>> winners() {
    auto& t = detail::table();
    std::lock_guard lock(t.mutex);
    return {t.winners.begin(), t.winners.end()};
}

// Forgets every measurement in this process, so the next use of each shape measures again
// (tests); the disk cache is not read again.
inline void forget() {
    auto& t = detail::table();
    std::lock_guard lock(t.mutex);
    t.winners.clear();
    t.loaded = true;
}

}  // namespace sr::ops::choice
