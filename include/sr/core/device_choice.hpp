#pragma once
// DeviceChoice: the device a run uses, chosen at run time ("cpu" or "cuda:N"), as the tools'
// -g/--device options and TrainOptions::device spell it. The compile-time device types (Cpu,
// Cuda in sr/core/device.hpp) say what a tensor is; this says which one a program picked, and
// select_device() checks that it exists before anything is allocated on it.
#include <string>

#include "sr/config.hpp"
#include "sr/core/error.hpp"
#include "sr/cuda/memory.hpp"

namespace sr {

struct DeviceChoice {
    bool cuda = false;
    int index = 0;  // CUDA device ordinal; 0 for the CPU

    std::string name() const { return cuda ? "cuda:" + std::to_string(index) : std::string("cpu"); }
};

// "cpu" (also "-1", as the ncnn tools spell it), "cuda" (device 0), "cuda:N" or "N".
// `option` names the flag in the error ("-g", "--device").
inline DeviceChoice parse_device(const std::string& text, const std::string& option = "--device") {
    if (text == "cpu" || text == "-1") return {};
    std::string digits = text.rfind("cuda:", 0) == 0 ? text.substr(5) : text;
    if (digits == "cuda") digits = "0";
    if (!digits.empty() && digits.size() <= 4 && digits.find_first_not_of("0123456789") == std::string::npos)
        return {true, std::stoi(digits)};
    fail(option, " ", text, ": expected cpu or cuda:N");
}

// Checks that the device can run models and makes it the current CUDA device. Fails with one
// line saying why not: a build without CUDA, no driver or GPU, or an ordinal past the last GPU.
inline void select_device(const DeviceChoice& device, const std::string& option = "--device") {
    if (!device.cuda) return;
#if SR_WITH_CUDA
    const int count = cuda::device_count();
    SR_CHECK(count > 0, option, " ", device.name(), ": no CUDA GPU or driver is visible on this machine; use ", option,
             " cpu");
    SR_CHECK(device.index < count, option, " ", device.name(), ": only ", count, " CUDA GPU(s) visible (cuda:0 to cuda:",
             count - 1, ")");
    cuda::set_device(device.index);
#else
    fail(option, " ", device.name(), ": this build of sr has no CUDA support (built with SR_WITH_CUDA=OFF or without "
         "nvcc); use ", option, " cpu");
#endif
}

}  // namespace sr
