#pragma once
// SR_HOST_DEVICE marks index math shared by the CPU code and the CUDA kernels, so the two sides can
// never disagree about a layout (pixel-shuffle channel order, tile coordinates).
#if defined(__CUDACC__)
#define SR_HOST_DEVICE __host__ __device__
#else
#define SR_HOST_DEVICE
#endif
