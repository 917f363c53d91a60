#pragma once
// Communicator: what data-parallel training needs of the processes it runs on. `size` processes
// (ranks) each run the same program; collectives are called by every rank in the same order with
// the same sizes, and block until all ranks took part. Backends: SingleProcess (here: one rank,
// nothing to exchange), Mpi (sr/dist/mpi_communicator.hpp: host buffers, Open MPI), Nccl
// (sr/dist/nccl_communicator.hpp: device buffers, MPI for the rest). make_communicator
// (sr/dist/launch.hpp) picks one from how the process was started.
//
// Failure: a collective that has not completed within the backend's timeout (another rank died or
// hangs) ends every rank with a non-zero status and a line naming this rank and the operation;
// abort() does the same after an error on this rank, so no rank waits forever for a dead peer.
#include <cstddef>
#include <cstdlib>
#include <string>

namespace sr::dist {

class Communicator {
public:
    virtual ~Communicator() = default;
    virtual int rank() const = 0;
    virtual int size() const = 0;
    // "single process", "MPI (Open MPI v4.1.4)", ...
    virtual std::string describe() const = 0;
    // Whether the float collectives take device (CUDA) pointers rather than host ones.
    virtual bool device_buffers() const { return false; }

    // data[i] = mean over ranks of data[i], in place. `what` names the operation in a timeout error.
    virtual void allreduce_average(float* data, std::size_t count, const char* what) = 0;
    // data[i] = sum over ranks of data[i], in place (host memory, every backend).
    virtual void allreduce_sum(double* data, std::size_t count, const char* what) = 0;
    // Root's `bytes` bytes at `data` (host memory) to every rank.
    virtual void broadcast(void* data, std::size_t bytes, int root, const char* what) = 0;
    virtual void barrier(const char* what) = 0;
    // Ends all ranks with `status` at once (this rank hit an error the others cannot see).
    [[noreturn]] virtual void abort(int status) = 0;

    bool is_writer() const { return rank() == 0; }  // the one rank that writes files
};

// One process: the collectives have nothing to exchange.
class SingleProcess final : public Communicator {
public:
    int rank() const override { return 0; }
    int size() const override { return 1; }
    std::string describe() const override { return "single process"; }
    void allreduce_average(float*, std::size_t, const char*) override {}
    void allreduce_sum(double*, std::size_t, const char*) override {}
    void broadcast(void*, std::size_t, int, const char*) override {}
    void barrier(const char*) override {}
    [[noreturn]] void abort(int status) override { std::exit(status); }
};

}  // namespace sr::dist
