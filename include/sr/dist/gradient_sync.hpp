#pragma once
// GradientSync: the gradient averaging of data-parallel training (PyTorch DDP's scheme). The
// parameters are grouped into buckets of about `bucket_elements` floats, in reverse order of
// registration (the order backward finishes them: tail first). During backward, an autograd hook
// (autograd::LeafGradientHookGuard) sees each gradient become final; when all of a bucket's are,
// they are copied into the bucket's flat buffer and a communication thread averages the buffer
// across ranks while backward goes on with the layers before. After backward, finish waits for
// the last bucket and makes each parameter's gradient a view of its averaged slice, so the
// optimizer step is the same on every rank and parameters stay bit-identical.
//
// Buckets are averaged strictly in index order, on every rank alike, so the collectives match. A
// parameter that got no gradient contributes zeros (every rank must send the same sizes). On a
// GPU (Communicator::device_buffers) the buffers live on the device and the thread enqueues NCCL on
// its communication stream (sr/cuda/nccl.hpp), which runs beside the rest of backward on the
// compute stream; finish's wait for the last bucket covers the device work too.
#include <condition_variable>
#include <cstring>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "sr/autograd/backward.hpp"
#include "sr/config.hpp"
#include "sr/dist/communicator.hpp"
#include "sr/nn/parameters.hpp"
#if SR_WITH_CUDA
#include "sr/cuda/memory.hpp"
#endif

namespace sr::dist {

template <class D>
class GradientSync {
public:
    GradientSync(Communicator& communicator, nn::ParameterList<float, D> parameters,
                 std::size_t bucket_elements = std::size_t{1} << 18)
        : m_communicator(communicator), m_parameters(std::move(parameters)) {
        SR_CHECK(communicator.device_buffers() == is_cuda_v<D>, "GradientSync: a ",
                 is_cuda_v<D> ? "GPU" : "CPU", " model needs a communicator for ", is_cuda_v<D> ? "device" : "host",
                 " buffers, got ", communicator.describe(),
                 is_cuda_v<D> ? " (training on several GPUs needs a build with NCCL)" : "");
        SR_CHECK(bucket_elements >= 1, "GradientSync: bucket_elements must be positive");
        m_slot.resize(m_parameters.size());
        for (std::size_t i = m_parameters.size(); i-- > 0;) {
            const int64_t n = m_parameters[i].tensor.numel();
            if (m_buckets.empty() || m_buckets.back().elements + n > static_cast<int64_t>(bucket_elements))
                m_buckets.push_back({});
            Bucket& bucket = m_buckets.back();
            m_slot[i] = {m_buckets.size() - 1, bucket.elements};
            bucket.members.push_back(i);
            bucket.elements += n;
            m_index[m_parameters[i].tensor.impl_ptr().get()] = i;
        }
        for (Bucket& bucket : m_buckets) bucket.buffer = Tensor<float, D>::zeros({bucket.elements});
#if SR_WITH_CUDA
        if constexpr (is_cuda_v<D>) m_device = cuda::current_device();
#endif
        m_thread = std::thread([this] { communicate(); });
    }
    ~GradientSync() {
        {
            std::lock_guard lock(m_mutex);
            m_quit = true;
        }
        m_wake.notify_all();
        m_thread.join();
    }
    GradientSync(const GradientSync&) = delete;
    GradientSync& operator=(const GradientSync&) = delete;

    std::size_t buckets() const { return m_buckets.size(); }
    // Buckets of the last step handed to the communication thread before backward returned (the
    // overlap: all but the bucket of the first layers, when the hook sees every gradient).
    std::size_t launched_during_backward() const { return m_launched_during_backward; }

