#pragma once
// Where element `linear` (row-major over `shape`) of a strided view lives in its source and in its
// destination: the index math of strided copies (contiguous(), clone() and copy_to() of crops and
// batch slices), used by the CUDA kernel (one thread per element) and checked by CPU tests.
#include <cstdint>

#include "sr/core/host_device.hpp"

namespace sr {

// Rank, extents and the strides (in elements) of both sides; POD, passed to kernels by value.
// k_strided_max_rank equals k_max_rank (sr/core/shape.hpp, not included: kernels see only this).
inline constexpr int k_strided_max_rank = 6;
struct StridedLayout {
    int rank = 0;
    int64_t shape[k_strided_max_rank] = {};
    int64_t src_strides[k_strided_max_rank] = {};
    int64_t dst_strides[k_strided_max_rank] = {};
};

struct StridedOffsets {
    int64_t src = 0;
    int64_t dst = 0;
};

// Offsets (in elements, from each side's first element) of the element whose row-major index
// over layout.shape is `linear`, 0 <= linear < prod(shape).
SR_HOST_DEVICE constexpr StridedOffsets strided_offsets(const StridedLayout& layout, int64_t linear) {
    StridedOffsets offsets;
    for (int i = layout.rank - 1; i >= 0; --i) {
        const int64_t extent = layout.shape[i];
        const int64_t index = linear % extent;
        linear /= extent;
        offsets.src += index * layout.src_strides[i];
        offsets.dst += index * layout.dst_strides[i];
    }
    return offsets;
}

}  // namespace sr
