// NCCL collectives on a communication stream of their own (sr/cuda/nccl.hpp). Non-blocking
// communicator (ncclConfig blocking = 0) so a rank whose peer died can poll, time out and abort
// instead of hanging inside NCCL.
#include <nccl.h>

#include <cstring>

#include "check.cuh"
#include "sr/cuda/nccl.hpp"
#include "stream.cuh"

namespace sr::cuda {
namespace {

ncclComm_t g_comm = nullptr;
// The communication stream (high priority, so a bucket's allreduce starts as soon as an SM is
// free between backward kernels) and the event that orders it after the compute stream's work.
cudaStream_t g_stream = nullptr;
cudaEvent_t g_ready = nullptr;

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
    if (!g_stream) {
        int least = 0, greatest = 0;
        SR_CUDA_CHECK(cudaDeviceGetStreamPriorityRange(&least, &greatest));
        SR_CUDA_CHECK(cudaStreamCreateWithPriority(&g_stream, cudaStreamNonBlocking, greatest));
        SR_CUDA_CHECK(cudaEventCreateWithFlags(&g_ready, cudaEventDisableTiming));
    }
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

// The communication stream waits for everything enqueued on the compute stream so far (the copies
// that filled the buffer, and any backward kernels after them: cheap to wait for, and never
// wrong), while later compute work does not wait for the collective.
static cudaStream_t after_compute(const char* call) {
    comm(call);
    SR_CUDA_CHECK(cudaEventRecord(g_ready, detail::compute_stream()));
    SR_CUDA_CHECK(cudaStreamWaitEvent(g_stream, g_ready, 0));
    return g_stream;
}

void nccl_allreduce_average(float* data, std::size_t count) {
    const cudaStream_t stream = after_compute("allreduce");
    check_nccl(ncclAllReduce(data, data, count, ncclFloat32, ncclAvg, g_comm, stream), "ncclAllReduce");
    wait_issued("ncclAllReduce");
}

void nccl_broadcast(void* data, std::size_t bytes, int root) {
    const cudaStream_t stream = after_compute("broadcast");
    check_nccl(ncclBroadcast(data, data, bytes, ncclUint8, root, g_comm, stream), "ncclBroadcast");
    wait_issued("ncclBroadcast");
}

bool nccl_done() {
    ncclResult_t state = ncclSuccess;
    check_nccl(ncclCommGetAsyncError(comm("poll"), &state), "ncclCommGetAsyncError");
    check_nccl(state, "a collective (a peer failed?)");
    if (!g_stream) return true;
    const cudaError_t query = cudaStreamQuery(g_stream);
    if (query == cudaErrorNotReady) return false;
    SR_CUDA_CHECK(query);
    return true;
}

}  // namespace sr::cuda
