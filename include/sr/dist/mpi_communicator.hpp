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
// Naming the rank that hangs: a rank that times out first asks every other rank where it is, on a
// second communicator of its own; a rank answers (the number and name of the collective it waits
// in) whenever it polls a collective. A rank that does not answer within a grace period is the one
// that hangs (stopped, deadlocked, or stuck outside every collective); one that answers with an
// earlier or later collective took another path. Queries are sent only after a timeout, so a
// healthy run pays one MPI_Iprobe per poll of a collective that is already slow (past its spin
// phase), nothing else.
#include "sr/config.hpp"

#if SR_WITH_MPI
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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
        check(MPI_Comm_dup(MPI_COMM_WORLD, &m_status_comm), "MPI_Comm_dup");
        MPI_Comm_set_errhandler(m_comm, MPI_ERRORS_RETURN);
        MPI_Comm_set_errhandler(m_status_comm, MPI_ERRORS_RETURN);
        MPI_Comm_rank(m_comm, &m_rank);
        MPI_Comm_size(m_comm, &m_size);
        char version[MPI_MAX_LIBRARY_VERSION_STRING];
        int length = 0;
        MPI_Get_library_version(version, &length);
        m_library = std::string(version, static_cast<std::size_t>(std::max(0, length)));
        m_library = m_library.substr(0, m_library.find_first_of(",\n"));
    }
    ~MpiCommunicator() override {
        for (auto& answer : m_answers) MPI_Wait(&answer.request, MPI_STATUS_IGNORE);
        MPI_Comm_free(&m_status_comm);
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
        ++m_sequence;
        m_current = what;
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
            answer_queries();
            std::this_thread::sleep_for(std::chrono::microseconds(polls < 2000 ? 20 : 200));
            const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
            if (waited > m_timeout_seconds) {
                const std::string peers = locate_peers();
                std::fprintf(stderr,
                             "sr: rank %d of %d: %s (collective #%lld) did not complete within %.0f s "
                             "(--dist-timeout): %s; ending all ranks\n",
                             m_rank, m_size, what, static_cast<long long>(m_sequence), m_timeout_seconds, peers.c_str());
                abort(3);
            }
        }
    }

    // Where a rank is: the collective it waits in (numbered from 1 in the order all ranks call
    // them) and its name.
    struct Position {
        long long sequence = 0;
        char what[96] = {};
    };
    static constexpr int k_query_tag = 1, k_answer_tag = 2;

    // Answers every pending "where are you" query (non-blocking sends; buffers kept until done).
    void answer_queries() {
        for (;;) {
            int pending = 0;
            MPI_Status status;
            if (MPI_Iprobe(MPI_ANY_SOURCE, k_query_tag, m_status_comm, &pending, &status) != MPI_SUCCESS || !pending) break;
            int query = 0;
            MPI_Recv(&query, 1, MPI_INT, status.MPI_SOURCE, k_query_tag, m_status_comm, MPI_STATUS_IGNORE);
            Answer& answer = m_answers.emplace_back();
            answer.position.sequence = m_sequence;
            std::strncpy(answer.position.what, m_current, sizeof answer.position.what - 1);
            MPI_Isend(&answer.position, sizeof(Position), MPI_BYTE, status.MPI_SOURCE, k_answer_tag, m_status_comm,
                      &answer.request);
        }
        while (!m_answers.empty()) {
            int done = 0;
            MPI_Test(&m_answers.front().request, &done, MPI_STATUS_IGNORE);
            if (!done) break;
            m_answers.pop_front();
        }
    }

    // Asks every other rank where it is and describes, for the timeout message, the ranks that are
    // not in this collective: those that do not answer within a grace period, and those that wait
    // in another one.
    std::string locate_peers() {
        std::vector<MPI_Request> queries;
        static const int query = 0;  // outlives the sends, which are never waited for
        for (int peer = 0; peer < m_size; ++peer) {
            if (peer == m_rank) continue;
            queries.emplace_back();
            MPI_Isend(&query, 1, MPI_INT, peer, k_query_tag, m_status_comm, &queries.back());
        }
        std::vector<Position> positions(static_cast<std::size_t>(m_size));
        std::vector<bool> answered(static_cast<std::size_t>(m_size), false);
        answered[static_cast<std::size_t>(m_rank)] = true;
        int missing = m_size - 1;
        const double grace = std::min(5.0, m_timeout_seconds);
        const auto begin = std::chrono::steady_clock::now();
        while (missing > 0 && std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count() < grace) {
            answer_queries();  // a peer that timed out too asks this rank
            int pending = 0;
            MPI_Status status;
            if (MPI_Iprobe(MPI_ANY_SOURCE, k_answer_tag, m_status_comm, &pending, &status) == MPI_SUCCESS && pending) {
                const auto peer = static_cast<std::size_t>(status.MPI_SOURCE);
                MPI_Recv(&positions[peer], sizeof(Position), MPI_BYTE, status.MPI_SOURCE, k_answer_tag, m_status_comm,
                         MPI_STATUS_IGNORE);
                if (!answered[peer]) --missing;
                answered[peer] = true;
                continue;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        std::string silent, elsewhere;
        int silent_count = 0;
        for (int peer = 0; peer < m_size; ++peer) {
            const auto p = static_cast<std::size_t>(peer);
            if (!answered[p]) {
                silent += (silent.empty() ? "" : ", ") + std::to_string(peer);
                ++silent_count;
            } else if (peer != m_rank && positions[p].sequence != m_sequence) {
                positions[p].what[sizeof positions[p].what - 1] = '\0';
                elsewhere += (elsewhere.empty() ? "" : "; ") + std::string("rank ") + std::to_string(peer) +
                             " waits in " + positions[p].what + " (collective #" + std::to_string(positions[p].sequence) + ")";
            }
        }
        std::string text;
        if (silent_count > 0)
            text = (silent_count == 1 ? "rank " : "ranks ") + silent + (silent_count == 1 ? " does" : " do") +
                   " not answer (hung, or stuck outside the training's collectives)";
        if (!elsewhere.empty()) text += (text.empty() ? "" : "; ") + elsewhere;
        if (text.empty()) text = "every other rank waits in it too (the MPI library or the network hangs)";
        for (auto& request : queries) MPI_Request_free(&request);
        return text;
    }

    double m_timeout_seconds;
    bool m_owns_mpi = false;
    MPI_Comm m_comm = MPI_COMM_NULL;
    MPI_Comm m_status_comm = MPI_COMM_NULL;  // "where are you" queries and answers (locate_peers)
    long long m_sequence = 0;                // collectives started, the same count on every rank
    const char* m_current = "";              // the name of the last one
    struct Answer {
        Position position;
        MPI_Request request = MPI_REQUEST_NULL;
    };
    std::deque<Answer> m_answers;  // answers being sent (their buffers must outlive the send)
    int m_rank = 0, m_size = 1;
    std::string m_library;
    std::mutex m_mutex;
};

}  // namespace sr::dist
#endif  // SR_WITH_MPI
