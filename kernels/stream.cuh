#pragma once
// The one compute stream per device that every kernel, cuDNN and cuBLAS call of sr::kernels is
// enqueued on (defined in memory.cu). Created on first use for the current device: non-blocking
// (it does not synchronise with the legacy default stream, so nothing may be enqueued there).
#include <cuda_runtime.h>

namespace sr::cuda::detail {

cudaStream_t compute_stream();

}  // namespace sr::cuda::detail
