#pragma once
// Communicator for training on several GPUs, one per rank: the float allreduce of gradients runs
// on device buffers through NCCL (sr/cuda/nccl.hpp, on a stream of its own beside the compute
// stream), everything else (host broadcasts, checksums, barriers) and the bootstrap go through
// MPI: rank 0 makes the NCCL id and broadcasts it. Timeout: the host waits for an allreduce by polling, and after the timeout
// aborts NCCL and the MPI job (a peer died or hangs), as the MPI backend does.
#include "sr/config.hpp"

#if SR_WITH_NCCL && SR_WITH_MPI
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include "sr/cuda/nccl.hpp"
#include "sr/dist/mpi_communicator.hpp"

namespace sr::dist {

class NcclCommunicator final : public Communicator {
public:
    // Call with the rank's GPU already current (sr::cuda::set_device).
    explicit NcclCommunicator(std::unique_ptr<MpiCommunicator> mpi) : m_mpi(std::move(mpi)) {
        cuda::NcclId id{};
        if (m_mpi->rank() == 0) id = cuda::nccl_make_id();
        m_mpi->broadcast(id.data(), id.size(), 0, "NCCL id exchange");
        cuda::nccl_init(id, m_mpi->rank(), m_mpi->size());
    }
    ~NcclCommunicator() override { cuda::nccl_finalize(); }

    int rank() const override { return m_mpi->rank(); }
    int size() const override { return m_mpi->size(); }
    std::string describe() const override { return "NCCL, bootstrapped by " + m_mpi->describe(); }
    bool device_buffers() const override { return true; }

    void allreduce_average(float* device_data, std::size_t count, const char* what) override {
        cuda::nccl_allreduce_average(device_data, count);
        const auto begin = std::chrono::steady_clock::now();
        while (!cuda::nccl_done()) {
            std::this_thread::sleep_for(std::chrono::microseconds(50));
            const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
            if (waited > m_mpi->timeout_seconds()) {
                std::fprintf(stderr,
                             "sr: rank %d of %d: %s (NCCL) did not complete within %.0f s (--dist-timeout): another "
                             "rank died or hangs; ending all ranks\n",
                             rank(), size(), what, m_mpi->timeout_seconds());
                abort(3);
            }
        }
    }
    void allreduce_sum(double* data, std::size_t count, const char* what) override { m_mpi->allreduce_sum(data, count, what); }
    void broadcast(void* data, std::size_t bytes, int root, const char* what) override {
        m_mpi->broadcast(data, bytes, root, what);
    }
    void barrier(const char* what) override { m_mpi->barrier(what); }
    [[noreturn]] void abort(int status) override {
        cuda::nccl_abort();
        m_mpi->abort(status);
    }

private:
    std::unique_ptr<MpiCommunicator> m_mpi;
};

}  // namespace sr::dist
#endif
