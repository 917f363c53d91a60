#pragma once
// Device memory of the CUDA backend: plain C++ declarations, defined in kernels/memory.cu.
// Linked only when sr was built with SR_WITH_CUDA; nothing here includes a CUDA header.
#include <cstddef>

namespace sr::cuda {

// Number of usable CUDA devices; 0 when there is no driver or GPU (never throws).
int device_count() noexcept;
// Total and free bytes of the current device's memory.
void memory_info(std::size_t& free_bytes, std::size_t& total_bytes);
void set_device(int index);
void synchronize();

void* device_malloc(std::size_t bytes);
void device_free(void* pointer) noexcept;
void copy_host_to_device(void* device_dst, const void* host_src, std::size_t bytes);
void copy_device_to_host(void* host_dst, const void* device_src, std::size_t bytes);
void copy_device_to_device(void* device_dst, const void* device_src, std::size_t bytes);
void fill_zero(void* device_dst, std::size_t bytes);

}  // namespace sr::cuda
