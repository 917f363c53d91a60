#pragma once
// The CUDA runtime as the engine uses it: devices, the stream-ordered memory pool, copies, deferred
// device errors and page-locked uploads. Plain C++ declarations, defined in kernels/memory.cu;
// linked only when sr was built with SR_WITH_CUDA; nothing here includes a CUDA header.
//
// Streams: each device has one non-blocking compute stream (kernels/stream.cuh) that every
// kernel, cuDNN and cuBLAS call and every copy below is enqueued on, so work on one device runs
// in program order without host waits; and one copy stream that only PinnedUpload uses, so batch
// uploads overlap the compute stream's work. Functions act on the current device (set_device);
// a CUDA tensor must be used while its device (Tensor::device_index()) is current.
//
// Host waits happen only where a value reaches the host: copy_device_to_host (Tensor::item,
// to<Cpu>), copy_host_to_device from pageable memory, synchronize, and the destructor and slot
// reuse of PinnedUpload. Each of them first raises any deferred device error (check_device_errors).
#include <cstddef>
#include <cstdint>
#include <string>

namespace sr::cuda {

// ---- devices ----

// Number of usable CUDA devices; 0 when there is no driver or GPU (never throws).
int device_count() noexcept;
// Makes `index` the current device of the calling thread; sr::Error when it does not exist.
void set_device(int index);
int current_device();

struct DeviceProperties {
    int index = 0;
    std::string name;               // e.g. "NVIDIA H200"
    int compute_major = 0, compute_minor = 0;
    std::size_t total_memory = 0;   // bytes
    int multiprocessors = 0;
};
DeviceProperties device_properties(int index);

// Sets a device for a scope and restores the previous one (also when an exception leaves it).
class DeviceGuard {
public:
    explicit DeviceGuard(int index);
    ~DeviceGuard();
    DeviceGuard(const DeviceGuard&) = delete;
    DeviceGuard& operator=(const DeviceGuard&) = delete;

private:
    int m_previous = 0;
};

// Total and free bytes of the current device's memory as the driver sees it (the pool's reserve
// counts as used).
void memory_info(std::size_t& free_bytes, std::size_t& total_bytes);
// Waits for all work on the current device's compute and copy streams, then raises any deferred
// device error.
void synchronize();

// ---- memory: the current device's stream-ordered pool ----

// Device memory from the current device's default pool (cudaMallocAsync on its compute stream,
// release threshold raised so freed memory stays reserved for reuse: no cudaMalloc, cudaFree or
// device synchronisation in a steady training step). Usable by work enqueued on the compute stream
// right away. sr::Error naming the size and the pool's state when the device is out of memory.
void* device_malloc(std::size_t bytes);
// Returns memory to the pool, ordered after all work enqueued on the compute stream so far (of the
// current device, or of `device`, the one it was allocated on). Never throws.
void device_free(void* pointer) noexcept;
void device_free(void* pointer, int device) noexcept;

// Bytes of the current device's pool, from the runtime's own counters.
struct MemoryStats {
    std::size_t in_use = 0;         // allocated and not yet freed
    std::size_t peak_in_use = 0;    // maximum of in_use since start or reset_peak_memory_stats()
    std::size_t reserved = 0;       // held by the pool (in use + cached for reuse)
    std::size_t peak_reserved = 0;
};
MemoryStats memory_stats();
void reset_peak_memory_stats();
// Makes peak_in_use at least `bytes` until the next reset (a measurement that reset the peak to
// watch one forward pass puts back the peak it hid).
void raise_peak_in_use(std::size_t bytes);
// Waits for the device, then returns the pool's cached (unused) memory to the driver.
void release_cached_memory();

// ---- copies, all ordered on the current device's compute stream ----

// From pageable host memory: returns once the copy is complete, so host_src may be freed or
// changed right after (use PinnedUpload for copies that must not wait).
void copy_host_to_device(void* device_dst, const void* host_src, std::size_t bytes);
// Waits for the compute stream (the value is needed on the host), then raises deferred errors.
void copy_device_to_host(void* host_dst, const void* device_src, std::size_t bytes);
// Asynchronous.
void copy_device_to_device(void* device_dst, const void* device_src, std::size_t bytes);
void fill_zero(void* device_dst, std::size_t bytes);

// ---- deferred device errors ----

// Kernels that detect invalid data (a weight-norm row of zeros) record the first such error of the
// device in a word the host reads at the next synchronising point, instead of waiting after every
// launch. Raises it, as the sr::Error the CPU op would have thrown, and clears it. Does not wait:
// call after a synchronisation (the functions above that wait call it themselves).
void check_device_errors();

// ---- page-locked host memory and asynchronous uploads ----

// Page-locked (pinned) host memory from cudaHostAlloc: the source the DMA engines read without a
// staging copy. Move-only; freed with cudaFreeHost.
class PinnedBuffer {
public:
    PinnedBuffer() = default;
    explicit PinnedBuffer(std::size_t bytes);
    ~PinnedBuffer();
    PinnedBuffer(PinnedBuffer&& other) noexcept;
    PinnedBuffer& operator=(PinnedBuffer&& other) noexcept;
    PinnedBuffer(const PinnedBuffer&) = delete;
    PinnedBuffer& operator=(const PinnedBuffer&) = delete;

    void* data() const { return m_data; }
    std::size_t size() const { return m_size; }

private:
    void* m_data = nullptr;
    std::size_t m_size = 0;
};

// Host -> device uploads on the current device's copy stream, overlapped with the compute stream:
// upload() stages the bytes in one of `slots` pinned buffers, allocates the destination from the
// pool on the copy stream, enqueues the DMA there and makes the compute stream wait for it (an
// event), so kernels enqueued afterwards see the data and kernels enqueued before keep running.
// A slot is reused round-robin; reusing one waits (on the host) only for its previous DMA.
// Typical use, the training loop: upload batch k+1 right after enqueuing step k.
// Bound to the device current at construction; not thread-safe (one per loader thread).
class PinnedUpload {
public:
    explicit PinnedUpload(int slots = 2);
    ~PinnedUpload();  // waits for its copies in flight
    PinnedUpload(const PinnedUpload&) = delete;
    PinnedUpload& operator=(const PinnedUpload&) = delete;

    // Copies `bytes` of host memory (pageable or not; reusable as soon as this returns) to new
    // device memory and returns it; the caller owns it (device_free(pointer, device())).
    void* upload(const void* host_src, std::size_t bytes);
    int device() const { return m_device; }
    // Bytes of pinned staging memory held (grows to the largest upload, per slot).
    std::size_t staging_bytes() const;

private:
    struct Slot;
    Slot* m_slots = nullptr;
    int m_slot_count = 0;
    int m_next = 0;
    int m_device = 0;
};

}  // namespace sr::cuda
