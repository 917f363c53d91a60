// sr::ThreadPool: results and exceptions reach the futures, queued work is finished before the
// destructor returns, and several threads may submit at once. Built and run under ThreadSanitizer
// in CI (docs/reliability.md, "Sanitizers"), where a missing lock in the pool is a report.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "sr/core/error.hpp"
#include "sr/core/thread_pool.hpp"

namespace test_thread_pool {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

TEST_CASE("ThreadPool: every task runs once and its future carries its result", "[thread_pool]") {
    sr::ThreadPool pool(3);
    CHECK(pool.size() == 3);
    std::vector<int> hits(200, 0);  // each task writes only its own slot; the futures publish it
    std::vector<std::future<int>> results;
    for (int i = 0; i < 200; ++i)
        results.push_back(pool.submit([i, &hits] {
            ++hits[i];
            return i * i;
        }));
    for (int i = 0; i < 200; ++i) CHECK(results[i].get() == i * i);
    for (int i = 0; i < 200; ++i) CHECK(hits[i] == 1);
}

TEST_CASE("ThreadPool: an exception of a task reaches its future, the pool goes on", "[thread_pool]") {
    sr::ThreadPool pool(2);
    auto failing = pool.submit([]() -> int { throw std::runtime_error("task failed on purpose"); });
    auto fine = pool.submit([] { return 7; });
    CHECK_THROWS_WITH(failing.get(), "task failed on purpose");
    CHECK(fine.get() == 7);
    CHECK(pool.submit([] { return 8; }).get() == 8);
}

TEST_CASE("ThreadPool: the destructor finishes the queued tasks before joining", "[thread_pool]") {
    std::atomic<int> done{0};
    {
        sr::ThreadPool pool(1);
        // The first task holds the only worker, so the others are still queued at destruction.
        for (int i = 0; i < 20; ++i)
            pool.submit([&done, i] {
                if (i == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
                done.fetch_add(1);
            });
    }
    CHECK(done.load() == 20);
}

TEST_CASE("ThreadPool: several threads submit at once", "[thread_pool]") {
    sr::ThreadPool pool(2);
    std::atomic<long> sum{0};
    std::vector<std::vector<std::future<void>>> futures(4);
    std::vector<std::thread> submitters;
    for (int t = 0; t < 4; ++t)
        submitters.emplace_back([&, t] {
            for (int i = 1; i <= 100; ++i) futures[t].push_back(pool.submit([&sum, i] { sum.fetch_add(i); }));
        });
    for (auto& s : submitters) s.join();
    for (auto& per_thread : futures)
        for (auto& f : per_thread) f.get();
    CHECK(sum.load() == 4 * 5050);
}

TEST_CASE("ThreadPool: zero threads is refused with a message", "[thread_pool]") {
    CHECK_THROWS_AS(sr::ThreadPool(0), sr::Error);
    CHECK_THROWS_WITH(sr::ThreadPool(0), Catch::Contains("at least one thread"));
}

}  // namespace test_thread_pool
