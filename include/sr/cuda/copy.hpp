#pragma once
// Tensor data movement on the device (kernels/copy.cu): fills, scalar-type conversion and strided
// copies of views. Device pointers, enqueued on the current device's compute stream; CPU twins
// are in sr/core/tensor.hpp (fill_, cast, copy_to).
#include <cstddef>
#include <cstdint>

#include "sr/core/strided_index.hpp"

namespace sr::cuda {

// dst[i] = value for i < count.
void fill(float* dst, int64_t count, float value);
void fill(double* dst, int64_t count, double value);
void fill(int32_t* dst, int64_t count, int32_t value);
void fill(uint8_t* dst, int64_t count, uint8_t value);

// dst[i] = static_cast<To>(src[i]) for i < count, as C++ converts on the CPU (float -> integer
// truncates toward zero; the value must fit).
void cast(const float* src, double* dst, int64_t count);
void cast(const double* src, float* dst, int64_t count);
void cast(const uint8_t* src, float* dst, int64_t count);
void cast(const float* src, uint8_t* dst, int64_t count);
void cast(const int32_t* src, float* dst, int64_t count);
void cast(const float* src, int32_t* dst, int64_t count);

// For every element of layout.shape: dst[offsets.dst] = src[offsets.src] (sr/core/strided_index.hpp),
// elements of `element_size` bytes (1, 2, 4 or 8). src and dst must not overlap.
void strided_copy(const void* src, void* dst, std::size_t element_size, const StridedLayout& layout);

}  // namespace sr::cuda