    // Runs `backward` (loss.backward()) with the buckets averaged as their gradients complete, then
    // sets every parameter's gradient to the mean over ranks and replaces each of `extras` (host
    // values such as the loss) by its mean over ranks.
    void backward_and_average(const std::function<void()>& backward, std::vector<double>& extras) {
        {
            std::lock_guard lock(m_mutex);  // the thread is idle: every bucket of the last step is done
            for (Bucket& bucket : m_buckets) bucket.ready = 0, bucket.launched = false;
            m_done = 0, m_next_ready = 0, m_error = nullptr;
        }
        std::vector<bool> final_gradient(m_parameters.size(), false);
        const autograd::LeafGradientHook<float, D> hook = [&](const Tensor<float, D>& leaf) {
            const auto found = m_index.find(leaf.impl_ptr().get());
            if (found == m_index.end() || final_gradient[found->second]) return;
            final_gradient[found->second] = true;
            Bucket& bucket = m_buckets[m_slot[found->second].bucket];
            copy_in(found->second, leaf.grad());
            if (++bucket.ready == bucket.members.size()) launch(m_slot[found->second].bucket);
        };
        {
            autograd::LeafGradientHookGuard<float, D> guard(hook);
            backward();
        }
        m_launched_during_backward = 0;
        for (const Bucket& bucket : m_buckets) m_launched_during_backward += bucket.launched ? 1 : 0;
        // Parameters backward never reached: zeros, in the buckets not launched yet.
        for (std::size_t b = 0; b < m_buckets.size(); ++b) {
            if (m_buckets[b].launched) continue;
            for (std::size_t i : m_buckets[b].members)
                if (!final_gradient[i]) copy_in(i, m_parameters[i].tensor.grad());
            launch(b);
        }
        {
            std::unique_lock lock(m_mutex);
            m_finished.wait(lock, [&] { return m_done == m_buckets.size() || m_error; });
            if (m_error) std::rethrow_exception(m_error);
        }
        for (std::size_t i = 0; i < m_parameters.size(); ++i) {
            const auto& tensor = m_parameters[i].tensor;
            tensor.zero_grad();
            tensor.accumulate_grad(slice(i));
        }
        if (!extras.empty()) {
            m_communicator.allreduce_sum(extras.data(), extras.size(), "the loss allreduce");
            for (double& value : extras) value /= static_cast<double>(m_communicator.size());
        }
    }

private:
    struct Bucket {
        std::vector<std::size_t> members;  // parameter indices
        int64_t elements = 0;
        Tensor<float, D> buffer;           // [elements]
        std::size_t ready = 0;
        bool launched = false;
    };
    struct Slot {
        std::size_t bucket = 0;
        int64_t offset = 0;
    };

    Tensor<float, D> slice(std::size_t i) const {
        const Slot slot = m_slot[i];
        const auto& tensor = m_parameters[i].tensor;
        return m_buckets[slot.bucket].buffer.slice_batch(slot.offset, slot.offset + tensor.numel()).reshape(tensor.shape());
    }

    void copy_in(std::size_t i, const Tensor<float, D>& grad) {
        if (grad.defined())
            grad.contiguous().copy_to(slice(i));
        else
            slice(i).fill_(0.f);
    }

    void launch(std::size_t b) {
        {
            std::lock_guard lock(m_mutex);
            m_buckets[b].launched = true;
        }
        m_wake.notify_all();
    }

    // The communication thread: averages bucket 0, 1, 2, ... in order, each once it is launched.
    void communicate() {
#if SR_WITH_CUDA
        if constexpr (is_cuda_v<D>) cuda::set_device(m_device);
#endif
        std::unique_lock lock(m_mutex);
        for (;;) {
            m_wake.wait(lock, [&] { return m_quit || (m_next_ready < m_buckets.size() && m_buckets[m_next_ready].launched); });
            if (m_quit) return;
            Bucket& bucket = m_buckets[m_next_ready];
            lock.unlock();
            std::exception_ptr error;
            try {
                m_communicator.allreduce_average(bucket.buffer.data(), static_cast<std::size_t>(bucket.elements),
                                                 "the gradient allreduce");
            } catch (...) {
                error = std::current_exception();
            }
            lock.lock();
            if (error) m_error = error;
            ++m_next_ready, ++m_done;
            m_finished.notify_all();
        }
    }

    Communicator& m_communicator;
    nn::ParameterList<float, D> m_parameters;
    std::vector<Bucket> m_buckets;
    std::vector<Slot> m_slot;                             // per parameter
    std::unordered_map<const void*, std::size_t> m_index;  // tensor impl -> parameter index
    int m_device = 0;
    std::size_t m_launched_during_backward = 0;
    std::mutex m_mutex;
    std::condition_variable m_wake, m_finished;
    std::size_t m_next_ready = 0, m_done = 0;
    bool m_quit = false;
    std::exception_ptr m_error;
    std::thread m_thread;
};

}  // namespace sr::dist
