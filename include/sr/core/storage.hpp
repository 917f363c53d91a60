#pragma once
// Storage: one reference-counted, 64-byte-aligned allocation on a device. Tensors share storages,
// so views (batch slices, crops) cost nothing. A CUDA storage records the device it was allocated
// on (the current one, sr/cuda/memory.hpp) and returns its memory to that device's pool; a CPU
// storage's device index is -1.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "sr/config.hpp"
#include "sr/core/device.hpp"
#include "sr/core/error.hpp"
#include "sr/core/host_allocator.hpp"
#include "sr/cuda/memory.hpp"

namespace sr {

inline constexpr std::size_t k_storage_alignment = host::k_alignment;

template <class T, class D>
class Storage {
public:
    explicit Storage(int64_t count) : m_count(count) {
        static_assert(SR_WITH_CUDA || !is_cuda_v<D>,
                      "Tensor<T, Cuda> needs sr built with CUDA (SR_WITH_CUDA=ON or AUTO with nvcc)");
        if constexpr (is_cuda_v<D>) m_device = cuda::current_device();
        if (count == 0) return;
        std::size_t bytes = static_cast<std::size_t>(count) * sizeof(T);
        if constexpr (is_cpu_v<D>) {
            // Cached by size (sr/core/host_allocator.hpp): a step's activations reuse mapped pages.
            m_data = static_cast<T*>(host::allocate(bytes));
            if (!m_data)
                fail("out of memory: cannot allocate ", bytes, " bytes for a CPU tensor of ", count, " elements");
        } else {
            m_data = static_cast<T*>(cuda::device_malloc(bytes));
        }
    }
    // Takes ownership of `count` elements of device memory from cuda::device_malloc or
    // cuda::PinnedUpload::upload on `device` (freed with cuda::device_free).
    Storage(T* adopted, int64_t count, int device) : m_data(adopted), m_count(count), m_device(device) {
        static_assert(is_cuda_v<D>, "Storage: only device memory is adopted");
    }
    ~Storage() {
        if (!m_data) return;
        if constexpr (is_cpu_v<D>)
            host::deallocate(m_data, static_cast<std::size_t>(m_count) * sizeof(T));
        else
            cuda::device_free(m_data, m_device);
    }
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;

    T* data() { return m_data; }
    const T* data() const { return m_data; }
    int64_t count() const { return m_count; }
    // The CUDA device index, or -1 for CPU memory.
    int device() const { return m_device; }

private:
    T* m_data = nullptr;
    int64_t m_count = 0;
    int m_device = -1;
};

}  // namespace sr
