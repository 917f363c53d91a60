#pragma once
// Caching allocator for CPU tensor storage: freed blocks are kept, by exact size, and handed out
// again instead of returning to the C library.
//
// Why: a training step or a forward pass allocates the same activation sizes every time. Large
// blocks from aligned_alloc come from fresh mmap'd pages that the kernel maps on first touch, so
// every step paid a page fault per 4 KiB of activations (tens of thousands a step for a 16x48x48
// batch); a reused block is already mapped. Blocks under k_min_cached_bytes are left to malloc,
// which recycles them cheaply already. At most k_max_cached_bytes stay idle in the cache; beyond
// that freed blocks go back to the system.
//
// Live bytes (handed out and not yet released, every size, cached or not) and their peak are
// counted with atomics, so sr/models/forward_cost.hpp can measure what a forward pass holds at
// once. They are process-wide: another thread's allocations during a measurement count too.
//
// Under AddressSanitizer an idle cached block is poisoned, and a reused one unpoisoned only for the
// bytes asked for: a use after free of a large tensor, or a read past its end into the block's
// rounding, is reported as it would be for memory from malloc.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define SR_HOST_ALLOCATOR_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SR_HOST_ALLOCATOR_ASAN 1
#endif
#endif
#ifdef SR_HOST_ALLOCATOR_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace sr::host {

inline constexpr std::size_t k_alignment = 64;
inline constexpr std::size_t k_min_cached_bytes = std::size_t{1} << 16;
inline constexpr std::size_t k_max_cached_bytes = std::size_t{2} << 30;

struct AllocatorStats {
    std::size_t cached_bytes = 0;  // idle in the cache now
    uint64_t hits = 0;             // allocations served from the cache
    uint64_t misses = 0;           // allocations that went to aligned_alloc (cacheable sizes only)
    std::size_t live_bytes = 0;       // handed out and not yet released (sizes rounded to k_alignment)
    std::size_t peak_live_bytes = 0;  // the most live_bytes has been since start or reset_peak_live_bytes()
};

namespace detail {
struct Cache {
    std::mutex mutex;
    std::unordered_map<std::size_t, std::vector<void*>> free_blocks;
    AllocatorStats stats;  // live_bytes and peak_live_bytes are kept in the atomics below
    std::atomic<std::size_t> live_bytes{0}, peak_live_bytes{0};
};
// Never destroyed: tensors in static storage are freed after every function-local static, and
// must still find the cache then (the process's exit returns the memory).
inline Cache& cache() {
    static Cache* c = new Cache;
    return *c;
}
inline std::size_t rounded(std::size_t bytes) { return (bytes + k_alignment - 1) / k_alignment * k_alignment; }

inline void count_allocated(std::size_t size) {
    auto& c = cache();
    const std::size_t live = c.live_bytes.fetch_add(size, std::memory_order_relaxed) + size;
    std::size_t peak = c.peak_live_bytes.load(std::memory_order_relaxed);
    while (live > peak && !c.peak_live_bytes.compare_exchange_weak(peak, live, std::memory_order_relaxed)) {
    }
}
inline void count_released(std::size_t size) { cache().live_bytes.fetch_sub(size, std::memory_order_relaxed); }

// No-ops unless built with AddressSanitizer.
inline void poison(void* p, std::size_t bytes) {
#ifdef SR_HOST_ALLOCATOR_ASAN
    ASAN_POISON_MEMORY_REGION(p, bytes);
#else
    (void)p, (void)bytes;
#endif
}
inline void unpoison(void* p, std::size_t bytes) {
#ifdef SR_HOST_ALLOCATOR_ASAN
    ASAN_UNPOISON_MEMORY_REGION(p, bytes);
#else
    (void)p, (void)bytes;
#endif
}
}  // namespace detail

// 64-byte-aligned block of at least `bytes` bytes, or null when the system is out of memory.
// Release it with deallocate(p, bytes), the same `bytes`.
inline void* allocate(std::size_t bytes) {
    const std::size_t size = detail::rounded(bytes);
    if (size >= k_min_cached_bytes) {
        auto& c = detail::cache();
        std::lock_guard lock(c.mutex);
        auto it = c.free_blocks.find(size);
        if (it != c.free_blocks.end() && !it->second.empty()) {
            void* p = it->second.back();
            it->second.pop_back();
            c.stats.cached_bytes -= size;
            ++c.stats.hits;
            detail::unpoison(p, bytes);
            detail::count_allocated(size);
            return p;
        }
        ++c.stats.misses;
    }
    void* p = std::aligned_alloc(k_alignment, size);
    if (p) detail::count_allocated(size);
    return p;
}

inline void deallocate(void* p, std::size_t bytes) {
    if (!p) return;
    const std::size_t size = detail::rounded(bytes);
    detail::count_released(size);
    if (size >= k_min_cached_bytes) {
        auto& c = detail::cache();
        std::lock_guard lock(c.mutex);
        if (c.stats.cached_bytes + size <= k_max_cached_bytes) {
            c.free_blocks[size].push_back(p);
            c.stats.cached_bytes += size;
            detail::poison(p, size);
            return;
        }
    }
    std::free(p);
}

inline AllocatorStats allocator_stats() {
    auto& c = detail::cache();
    std::lock_guard lock(c.mutex);
    AllocatorStats stats = c.stats;
    stats.live_bytes = c.live_bytes.load(std::memory_order_relaxed);
    stats.peak_live_bytes = c.peak_live_bytes.load(std::memory_order_relaxed);
    return stats;
}

// Starts a new peak: peak_live_bytes becomes the bytes live now.
inline void reset_peak_live_bytes() {
    auto& c = detail::cache();
    c.peak_live_bytes.store(c.live_bytes.load(std::memory_order_relaxed), std::memory_order_relaxed);
}

// Makes peak_live_bytes at least `bytes` (a measurement that reset the peak puts back the one it hid).
inline void raise_peak_live_bytes(std::size_t bytes) {
    auto& peak = detail::cache().peak_live_bytes;
    std::size_t current = peak.load(std::memory_order_relaxed);
    while (bytes > current && !peak.compare_exchange_weak(current, bytes, std::memory_order_relaxed)) {
    }
}

// Returns every idle cached block to the system (e.g. before a phase that needs the memory elsewhere).
inline void release_cached() {
    auto& c = detail::cache();
    std::lock_guard lock(c.mutex);
    for (auto& [bytes, blocks] : c.free_blocks)
        for (void* p : blocks) {
            detail::unpoison(p, bytes);
            std::free(p);
        }
    c.free_blocks.clear();
    c.stats.cached_bytes = 0;
}

}  // namespace sr::host
