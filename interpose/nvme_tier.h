/* nvme_tier.h — the SSD tier as a residency backing (nvme_tier.c): where the movers in
 * residency.c and the backing calls in res_backing.c hand chunks to the spill file (nvme.h).
 * Every function runs with hmt_move_lock held (they are called only by movers).
 *
 * Which chunks go to the spill file:
 *   - chunks the hints place on SSD (hmt_hints_tier_of() == HMT_TIER_SSD): staged through a
 *     host slot by the ordinary copy-out, then written to the spill file and the slot freed;
 *   - under HMT_HOST_LIMIT, host-tier chunks that overflow: when the host pool has no slot
 *     left, the least recently used evicted host-tier chunks are written to the spill file
 *     to free theirs.
 * A chunk whose write fails stays in the host tier (invariant 4). A chunk whose read fails
 * fails the operation that needed it (CUDA_ERROR_UNKNOWN), with one line naming its tensor
 * (or allocation); its bytes stay in the spill file, so a later operation may still succeed.
 * Bytes always pass through host-pool slots on the way to and from the spill file (they are
 * pinned and registered with io_uring), so HMT_HOST_LIMIT must leave room for a few chunks;
 * in emulated mode (HMT_MODE=emulated) no bytes move and nothing here runs.
 */
#ifndef HMT_INTERPOSE_NVME_TIER_H
#define HMT_INTERPOSE_NVME_TIER_H

#include "residency.h"

/* A host slot was just reserved for c's copy-out (c->backing is CPU-tier): remember whether
 * c goes on to the spill file. */
void hmt_nvme_tier_reserved(struct hmt_chunk *c);
/* c's copy-out was just enqueued on the copy stream: mark its end (an event). */
void hmt_nvme_tier_stored(struct hmt_chunk *c);
/* After move_out enqueued every copy-out of the round: writes the staged SSD chunks to the
 * spill file as their copies complete (pipelined), then frees their host slots. */
void hmt_nvme_tier_spill(void);
/* The host pool is full: writes up to a batch of the least recently used evicted host-tier
 * chunks to the spill file, freeing their host slots. Returns how many were freed. */
int hmt_nvme_tier_make_room(void);

/* Before move_in maps its chunks: starts reading the SSD-tier ones among m[0..n) into host
 * staging slots in the background, so each chunk's host->device copy can start as soon as
 * its own read is done. */
void hmt_nvme_tier_fetch(struct hmt_chunk **m, int n);
/* Load of an SSD-tier chunk (res_backing.c): waits for its read, then enqueues the
 * host->device copy. A failed read returns CUDA_ERROR_UNKNOWN after saying which tensor. */
CUresult hmt_nvme_tier_load(struct hmt_chunk *c, CUdeviceptr va);
/* After move_in's loop: waits for reads still in flight and returns the staging slots of
 * chunks that were not loaded (they stay on SSD). */
void hmt_nvme_tier_fetch_end(void);
/* Release of an SSD-tier backing (res_backing.c): frees its spill file slot and its staging
 * slot (after `after`, the fault-in copy's fence, completes). Also forgets c if it was
 * waiting to be spilled. */
void hmt_nvme_tier_release(struct hmt_chunk *c, struct hmt_fence *after);

#endif
