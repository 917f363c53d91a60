#pragma once
// What the command-line tools share: the error convention (one line on stderr, non-zero exit),
// progress display (a redrawn bar on a terminal, plain lines in logs), the -g device option, and
// where the bundled models live.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "sr/config.hpp"
#include "sr/core/device_choice.hpp"
#include "sr/core/error.hpp"
#include "sr/core/parallel.hpp"

namespace sr::tools {

// Runs a tool's body; any exception becomes "<tool>: <message>" on one line and exit status 1.
inline int run_tool(const char* tool, const std::function<int()>& body) {
    try {
        return body();
    } catch (const std::exception& e) {
        std::string message = e.what();
        for (char& c : message)
            if (c == '\n') c = ' ';
        std::fprintf(stderr, "%s: %s\n", tool, message.c_str());
        return 1;
    }
}

inline double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

inline std::string format_duration(double seconds) {
    if (!(seconds >= 0) || seconds > 1e8) return "--:--";
    const long s = static_cast<long>(seconds + 0.5);
    char buffer[32];
    if (s >= 3600)
        std::snprintf(buffer, sizeof buffer, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
    else
        std::snprintf(buffer, sizeof buffer, "%02ld:%02ld", s / 60, s % 60);
    return buffer;
}

// Progress on stderr: on a terminal one line redrawn in place (bar, counts, rate, ETA and a
// caller's note); otherwise a plain line at every 10 % (and at the end), so logs stay readable
// and programs driving the tool can parse "label: done/total" lines.
class ProgressBar {
public:
    ProgressBar(std::string label, int64_t total, std::string unit = "")
        : m_label(std::move(label)), m_unit(std::move(unit)), m_total(total), m_tty(::isatty(STDERR_FILENO) == 1),
          m_start(std::chrono::steady_clock::now()) {}
    ~ProgressBar() { finish(); }

    void update(int64_t done, const std::string& note = "") {
        m_done = done;
        const double elapsed = seconds_since(m_start);
        const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
        const double eta = rate > 0 ? static_cast<double>(m_total - done) / rate : -1;
        const double fraction = m_total > 0 ? static_cast<double>(done) / static_cast<double>(m_total) : 1;
        if (m_tty) {
            const auto now = std::chrono::steady_clock::now();
            if (done < m_total && std::chrono::duration<double>(now - m_last_draw).count() < 0.1) return;
            m_last_draw = now;
            constexpr int width = 28;
            const int filled = static_cast<int>(fraction * width);
            std::string bar(static_cast<std::size_t>(filled), '#');
            bar.resize(width, '.');
            std::fprintf(stderr, "\r\033[K%s [%s] %3.0f%% %lld/%lld %s %.2f/s ETA %s %s", m_label.c_str(), bar.c_str(),
                         fraction * 100, static_cast<long long>(done), static_cast<long long>(m_total), m_unit.c_str(),
                         rate, format_duration(eta).c_str(), note.c_str());
            m_drawn = true;
        } else {
            if (m_total <= 1) return;  // one item: the summary line says it all
            const int decile = static_cast<int>(fraction * 10);
            if (decile <= m_last_decile && done < m_total) return;
            if (done == m_total && m_printed_end) return;
            m_last_decile = decile;
            m_printed_end = done == m_total;
            std::fprintf(stderr, "%s: %lld/%lld %s (%.0f%%, %.2f/s, ETA %s) %s\n", m_label.c_str(),
                         static_cast<long long>(done), static_cast<long long>(m_total), m_unit.c_str(), fraction * 100, rate,
                         format_duration(eta).c_str(), note.c_str());
        }
        std::fflush(stderr);
    }
    // Ends the redrawn line (so the next output starts on a fresh one).
    void finish() {
        if (m_tty && m_drawn) std::fprintf(stderr, "\n");
        m_drawn = false;
    }
    double elapsed() const { return seconds_since(m_start); }

private:
    std::string m_label, m_unit;
    int64_t m_total = 0, m_done = 0;
    bool m_tty;
    bool m_drawn = false, m_printed_end = false;
    int m_last_decile = -1;
    std::chrono::steady_clock::time_point m_start, m_last_draw{};
};

// The -g option: "cpu" (also "-1", as the ncnn tools spell it) or "cuda:N" / "N"
// (sr/core/device_choice.hpp).
using sr::DeviceChoice;
inline DeviceChoice parse_device(const std::string& text) { return sr::parse_device(text, "-g"); }

// Checks that a chosen device can run the models and makes it current, or fails with one line
// saying why not (no CUDA in this build, no GPU or driver, no such ordinal).
inline void require_model_device(const DeviceChoice& device, const std::string& option = "-g") {
    sr::select_device(device, option);
}

// "cuda:0 (NVIDIA H200, 139.8 GiB)" or "cpu", for -v.
inline std::string describe_device(const DeviceChoice& device) {
#if SR_WITH_CUDA
    if (device.cuda) {
        const auto p = sr::cuda::device_properties(device.index);
        char buffer[160];
        std::snprintf(buffer, sizeof buffer, "%s (%s, %.1f GiB)", device.name().c_str(), p.name.c_str(),
                      static_cast<double>(p.total_memory) / (1024.0 * 1024.0 * 1024.0));
        return buffer;
    }
#endif
    return device.name();
}

// The device's peak memory use so far (the pool's high-water mark), for -v; empty on the CPU.
inline std::string peak_device_memory(const DeviceChoice& device) {
#if SR_WITH_CUDA
    if (device.cuda) {
        const auto stats = sr::cuda::memory_stats();
        char buffer[128];
        std::snprintf(buffer, sizeof buffer, "peak device memory %.1f MiB in use, %.1f MiB reserved by the pool",
                      static_cast<double>(stats.peak_in_use) / (1024.0 * 1024.0),
                      static_cast<double>(stats.peak_reserved) / (1024.0 * 1024.0));
        return buffer;
    }
#endif
    (void)device;
    return "";
}

inline void set_threads(int threads) {
    if (threads > 0) set_num_threads(threads);
}

// Folders searched for the bundled models, in order: $SR_MODEL_DIR, <exe>/../share/sr/models
// (an installed tree), and the source tree's models/ (a build tree).
inline std::vector<std::filesystem::path> model_search_path() {
    std::vector<std::filesystem::path> dirs;
    if (const char* env = std::getenv("SR_MODEL_DIR"); env && *env) dirs.emplace_back(env);
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) dirs.push_back(exe.parent_path().parent_path() / "share" / "sr" / "models");
#ifdef SR_SOURCE_MODELS_DIR
    dirs.emplace_back(SR_SOURCE_MODELS_DIR);
#endif
    return dirs;
}

// The bundled default model for a scale: models/sr-default-x<scale>.safetensors.
inline std::filesystem::path default_model(int scale) {
    const std::string name = "sr-default-x" + std::to_string(scale) + ".safetensors";
    std::string searched;
    for (const auto& dir : model_search_path()) {
        if (std::filesystem::is_regular_file(dir / name)) return dir / name;
        searched += (searched.empty() ? "" : ", ") + dir.string();
    }
    fail("no bundled model for x", scale, " (", name, " not found in ", searched,
         "); pass a model with -m or set SR_MODEL_DIR");
}

}  // namespace sr::tools
