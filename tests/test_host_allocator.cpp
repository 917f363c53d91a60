// The caching host allocator behind CPU tensor storage (sr/core/host_allocator.hpp) and the
// process-wide thread count (sr/core/parallel.hpp).
#include <catch2/catch.hpp>

#include <thread>
#include <vector>

#include "sr/core/parallel.hpp"
#include "sr/core/tensor.hpp"
#include "test_support.hpp"

namespace test_host_allocator {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

TEST_CASE("host allocator hands a freed block of the same size back, aligned", "[allocator]") {
    const std::size_t bytes = (std::size_t{3} << 20) + 40;  // an odd size no other test uses
    void* first = sr::host::allocate(bytes);
    REQUIRE(first != nullptr);
    CHECK(reinterpret_cast<std::uintptr_t>(first) % sr::host::k_alignment == 0);
    static_cast<char*>(first)[bytes - 1] = 7;  // the whole requested size is usable
    sr::host::deallocate(first, bytes);
    const auto before = sr::host::allocator_stats();
    void* again = sr::host::allocate(bytes);
    CHECK(again == first);
    CHECK(sr::host::allocator_stats().hits == before.hits + 1);
    void* other = sr::host::allocate(bytes + 4096);  // another size: not that block
    CHECK(other != again);
    sr::host::deallocate(other, bytes + 4096);
    sr::host::deallocate(again, bytes);
}

TEST_CASE("host allocator leaves small blocks to malloc and can release its cache", "[allocator]") {
    const auto before = sr::host::allocator_stats();
    void* small = sr::host::allocate(256);
    sr::host::deallocate(small, 256);
    const auto after = sr::host::allocator_stats();
    CHECK(after.hits == before.hits);
    CHECK(after.misses == before.misses);
    CHECK(after.cached_bytes == before.cached_bytes);
    void* big = sr::host::allocate(1 << 20);
    sr::host::deallocate(big, 1 << 20);
    CHECK(sr::host::allocator_stats().cached_bytes >= (1u << 20));
    sr::host::release_cached();
    CHECK(sr::host::allocator_stats().cached_bytes == 0);
}

TEST_CASE("host allocator counts live bytes of every size and their resettable peak, across threads", "[allocator]") {
    const std::size_t live = sr::host::allocator_stats().live_bytes;
    sr::host::reset_peak_live_bytes();
    CHECK(sr::host::allocator_stats().peak_live_bytes == live);
    void* small = sr::host::allocate(100);        // malloc'd: counted rounded to 128
    void* big = sr::host::allocate(std::size_t{1} << 20);  // cacheable
    CHECK(sr::host::allocator_stats().live_bytes == live + 128 + (1u << 20));
    sr::host::deallocate(big, std::size_t{1} << 20);
    big = sr::host::allocate(std::size_t{1} << 20);  // from the cache: counted again
    sr::host::deallocate(big, std::size_t{1} << 20);
    sr::host::deallocate(small, 100);
    CHECK(sr::host::allocator_stats().live_bytes == live);
    CHECK(sr::host::allocator_stats().peak_live_bytes == live + 128 + (1u << 20));
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([t] {
            for (int i = 0; i < 200; ++i) {
                const std::size_t bytes = (std::size_t{1} << (8 + (i + t) % 12)) + 8;
                sr::host::deallocate(sr::host::allocate(bytes), bytes);
            }
        });
    for (auto& thread : threads) thread.join();
    CHECK(sr::host::allocator_stats().live_bytes == live);
    sr::host::reset_peak_live_bytes();
    CHECK(sr::host::allocator_stats().peak_live_bytes == live);
}

TEST_CASE("host allocator: idle cached blocks are poisoned for AddressSanitizer", "[allocator]") {
#ifndef SR_HOST_ALLOCATOR_ASAN
    SR_SKIP("not an AddressSanitizer build (-DSR_SANITIZE=address,undefined)");
#else
    const std::size_t bytes = (std::size_t{5} << 20) + 12;  // an odd size no other test uses
    auto* block = static_cast<char*>(sr::host::allocate(bytes));
    REQUIRE(block != nullptr);
    CHECK_FALSE(__asan_address_is_poisoned(block));
    CHECK_FALSE(__asan_address_is_poisoned(block + bytes - 1));
    sr::host::deallocate(block, bytes);
    // In the cache now: any access is a use after free.
    CHECK(__asan_address_is_poisoned(block));
    CHECK(__asan_address_is_poisoned(block + bytes / 2));
    auto* again = static_cast<char*>(sr::host::allocate(bytes));
    REQUIRE(again == block);
    CHECK_FALSE(__asan_address_is_poisoned(again + bytes - 1));
    CHECK(__asan_address_is_poisoned(again + bytes));  // the rounding past the requested size
    sr::host::deallocate(again, bytes);
    sr::host::release_cached();
#endif
}

TEST_CASE("CPU tensors of a repeated size reuse cached storage", "[allocator]") {
    const sr::Shape shape{1, 123, 457, 7};  // 1.5 MiB, a size no other test uses
    const float* first = nullptr;
    {
        auto t = sr::Tensor<float>::zeros(shape);
        first = t.data();
    }
    const auto before = sr::host::allocator_stats();
    auto t = sr::Tensor<float>::zeros(shape);
    CHECK(t.data() == first);
    CHECK(sr::host::allocator_stats().hits == before.hits + 1);
    CHECK(t.data()[t.numel() - 1] == 0.f);  // zeros() still zeroes a reused block
}

TEST_CASE("set_num_threads applies to threads other than the caller", "[parallel]") {
    const int previous = sr::num_threads();
    sr::set_num_threads(1);
    int seen_setting = 0, seen_openmp = 0;
    std::thread worker([&] {
        seen_setting = sr::num_threads();
        seen_openmp = omp_get_max_threads();
    });
    worker.join();
    CHECK(seen_setting == 1);
    CHECK(seen_openmp == 1);  // the worker's own OpenMP state now follows the setting
    sr::set_num_threads(previous);
}

}  // namespace test_host_allocator
