// Fills, scalar-type conversion and strided copies on the device (declared in sr/cuda/copy.hpp).
// CPU twins: Tensor::fill_, Tensor::cast and Tensor::copy_to in sr/core/tensor.hpp; the strided
// index math is sr::strided_offsets, shared with the host.
#include <cstdint>

#include "check.cuh"
#include "sr/core/strided_index.hpp"
#include "sr/cuda/copy.hpp"
#include "stream.cuh"

namespace sr::cuda {

namespace {

template <class T>
struct FillParams {
    T* dst;
    int64_t count;
    T value;
};

template <class T>
__global__ void fill_kernel(FillParams<T> p) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < p.count; i += int64_t(blockDim.x) * gridDim.x)
        p.dst[i] = p.value;
}

template <class T>
void launch_fill(const FillParams<T>& p) {
    if (p.count == 0) return;
    fill_kernel<T><<<detail::grid_for(p.count), detail::k_block, 0, detail::compute_stream()>>>(p);
    detail::check_launch("fill_kernel", p.count);
}

template <class From, class To>
struct CastParams {
    const From* src;
    To* dst;
    int64_t count;
};

template <class From, class To>
__global__ void cast_kernel(CastParams<From, To> p) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < p.count; i += int64_t(blockDim.x) * gridDim.x)
        p.dst[i] = static_cast<To>(p.src[i]);
}

template <class From, class To>
void launch_cast(const CastParams<From, To>& p) {
    if (p.count == 0) return;
    cast_kernel<From, To><<<detail::grid_for(p.count), detail::k_block, 0, detail::compute_stream()>>>(p);
    detail::check_launch("cast_kernel", p.count);
}

// Elements are moved as unsigned integers of their size: a copy needs no arithmetic type.
template <class Word>
struct StridedParams {
    const Word* src;
    Word* dst;
    int64_t count;
    StridedLayout layout;
};

template <class Word>
__global__ void strided_copy_kernel(StridedParams<Word> p) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < p.count; i += int64_t(blockDim.x) * gridDim.x) {
        const StridedOffsets at = strided_offsets(p.layout, i);
        p.dst[at.dst] = p.src[at.src];
    }
}

template <class Word>
void launch_strided_copy(const void* src, void* dst, const StridedLayout& layout, int64_t count) {
    StridedParams<Word> p{static_cast<const Word*>(src), static_cast<Word*>(dst), count, layout};
    strided_copy_kernel<Word><<<detail::grid_for(count), detail::k_block, 0, detail::compute_stream()>>>(p);
    detail::check_launch("strided_copy_kernel", count);
}

}  // namespace

void fill(float* dst, int64_t count, float value) { launch_fill<float>({dst, count, value}); }
void fill(double* dst, int64_t count, double value) { launch_fill<double>({dst, count, value}); }
void fill(int32_t* dst, int64_t count, int32_t value) { launch_fill<int32_t>({dst, count, value}); }
void fill(uint8_t* dst, int64_t count, uint8_t value) { launch_fill<uint8_t>({dst, count, value}); }

void cast(const float* src, double* dst, int64_t count) { launch_cast<float, double>({src, dst, count}); }
void cast(const double* src, float* dst, int64_t count) { launch_cast<double, float>({src, dst, count}); }
void cast(const uint8_t* src, float* dst, int64_t count) { launch_cast<uint8_t, float>({src, dst, count}); }
void cast(const float* src, uint8_t* dst, int64_t count) { launch_cast<float, uint8_t>({src, dst, count}); }
void cast(const int32_t* src, float* dst, int64_t count) { launch_cast<int32_t, float>({src, dst, count}); }
void cast(const float* src, int32_t* dst, int64_t count) { launch_cast<float, int32_t>({src, dst, count}); }

void strided_copy(const void* src, void* dst, std::size_t element_size, const StridedLayout& layout) {
    SR_CHECK(layout.rank >= 0 && layout.rank <= k_strided_max_rank, "strided_copy: rank ", layout.rank,
             " is outside [0, ", k_strided_max_rank, "]");
    int64_t count = 1;
    for (int i = 0; i < layout.rank; ++i) count *= layout.shape[i];
    if (count == 0) return;
    switch (element_size) {
        case 1: launch_strided_copy<uint8_t>(src, dst, layout, count); break;
        case 2: launch_strided_copy<uint16_t>(src, dst, layout, count); break;
        case 4: launch_strided_copy<uint32_t>(src, dst, layout, count); break;
        case 8: launch_strided_copy<uint64_t>(src, dst, layout, count); break;
        default: ::sr::fail("strided_copy: element size ", element_size, " bytes is not 1, 2, 4 or 8");
    }
}

}  // namespace sr::cuda
