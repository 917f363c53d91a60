#pragma once
// Asynchronous uploads of host tensors (training batches) through page-locked staging memory on
// the device's copy stream; see cuda::PinnedUpload (sr/cuda/memory.hpp) for the ordering.
#include "sr/core/tensor.hpp"
#include "sr/cuda/memory.hpp"

namespace sr {

// A contiguous device copy of `host` on uploader.device(), usable by anything enqueued on that
// device afterwards; `host` may be changed or freed as soon as this returns. Does not wait for the
// compute stream.
template <class T>
Tensor<T, Cuda> upload_async(cuda::PinnedUpload& uploader, const Tensor<T, Cpu>& host) {
    const Tensor<T, Cpu> source = host.contiguous();
    const std::size_t bytes = static_cast<std::size_t>(source.numel()) * sizeof(T);
    if (bytes == 0) {
        cuda::DeviceGuard guard(uploader.device());
        return Tensor<T, Cuda>::empty(source.shape());
    }
    T* device_data = static_cast<T*>(uploader.upload(source.data(), bytes));
    return Tensor<T, Cuda>::adopt_device_memory(source.shape(), device_data, uploader.device());
}

}  // namespace sr
