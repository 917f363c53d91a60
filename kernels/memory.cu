// The CUDA runtime as the engine uses it (declared in sr/cuda/memory.hpp): per-device compute and
// copy streams, the stream-ordered pool, copies, deferred device errors and pinned uploads.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <utility>

#include "check.cuh"
#include "device_error.cuh"
#include "sr/core/shape.hpp"
#include "sr/cuda/memory.hpp"
#include "stream.cuh"

namespace sr::cuda {

namespace {

constexpr int k_max_devices = 64;

// Everything the engine keeps per device, made on first use and kept for the process's life
// (destroying streams or the error word during static destruction would race the runtime's own
// teardown).
struct DeviceState {
    std::once_flag once;
    cudaStream_t compute = nullptr;
    cudaStream_t copy = nullptr;
    cudaMemPool_t pool = nullptr;
    detail::DeviceErrorRecord* error_host = nullptr;
    detail::DeviceErrorSink error_sink{};
    std::size_t peak_floor = 0;  // raise_peak_in_use: a peak that a measurement's reset hid
};

int current_device_unchecked() {
    int device = 0;
    SR_CUDA_CHECK(cudaGetDevice(&device));
    return device;
}

void initialise(DeviceState& state, int device) {
    const int previous = current_device_unchecked();
    if (previous != device) SR_CUDA_CHECK(cudaSetDevice(device));
    SR_CUDA_CHECK(cudaStreamCreateWithFlags(&state.compute, cudaStreamNonBlocking));
    SR_CUDA_CHECK(cudaStreamCreateWithFlags(&state.copy, cudaStreamNonBlocking));
    SR_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&state.pool, device));
    // Keep freed memory reserved: without this the pool returns it to the driver at every
    // synchronisation and the next step pays cudaMalloc's cost again.
    uint64_t threshold = UINT64_MAX;
    SR_CUDA_CHECK(cudaMemPoolSetAttribute(state.pool, cudaMemPoolAttrReleaseThreshold, &threshold));
    void* record = nullptr;
    SR_CUDA_CHECK(cudaHostAlloc(&record, sizeof(detail::DeviceErrorRecord), cudaHostAllocMapped));
    std::memset(record, 0, sizeof(detail::DeviceErrorRecord));
    state.error_host = static_cast<detail::DeviceErrorRecord*>(record);
    void* device_view = nullptr;
    SR_CUDA_CHECK(cudaHostGetDevicePointer(&device_view, record, 0));
    state.error_sink.record = static_cast<detail::DeviceErrorRecord*>(device_view);
    SR_CUDA_CHECK(cudaMalloc(&state.error_sink.claim, sizeof(int)));
    // On the compute stream: a non-blocking stream does not wait for the legacy default stream.
    SR_CUDA_CHECK(cudaMemsetAsync(state.error_sink.claim, 0, sizeof(int), state.compute));
    if (previous != device) SR_CUDA_CHECK(cudaSetDevice(previous));
}

DeviceState& device_state(int device) {
    static std::array<DeviceState, k_max_devices> states;
    SR_CHECK(device >= 0 && device < k_max_devices, "CUDA device index ", device, " is out of range (at most ",
             k_max_devices, " devices)");
    DeviceState& state = states[static_cast<std::size_t>(device)];
    std::call_once(state.once, [&] { initialise(state, device); });
    return state;
}

DeviceState& current_state() { return device_state(current_device_unchecked()); }

// SR_CUDA_CHECK with what the call was doing (sizes), for errors a user can place.
template <class... Context>
void check_call(cudaError_t status, const char* call, Context&&... context) {
    if (status == cudaSuccess) return;
    cudaGetLastError();
    ::sr::fail("CUDA error in ", call, " (", std::forward<Context>(context)..., "): ", cudaGetErrorString(status));
}

std::size_t pool_attribute(cudaMemPool_t pool, cudaMemPoolAttr attribute) {
    uint64_t value = 0;
    SR_CUDA_CHECK(cudaMemPoolGetAttribute(pool, attribute, &value));
    return static_cast<std::size_t>(value);
}

}  // namespace

