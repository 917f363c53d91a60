#pragma once
// Running the Python interoperability scripts of tests/python/ from a test. The interpreter is the
// one tests/python/find_python.cmake found at configure time (a Python 3 that imports numpy);
// without one, SR_REQUIRE_PYTHON skips the test with a visible message.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace sr::test {

// The environment variable SR_TEST_PYTHON, when set, overrides the configured interpreter (e.g. a
// venv with the safetensors and tensorboard packages).
inline std::string python_executable() {
    if (const char* env = std::getenv("SR_TEST_PYTHON"); env && *env) return env;
    return SR_TEST_PYTHON;
}

inline std::filesystem::path python_script(const std::string& name) {
    return std::filesystem::path(SR_SOURCE_DIR) / "tests" / "python" / name;
}

using PythonResult = CommandResult;

// Runs `python script args...` and returns its exit code and output. Arguments are single-quoted
// for the shell (test paths contain no quotes).
inline PythonResult run_python(const std::string& script, const std::vector<std::string>& args) {
    std::string command = "'" + python_executable() + "' '" + python_script(script).string() + "'";
    for (const auto& a : args) command += " '" + a + "'";
    return run_command(command);
}

}  // namespace sr::test

#define SR_REQUIRE_PYTHON()                                                                                   \
    if (::sr::test::python_executable().empty())                                                             \
    SR_SKIP("no Python 3 with NumPy was found at configure time (apt-get install python3-numpy, or set "     \
            "SR_TEST_PYTHON)")
