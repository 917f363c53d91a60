// Device memory and device queries for the CUDA backend (declared in sr/cuda/memory.hpp).
#include "check.cuh"
#include "sr/cuda/memory.hpp"

namespace sr::cuda {

int device_count() noexcept {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError();  // clear the sticky "no driver" error
        return 0;
    }
    return count;
}

void memory_info(std::size_t& free_bytes, std::size_t& total_bytes) {
    SR_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
}

void set_device(int index) { SR_CUDA_CHECK(cudaSetDevice(index)); }

void synchronize() { SR_CUDA_CHECK(cudaDeviceSynchronize()); }

void* device_malloc(std::size_t bytes) {
    void* pointer = nullptr;
    cudaError_t status = cudaMalloc(&pointer, bytes);
    if (status != cudaSuccess) {
        cudaGetLastError();
        ::sr::fail("out of GPU memory: cannot allocate ", bytes, " bytes (", cudaGetErrorString(status), ")");
    }
    return pointer;
}

void device_free(void* pointer) noexcept { cudaFree(pointer); }

void copy_host_to_device(void* device_dst, const void* host_src, std::size_t bytes) {
    SR_CUDA_CHECK(cudaMemcpy(device_dst, host_src, bytes, cudaMemcpyHostToDevice));
}

void copy_device_to_host(void* host_dst, const void* device_src, std::size_t bytes) {
    SR_CUDA_CHECK(cudaMemcpy(host_dst, device_src, bytes, cudaMemcpyDeviceToHost));
}

void copy_device_to_device(void* device_dst, const void* device_src, std::size_t bytes) {
    SR_CUDA_CHECK(cudaMemcpy(device_dst, device_src, bytes, cudaMemcpyDeviceToDevice));
}

void fill_zero(void* device_dst, std::size_t bytes) { SR_CUDA_CHECK(cudaMemset(device_dst, 0, bytes)); }

}  // namespace sr::cuda
