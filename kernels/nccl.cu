// NCCL collectives on the compute stream (sr/cuda/nccl.hpp). Non-blocking communicator
// (ncclConfig blocking = 0) so a rank whose peer died can poll, time out and abort instead of
// hanging inside NCCL.
#include <nccl.h>

#include <cstring>

#include "check.cuh"
#include "sr/cuda/nccl.hpp"
#include "stream.cuh"

namespace sr::cuda {
namespace {

ncclComm_t g_comm = nullptr;

void check_nccl(ncclResult_t result, const char* call) {
    if (result != ncclSuccess && result != ncclInProgress)
        ::sr::fail("NCCL error in ", call, ": ", ncclGetErrorString(result),
                   g_comm ? "" : " (no communicator: nccl_init first)");
}

// A non-blocking communicator answers ncclInProgress until the call has been issued.
void wait_issued(const char* call) {
    ncclResult_t state = ncclInProgress;
    while (state == ncclInProgress) check_nccl(ncclCommGetAsyncError(g_comm, &state), call);
    check_nccl(state, call);
}

ncclComm_t comm(const char* call) {
    if (!g_comm) ::sr::fail("NCCL: ", call, " before nccl_init");
    return g_comm;
}

}  // namespace

NcclId nccl_make_id() {
    static_assert(sizeof(ncclUniqueId) == sizeof(NcclId), "NcclId must hold ncclUniqueId");
    ncclUniqueId id;
    check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    NcclId out;
    std::memcpy(out.data(), &id, sizeof id);
    return out;
}

void nccl_init(const NcclId& id, int rank, int size) {
    if (g_comm) nccl_finalize();
    ncclUniqueId unique;
    std::memcpy(&unique, id.data(), sizeof unique);
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    check_nccl(ncclCommInitRankConfig(&g_comm, size, unique, rank, &config), "ncclCommInitRankConfig");
    wait_issued("ncclCommInitRankConfig");
}

void nccl_abort() {
    if (!g_comm) return;
    ncclCommAbort(g_comm);
    g_comm = nullptr;
}

void nccl_finalize() {
    if (!g_comm) return;
    check_nccl(ncclCommFinalize(g_comm), "ncclCommFinalize");
    wait_issued("ncclCommFinalize");
    check_nccl(ncclCommDestroy(g_comm), "ncclCommDestroy");
    g_comm = nullptr;
}

void nccl_allreduce_average(float* data, std::size_t count) {
    check_nccl(ncclAllReduce(data, data, count, ncclFloat32, ncclAvg, comm("allreduce"), detail::compute_stream()),
               "ncclAllReduce");
    wait_issued("ncclAllReduce");
}

void nccl_broadcast(void* data, std::size_t bytes, int root) {
    check_nccl(ncclBroadcast(data, data, bytes, ncclUint8, root, comm("broadcast"), detail::compute_stream()),
               "ncclBroadcast");
    wait_issued("ncclBroadcast");
}

bool nccl_done() {
    ncclResult_t state = ncclSuccess;
    check_nccl(ncclCommGetAsyncError(comm("poll"), &state), "ncclCommGetAsyncError");
    check_nccl(state, "a collective (a peer failed?)");
    const cudaError_t query = cudaStreamQuery(detail::compute_stream());
    if (query == cudaErrorNotReady) return false;
    SR_CUDA_CHECK(query);
    return true;
}

}  // namespace sr::cuda
