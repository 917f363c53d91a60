#pragma once
// NCCL on the engine's streams (kernels/nccl.cu, built when NCCL and MPI are found: SR_WITH_NCCL):
// the collectives of data-parallel training on GPUs. One communicator per process (one GPU each),
// made from an id that rank 0 creates and the caller hands to every rank (sr/dist/
// nccl_communicator.hpp sends it with MPI). Buffers are device pointers on the current device.
// Collectives run on a communication stream of their own, ordered after the work enqueued on the
// compute stream when they are called (the kernels that produced the data), so gradient buckets
// are averaged while the compute stream goes on with the rest of backward (PyTorch DDP's
// overlap). Whoever reads the result waits for nccl_done() first (the host polls it; work
// enqueued on the compute stream after that sees the result).
#include <array>
#include <cstddef>

namespace sr::cuda {

// ncclUniqueId's bytes (NCCL_UNIQUE_ID_BYTES).
using NcclId = std::array<char, 128>;

NcclId nccl_make_id();
// Joins the communicator of `size` ranks as `rank` on the current device; replaces an earlier one.
void nccl_init(const NcclId& id, int rank, int size);
// Leaves it at once, cancelling what is in flight (after a peer failed), or cleanly at the end.
void nccl_abort();
void nccl_finalize();
// data[i] = mean over ranks of data[i], in place, for i < count (float device memory).
void nccl_allreduce_average(float* data, std::size_t count);
// Root's `bytes` bytes at `data` (device memory) to every rank.
void nccl_broadcast(void* data, std::size_t bytes, int root);
// Whether the collectives enqueued so far (on the communication stream) have finished, raising a
// failure NCCL reported (a peer that died); polled so the caller can give up after a timeout.
bool nccl_done();

}  // namespace sr::cuda