namespace detail {

cudaStream_t compute_stream() { return current_state().compute; }

DeviceErrorSink device_error_sink() { return current_state().error_sink; }

}  // namespace detail

// ---- devices ----

int device_count() noexcept {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError();  // clear the sticky "no driver" error
        return 0;
    }
    return count;
}

void set_device(int index) {
    const int count = device_count();
    SR_CHECK(index >= 0 && index < count, "set_device: there is no CUDA device ", index, " (", count,
             count == 1 ? " device" : " devices", " found)");
    SR_CUDA_CHECK(cudaSetDevice(index));
}

int current_device() { return current_device_unchecked(); }

DeviceProperties device_properties(int index) {
    cudaDeviceProp prop{};
    SR_CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
    DeviceProperties out;
    out.index = index;
    out.name = prop.name;
    out.compute_major = prop.major;
    out.compute_minor = prop.minor;
    out.total_memory = prop.totalGlobalMem;
    out.multiprocessors = prop.multiProcessorCount;
    return out;
}

DeviceGuard::DeviceGuard(int index) : m_previous(current_device_unchecked()) {
    if (index != m_previous) set_device(index);
}

DeviceGuard::~DeviceGuard() { cudaSetDevice(m_previous); }

void memory_info(std::size_t& free_bytes, std::size_t& total_bytes) {
    SR_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
}

void synchronize() {
    DeviceState& state = current_state();
    SR_CUDA_CHECK(cudaStreamSynchronize(state.compute));
    SR_CUDA_CHECK(cudaStreamSynchronize(state.copy));
    check_device_errors();
}

// ---- memory ----

void* device_malloc(std::size_t bytes) {
    DeviceState& state = current_state();
    void* pointer = nullptr;
    cudaError_t status = cudaMallocAsync(&pointer, bytes, state.compute);
    if (status == cudaErrorMemoryAllocation) {
        // Frees enqueued on other streams (the copy stream's allocations) become reusable once
        // they ran, and trimming gives back fragments: one retry after both.
        cudaGetLastError();
        SR_CUDA_CHECK(cudaStreamSynchronize(state.compute));
        SR_CUDA_CHECK(cudaStreamSynchronize(state.copy));
        SR_CUDA_CHECK(cudaMemPoolTrimTo(state.pool, 0));
        status = cudaMallocAsync(&pointer, bytes, state.compute);
    }
    if (status != cudaSuccess) {
        cudaGetLastError();
        std::size_t free_bytes = 0, total_bytes = 0;
        cudaMemGetInfo(&free_bytes, &total_bytes);
        const MemoryStats stats = memory_stats();
        ::sr::fail("out of GPU memory: cudaMallocAsync cannot allocate ", bytes, " bytes on cuda:",
                   current_device_unchecked(), " (", cudaGetErrorString(status), "; the pool holds ", stats.in_use,
                   " bytes in use and ", stats.reserved, " reserved, the device has ", free_bytes, " of ",
                   total_bytes, " bytes free)");
    }
    return pointer;
}

void device_free(void* pointer) noexcept {
    if (!pointer) return;
    int device = 0;
    if (cudaGetDevice(&device) != cudaSuccess) return;
    device_free(pointer, device);
}

void device_free(void* pointer, int device) noexcept {
    if (!pointer) return;
    try {
        // The compute stream of the allocating device orders the free after every kernel that
        // used the memory; cudaFreeAsync accepts a stream of another device than the current one.
        cudaStream_t stream = device_state(device).compute;
        if (cudaFreeAsync(pointer, stream) != cudaSuccess) cudaGetLastError();
    } catch (...) {
        // Freeing never throws: at process exit the runtime may already be gone.
    }
}

MemoryStats memory_stats() {
    cudaMemPool_t pool = current_state().pool;
    MemoryStats stats;
    stats.in_use = pool_attribute(pool, cudaMemPoolAttrUsedMemCurrent);
    stats.reserved = pool_attribute(pool, cudaMemPoolAttrReservedMemCurrent);
    // A high-water mark reset to 0 reads 0 until the next allocation; the peak is never below now.
    stats.peak_in_use =
        std::max({pool_attribute(pool, cudaMemPoolAttrUsedMemHigh), stats.in_use, current_state().peak_floor});
    stats.peak_reserved = std::max(pool_attribute(pool, cudaMemPoolAttrReservedMemHigh), stats.reserved);
    return stats;
}

