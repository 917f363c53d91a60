#pragma once
// Deferred device errors (sr::cuda::check_device_errors in sr/cuda/memory.hpp): a kernel that finds
// invalid data records it in its device's error word, in mapped page-locked memory, and goes on;
// the host reads the word at the next synchronising point and raises the CPU op's sr::Error.
// This keeps launches free of host waits.
#include <cuda_runtime.h>

#include <cstdint>

namespace sr::cuda::detail {

enum DeviceErrorCode : int {
    k_no_device_error = 0,
    k_weight_norm_zero_row = 1,  // value: the row; dims: v's shape
};

struct DeviceErrorRecord {
    int code;  // 0, or -1 while a kernel writes the fields, or a DeviceErrorCode
    int rank;
    long long value;
    long long dims[6];
};

// The current device's record, as a device-visible pointer (defined in memory.cu).
DeviceErrorRecord* device_error_record();

// Records the first error of the device; later ones are dropped until the host has raised it.
__device__ inline void report_device_error(DeviceErrorRecord* record, int code, long long value, int rank,
                                           const long long* dims) {
    if (atomicCAS(&record->code, 0, -1) != 0) return;
    record->value = value;
    record->rank = rank;
    for (int i = 0; i < rank && i < 6; ++i) record->dims[i] = dims[i];
    __threadfence_system();
    atomicExch(&record->code, code);
}

}  // namespace sr::cuda::detail
