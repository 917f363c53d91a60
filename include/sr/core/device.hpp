#pragma once
// Devices are types: Tensor<float, Cpu> and Tensor<float, Cuda> cannot be mixed by accident.
#include <string>
#include <type_traits>

namespace sr {

struct Cpu {
    static constexpr const char* name = "cpu";
};

// The CUDA device. Operations on Tensor<T, Cuda> call the kernels of sr::kernels (declared in
// sr/cuda/); they exist only when the engine was built with SR_WITH_CUDA.
struct Cuda {
    static constexpr const char* name = "cuda";
};

template <class D>
inline constexpr bool is_cpu_v = std::is_same_v<D, Cpu>;
template <class D>
inline constexpr bool is_cuda_v = std::is_same_v<D, Cuda>;

}  // namespace sr