void raise_peak_in_use(std::size_t bytes) {
    DeviceState& state = current_state();
    state.peak_floor = std::max(state.peak_floor, bytes);
}

void reset_peak_memory_stats() {
    current_state().peak_floor = 0;
    cudaMemPool_t pool = current_state().pool;
    uint64_t zero = 0;  // the runtime accepts only 0, which resets a high-water mark to the current value
    SR_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrUsedMemHigh, &zero));
    SR_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReservedMemHigh, &zero));
}

void release_cached_memory() {
    synchronize();
    SR_CUDA_CHECK(cudaMemPoolTrimTo(current_state().pool, 0));
}

// ---- copies ----

void copy_host_to_device(void* device_dst, const void* host_src, std::size_t bytes) {
    if (bytes == 0) return;
    cudaStream_t stream = current_state().compute;
    check_call(cudaMemcpyAsync(device_dst, host_src, bytes, cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync",
               "host to device, ", bytes, " bytes");
    // From pageable memory the driver may still read host_src after cudaMemcpyAsync returned;
    // the caller may free it now, so wait.
    check_call(cudaStreamSynchronize(stream), "cudaStreamSynchronize", "after a host to device copy of ", bytes,
               " bytes");
    check_device_errors();
}

void copy_device_to_host(void* host_dst, const void* device_src, std::size_t bytes) {
    if (bytes == 0) return;
    cudaStream_t stream = current_state().compute;
    check_call(cudaMemcpyAsync(host_dst, device_src, bytes, cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync",
               "device to host, ", bytes, " bytes");
    // Also where an earlier kernel's failure surfaces: name what waited for it.
    check_call(cudaStreamSynchronize(stream), "cudaStreamSynchronize", "before a device to host copy of ", bytes,
               " bytes");
    check_device_errors();
}

void copy_device_to_device(void* device_dst, const void* device_src, std::size_t bytes) {
    if (bytes == 0) return;
    check_call(cudaMemcpyAsync(device_dst, device_src, bytes, cudaMemcpyDeviceToDevice, current_state().compute),
               "cudaMemcpyAsync", "device to device, ", bytes, " bytes");
}

void fill_zero(void* device_dst, std::size_t bytes) {
    if (bytes == 0) return;
    check_call(cudaMemsetAsync(device_dst, 0, bytes, current_state().compute), "cudaMemsetAsync", bytes, " bytes");
}

// ---- deferred device errors ----

void check_device_errors() {
    DeviceState& state = current_state();
    detail::DeviceErrorRecord* record = state.error_host;
    const int code = reinterpret_cast<volatile detail::DeviceErrorRecord*>(record)->code;
    if (code == detail::k_no_device_error) return;
    const detail::DeviceErrorRecord seen = *record;
    std::memset(record, 0, sizeof(detail::DeviceErrorRecord));
    // Free the claim for the next error, in stream order: kernels enqueued later may report again.
    SR_CUDA_CHECK(cudaMemsetAsync(state.error_sink.claim, 0, sizeof(int), state.compute));
    switch (code) {
        case detail::k_weight_norm_zero_row: {
            const Shape shape = Shape::from_range(seen.dims, seen.dims + seen.rank);
            // The CPU's message (sr/ops/weight_norm.hpp), word for word.
            ::sr::fail("weight_norm: row ", seen.value, " of v (shape ", shape,
                       ") is all zeros, so its direction is undefined");
        }
        default:
            ::sr::fail("CUDA kernel reported unknown device error ", code, " (value ", seen.value, ")");
    }
}

// ---- page-locked memory and uploads ----

PinnedBuffer::PinnedBuffer(std::size_t bytes) : m_size(bytes) {
    if (bytes == 0) return;
    cudaError_t status = cudaHostAlloc(&m_data, bytes, cudaHostAllocDefault);
    if (status != cudaSuccess) {
        cudaGetLastError();
        m_data = nullptr;
        ::sr::fail("cudaHostAlloc cannot allocate ", bytes, " bytes of page-locked host memory: ",
                   cudaGetErrorString(status));
    }
}

PinnedBuffer::~PinnedBuffer() {
    if (m_data) cudaFreeHost(m_data);
}

PinnedBuffer::PinnedBuffer(PinnedBuffer&& other) noexcept
    : m_data(std::exchange(other.m_data, nullptr)), m_size(std::exchange(other.m_size, 0)) {}

PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& other) noexcept {
    if (this != &other) {
        if (m_data) cudaFreeHost(m_data);
        m_data = std::exchange(other.m_data, nullptr);
        m_size = std::exchange(other.m_size, 0);
    }
    return *this;
}

struct PinnedUpload::Slot {
    PinnedBuffer staging;
    cudaEvent_t copied = nullptr;  // recorded on the copy stream after the slot's last DMA
    bool in_flight = false;
};

PinnedUpload::PinnedUpload(int slots) : m_device(current_device_unchecked()) {
    SR_CHECK(slots >= 1, "PinnedUpload: needs at least one staging slot, got ", slots);
    device_state(m_device);
    m_slots = new Slot[static_cast<std::size_t>(slots)];
    m_slot_count = slots;
    for (int i = 0; i < slots; ++i) {
        cudaError_t status = cudaEventCreateWithFlags(&m_slots[i].copied, cudaEventDisableTiming);
        if (status != cudaSuccess) {
            for (int j = 0; j < i; ++j) cudaEventDestroy(m_slots[j].copied);
            delete[] m_slots;
            ::sr::fail("CUDA error in cudaEventCreateWithFlags (PinnedUpload): ", cudaGetErrorString(status));
        }
    }
}

PinnedUpload::~PinnedUpload() {
    for (int i = 0; i < m_slot_count; ++i) {
        if (m_slots[i].in_flight) cudaEventSynchronize(m_slots[i].copied);
        cudaEventDestroy(m_slots[i].copied);
    }
    delete[] m_slots;
}

std::size_t PinnedUpload::staging_bytes() const {
    std::size_t total = 0;
    for (int i = 0; i < m_slot_count; ++i) total += m_slots[i].staging.size();
    return total;
}

void* PinnedUpload::upload(const void* host_src, std::size_t bytes) {
    DeviceGuard guard(m_device);
    DeviceState& state = device_state(m_device);
    Slot& slot = m_slots[m_next];
    m_next = (m_next + 1) % m_slot_count;
    if (slot.in_flight) {
        SR_CUDA_CHECK(cudaEventSynchronize(slot.copied));
        slot.in_flight = false;
    }
    if (bytes == 0) return nullptr;
    if (slot.staging.size() < bytes) slot.staging = PinnedBuffer(bytes);
    std::memcpy(slot.staging.data(), host_src, bytes);
    // Allocated in the copy stream's order, so the DMA need not wait for the compute stream; the
    // compute stream frees it later (device_free), after it waited for the copy below.
    void* device_dst = nullptr;
    cudaError_t status = cudaMallocAsync(&device_dst, bytes, state.copy);
    if (status != cudaSuccess) {
        cudaGetLastError();
        ::sr::fail("out of GPU memory: PinnedUpload cannot allocate ", bytes, " bytes on cuda:", m_device, " (",
                   cudaGetErrorString(status), ")");
    }
    check_call(cudaMemcpyAsync(device_dst, slot.staging.data(), bytes, cudaMemcpyHostToDevice, state.copy),
               "cudaMemcpyAsync", "PinnedUpload on the copy stream, ", bytes, " bytes");
    SR_CUDA_CHECK(cudaEventRecord(slot.copied, state.copy));
    slot.in_flight = true;
    SR_CUDA_CHECK(cudaStreamWaitEvent(state.compute, slot.copied, 0));
    return device_dst;
}

}  // namespace sr::cuda
