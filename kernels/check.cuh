#pragma once
// Error checks for CUDA runtime calls: failures become sr::Error with the call and CUDA's message.
#include <cuda_runtime.h>

#include <cstdint>

#include "sr/core/error.hpp"

#define SR_CUDA_CHECK(call)                                                                          \
    do {                                                                                             \
        cudaError_t sr_cuda_status = (call);                                                         \
        if (sr_cuda_status != cudaSuccess)                                                           \
            ::sr::fail("CUDA error in ", #call, ": ", cudaGetErrorString(sr_cuda_status));           \
    } while (false)

namespace sr::cuda::detail {

inline constexpr int k_block = 256;

// Enough blocks for `count` elements with a grid-stride loop, capped so huge tensors don't launch
// millions of blocks.
inline unsigned grid_for(int64_t count) {
    int64_t blocks = (count + k_block - 1) / k_block;
    if (blocks > 65535 * 8) blocks = 65535 * 8;
    return static_cast<unsigned>(blocks < 1 ? 1 : blocks);
}

inline void check_launch(const char* kernel) {
    cudaError_t status = cudaGetLastError();
    if (status != cudaSuccess) ::sr::fail("CUDA kernel ", kernel, " failed to launch: ", cudaGetErrorString(status));
}
// The same, naming the size of the work, so the error can be placed.
inline void check_launch(const char* kernel, int64_t count) {
    cudaError_t status = cudaGetLastError();
    if (status != cudaSuccess)
        ::sr::fail("CUDA kernel ", kernel, " failed to launch for ", count, " elements: ", cudaGetErrorString(status));
}

}  // namespace sr::cuda::detail
