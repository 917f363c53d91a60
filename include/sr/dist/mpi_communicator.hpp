#pragma once
// Communicator on MPI (Open MPI from Debian's libopenmpi-dev; any MPI-3 library works): the ranks
// of MPI_COMM_WORLD, started by mpirun or srun. Host buffers only.
//
// Threads: MPI is initialised MPI_THREAD_SERIALIZED and every call holds this object's mutex, so
// the gradient thread of GradientSync and the training thread may both use it (never at once).
// Timeout: each collective is started non-blocking and polled (with short sleeps, so a waiting rank
// leaves the CPU to the compute threads); when it has not completed after `timeout_seconds`, a
// peer died or hangs, and this rank prints which operation it waited in and calls MPI_Abort, which
// ends every rank of the job with a non-zero status. A rank that exits without MPI_Finalize (a
// crash, kill -9, an error) makes mpirun end the others itself and name it.
#include "sr/config.hpp"

#if SR_WITH_MPI
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

#include "sr/core/error.hpp"
#include "sr/dist/communicator.hpp"

namespace sr::dist {

class MpiCommunicator final : public Communicator {
public:
    explicit MpiCommunicator(double timeout_seconds) : m_timeout_seconds(timeout_seconds) {
        SR_CHECK(timeout_seconds > 0, "--dist-timeout must be positive, got ", timeout_seconds);
        int initialized = 0;
        MPI_Initialized(&initialized);
        if (!initialized) {
            int provided = 0;
            check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
            SR_CHECK(provided >= MPI_THREAD_SERIALIZED, "MPI: this MPI library offers thread level ", provided,
                     ", sr needs MPI_THREAD_SERIALIZED (", MPI_THREAD_SERIALIZED, ")");
            m_owns_mpi = true;
        }
        check(MPI_Comm_dup(MPI_COMM_WORLD, &m_comm), "MPI_Comm_dup");
        MPI_Comm_set_errhandler(m_comm, MPI_ERRORS_RETURN);
        MPI_Comm_rank(m_comm, &m_rank);
        MPI_Comm_size(m_comm, &m_size);
        char version[MPI_MAX_LIBRARY_VERSION_STRING];
        int length = 0;
        MPI_Get_library_version(version, &length);
        m_library = std::string(version, static_cast<std::size_t>(std::max(0, length)));
        m_library = m_library.substr(0, m_library.find_first_of(",\n"));
    }
    ~MpiCommunicator() override {
        MPI_Comm_free(&m_comm);
        if (m_owns_mpi) MPI_Finalize();
    }
    MpiCommunicator(const MpiCommunicator&) = delete;
    MpiCommunicator& operator=(const MpiCommunicator&) = delete;

    int rank() const override { return m_rank; }
    int size() const override { return m_size; }
    std::string describe() const override { return "MPI (" + m_library + ")"; }
    double timeout_seconds() const { return m_timeout_seconds; }

    void allreduce_average(float* data, std::size_t count, const char* what) override {
        for (std::size_t done = 0; done < count;) {
            const int part = static_cast<int>(std::min<std::size_t>(count - done, INT_MAX));
            collective(what, [&](MPI_Request* request) {
                return MPI_Iallreduce(MPI_IN_PLACE, data + done, part, MPI_FLOAT, MPI_SUM, m_comm, request);
            });
            done += static_cast<std::size_t>(part);
        }
        const float scale = 1.0f / static_cast<float>(m_size);
        for (std::size_t i = 0; i < count; ++i) data[i] *= scale;
    }

    void allreduce_sum(double* data, std::size_t count, const char* what) override {
        SR_CHECK(count <= INT_MAX, "MPI allreduce of ", count, " doubles: at most ", INT_MAX);
        collective(what, [&](MPI_Request* request) {
            return MPI_Iallreduce(MPI_IN_PLACE, data, static_cast<int>(count), MPI_DOUBLE, MPI_SUM, m_comm, request);
        });
    }

    void broadcast(void* data, std::size_t bytes, int root, const char* what) override {
        auto* bytes_data = static_cast<char*>(data);
        for (std::size_t done = 0; done < bytes;) {
            const int part = static_cast<int>(std::min<std::size_t>(bytes - done, INT_MAX));
            collective(what, [&](MPI_Request* request) {
                return MPI_Ibcast(bytes_data + done, part, MPI_BYTE, root, m_comm, request);
            });
            done += static_cast<std::size_t>(part);
        }
    }

    void barrier(const char* what) override {
        collective(what, [&](MPI_Request* request) { return MPI_Ibarrier(m_comm, request); });
    }

    [[noreturn]] void abort(int status) override {
        std::fflush(stdout);
        std::fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, status);
        std::_Exit(status);
    }

private:
    void check(int code, const char* call) const {
        if (code == MPI_SUCCESS) return;
        char text[MPI_MAX_ERROR_STRING];
        int length = 0;
        MPI_Error_string(code, text, &length);
        fail("MPI error in ", call, " on rank ", m_rank, ": ", std::string(text, static_cast<std::size_t>(length)));
    }

    // Starts a non-blocking collective and polls it until done, or aborts the job at the timeout.
    template <class Start>
    void collective(const char* what, Start start) {
        std::lock_guard lock(m_mutex);
        MPI_Request request = MPI_REQUEST_NULL;
        check(start(&request), what);
        const auto begin = std::chrono::steady_clock::now();
        for (int polls = 0;; ++polls) {
            int done = 0;
            check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), what);
            if (done) return;
            // Spin briefly (a peer a few microseconds behind), then sleep between polls: an idle
            // waiting rank must not take the cores the compute threads need.
            if (polls < 200) continue;
            std::this_thread::sleep_for(std::chrono::microseconds(polls < 2000 ? 20 : 200));
            const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
            if (waited > m_timeout_seconds) {
                std::fprintf(stderr,
                             "sr: rank %d of %d: %s did not complete within %.0f s (--dist-timeout): another rank "
                             "died or hangs; ending all ranks\n",
                             m_rank, m_size, what, m_timeout_seconds);
                abort(3);
            }
        }
    }

    double m_timeout_seconds;
    bool m_owns_mpi = false;
    MPI_Comm m_comm = MPI_COMM_NULL;
    int m_rank = 0, m_size = 1;
    std::string m_library;
    std::mutex m_mutex;
};

}  // namespace sr::dist
#endif  // SR_WITH_MPI
