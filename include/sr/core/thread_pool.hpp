#pragma once
// A fixed pool of worker threads for coarse tasks (decoding images, preparing batches, writing
// files). Ops use OpenMP instead (sr/core/parallel.hpp); this pool is for work beside them.
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <queue>
#include <thread>
#include <type_traits>
#include <vector>

#include "sr/core/error.hpp"

namespace sr {

class ThreadPool {
public:
    explicit ThreadPool(int threads) {
        SR_CHECK(threads >= 1, "ThreadPool: needs at least one thread, got ", threads);
        for (int i = 0; i < threads; ++i) m_workers.emplace_back([this] { work(); });
    }
    ~ThreadPool() {
        {
            std::lock_guard lock(m_mutex);
            m_stopping = true;
        }
        m_ready.notify_all();
        for (auto& w : m_workers) w.join();
    }
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return static_cast<int>(m_workers.size()); }

    // Queues f(); the future carries its result or its exception.
    template <class F>
    auto submit(F&& f) -> std::future<std::invoke_result_t<F>> {
        using R = std::invoke_result_t<F>;
        auto task = std::make_shared<std::packaged_task<R()>>(std::forward<F>(f));
        std::future<R> result = task->get_future();
        {
            std::lock_guard lock(m_mutex);
            SR_CHECK(!m_stopping, "ThreadPool: submit after shutdown");
            m_tasks.emplace([task] { (*task)(); });
        }
        m_ready.notify_one();
        return result;
    }

private:
    void work() {
        for (;;) {
            std::function<void()> task;
            {
                std::unique_lock lock(m_mutex);
                m_ready.wait(lock, [this] { return m_stopping || !m_tasks.empty(); });
                if (m_tasks.empty()) return;
                task = std::move(m_tasks.front());
                m_tasks.pop();
            }
            task();
        }
    }

    std::vector<std::thread> m_workers;
    std::queue<std::function<void()>> m_tasks;
    std::mutex m_mutex;
    std::condition_variable m_ready;
    bool m_stopping = false;
};

}  // namespace sr
