#pragma once
// Deferred device errors (sr::cuda::check_device_errors in sr/cuda/memory.hpp): a kernel that finds
// invalid data records it and goes on; the host reads the record at the next synchronising point
// and raises the CPU op's sr::Error. This keeps launches free of host waits.
//
// The first reporter claims a word in device memory (device atomics; atomics on host memory over
// PCIe are not portable), then writes the record into mapped page-locked host memory with plain
// stores, the code last, so the host reads it without a copy.
#include <cuda_runtime.h>

#include <cstdint>

namespace sr::cuda::detail {

enum DeviceErrorCode : int {
    k_no_device_error = 0,
    k_weight_norm_zero_row = 1,  // value: the row; dims: v's shape
};

struct DeviceErrorRecord {
    int code;  // 0 or a DeviceErrorCode, written last
    int rank;
    long long value;
    long long dims[6];
};

struct DeviceErrorSink {
    int* claim;                 // device memory: 0 = free, 1 = a record was written
    DeviceErrorRecord* record;  // device view of the host-mapped record
};

// The current device's sink (defined in memory.cu).
DeviceErrorSink device_error_sink();

// Records the first error of the device; later ones are dropped until the host has raised it.
__device__ inline void report_device_error(DeviceErrorSink sink, int code, long long value, int rank,
                                           const long long* dims) {
    if (atomicCAS(sink.claim, 0, 1) != 0) return;
    volatile DeviceErrorRecord* record = sink.record;
    record->value = value;
    record->rank = rank;
    for (int i = 0; i < rank && i < 6; ++i) record->dims[i] = dims[i];
    __threadfence_system();
    record->code = code;
}

}  // namespace sr::cuda::detail
