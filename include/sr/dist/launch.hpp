#pragma once
// make_communicator: the Communicator for how this process was started. Under mpirun (Open MPI
// sets OMPI_COMM_WORLD_SIZE) or srun/another PMI launcher (PMI_SIZE, PMIX_RANK) with MPI built in,
// the MPI backend; a GPU run on several ranks with NCCL built in, the NCCL backend. A process
// started alone gets SingleProcess, so a build without MPI trains exactly as before.
#include <cstdlib>
#include <memory>
#include <string>

#include "sr/config.hpp"
#include "sr/core/error.hpp"
#include "sr/dist/communicator.hpp"
#include "sr/dist/mpi_communicator.hpp"
#include "sr/dist/nccl_communicator.hpp"

namespace sr::dist {

// The number of processes the launcher says it started (0: not started by an MPI launcher).
inline int launcher_world_size() {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MV2_COMM_WORLD_SIZE"})
        if (const char* value = std::getenv(name); value && *value) return std::atoi(value);
    if (std::getenv("PMIX_RANK")) return -1;  // PMIx without a size variable: MPI will say
    return 0;
}

// This process's rank and its index among the ranks on its machine, as the launcher says (0 when
// not started by one); known before MPI is initialised, for messages and for choosing a GPU.
inline int launcher_rank() {
    for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID"})
        if (const char* value = std::getenv(name); value && *value) return std::atoi(value);
    return 0;
}
inline int launcher_local_rank() {
    for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"})
        if (const char* value = std::getenv(name); value && *value) return std::atoi(value);
    return 0;
}

// `timeout_seconds`: how long a collective may wait for the other ranks (--dist-timeout).
// `device_gradients`: the model trains on a GPU, so gradients are device buffers (NCCL).
inline std::unique_ptr<Communicator> make_communicator(double timeout_seconds, bool device_gradients) {
    const int launched = launcher_world_size();
    if (launched == 0) return std::make_unique<SingleProcess>();
#if SR_WITH_MPI
    auto mpi = std::make_unique<MpiCommunicator>(timeout_seconds);
    if (mpi->size() == 1) return mpi;
    if (device_gradients) {
#if SR_WITH_NCCL
        return std::make_unique<NcclCommunicator>(std::move(mpi));
#else
        fail("training on ", mpi->size(), " GPUs needs NCCL, and this sr was built without it (NCCL not found at "
             "configuration: set NCCL_ROOT, or install nvidia-nccl-cu13)");
#endif
    }
    return mpi;
#else
    (void)timeout_seconds, (void)device_gradients;
    if (launched == 1) return std::make_unique<SingleProcess>();
    fail("started by an MPI launcher as one of ", launched, " processes, but this sr was built without MPI "
         "(apt-get install libopenmpi-dev openmpi-bin, then configure with -DSR_WITH_MPI=ON)");
#endif
}

}  // namespace sr::dist
