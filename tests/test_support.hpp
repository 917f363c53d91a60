#pragma once
// Helpers shared by the tests: where the real data is, visible skips, and whole-tensor comparison
// with a normalised error.
#include <catch2/catch.hpp>
#include <sys/wait.h>

#include <cstdio>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>

#include "sr/config.hpp"
#include "sr/core/tensor.hpp"

#if SR_WITH_CUDA
#include "sr/cuda/memory.hpp"
#endif

namespace sr::test {

// ../shared/data beside the checkout, or SR_DATA_DIR; nullopt when neither exists.
inline std::optional<std::filesystem::path> data_dir() {
    if (const char* env = std::getenv("SR_DATA_DIR"); env && *env) {
        std::filesystem::path p(env);
        if (std::filesystem::is_directory(p)) return p;
    }
    std::filesystem::path p = std::filesystem::path(SR_SOURCE_DIR) / ".." / "shared" / "data";
    if (std::filesystem::is_directory(p)) return std::filesystem::canonical(p);
    return std::nullopt;
}

inline bool gpu_available() {
#if SR_WITH_CUDA
    return sr::cuda::device_count() > 0;
#else
    return false;
#endif
}

// A temporary directory removed at scope exit.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        path = std::filesystem::temp_directory_path() /
               ("sr_test_" + std::to_string(std::rand()) + "_" + std::to_string(reinterpret_cast<uintptr_t>(this)));
        std::filesystem::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

// Runs a shell command; returns its exit status and what it printed (stdout and stderr).
struct CommandResult {
    int exit_code = -1;
    std::string output;
};
inline CommandResult run_command(const std::string& command) {
    CommandResult result;
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    REQUIRE(pipe != nullptr);
    char buffer[4096];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) result.output.append(buffer, n);
    const int status = ::pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

// max |a - b| / max(max |b|, floor): one number for "how far is this tensor from the reference".
// A NaN or infinity on one side that the other does not match is an infinite error (std::max
// would drop a NaN difference, so a result of all NaNs would otherwise pass as error 0).
template <class T1, class T2>
double normalized_max_error(const Tensor<T1, Cpu>& a, const Tensor<T2, Cpu>& b, double floor = 1e-12) {
    REQUIRE(a.shape() == b.shape());
    auto ac = a.contiguous();
    auto bc = b.contiguous();
    double max_diff = 0, max_ref = floor;
    for (int64_t i = 0; i < ac.numel(); ++i) {
        const double x = double(ac.data()[i]), y = double(bc.data()[i]);
        if (!std::isfinite(x) || !std::isfinite(y)) {
            if (x == y || (std::isnan(x) && std::isnan(y))) continue;
            return std::numeric_limits<double>::infinity();
        }
        max_diff = std::max(max_diff, std::abs(x - y));
        max_ref = std::max(max_ref, std::abs(y));
    }
    return max_diff / max_ref;
}

}  // namespace sr::test

// Skips the rest of a test case. The marker line is what makes ctest report the case as skipped
// rather than passed (tests/CMakeLists.txt sets it as SKIP_REGULAR_EXPRESSION), and .ci/run prints
// the reason that follows it. A skipped case usually has no assertion, which fails the run under
// `-w NoAssertions`; the skip rule takes precedence over that exit status.
#define SR_SKIP_MARKER "SR_TEST_SKIPPED: "
#define SR_SKIP(message)                      \
    do {                                      \
        WARN(SR_SKIP_MARKER << message);      \
        return;                               \
    } while (false)

#define SR_REQUIRE_DATA(variable)                                                                          \
    auto variable##_opt = ::sr::test::data_dir();                                                          \
    if (!variable##_opt) SR_SKIP("../shared/data not found (set SR_DATA_DIR to run this test)");           \
    const std::filesystem::path variable = *variable##_opt

// Skips a test that needs the Python of the sr-convert tests (tests/python/find_python.cmake).
#define SR_REQUIRE_CONVERT_PYTHON()                                                                         \
    if (std::string(SR_CONVERT_PYTHON).empty())                                                            \
    SR_SKIP("no Python 3 with numpy, h5py and torch at configure time (apt-get install python3-numpy "       \
            "python3-h5py python3-torch)")

#define SR_REQUIRE_GPU()                                                          \
    if (!::sr::test::gpu_available()) SR_SKIP("no CUDA GPU on this machine")
