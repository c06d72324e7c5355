/* emulate.h — emulated mode (HMT_MODE=emulated): the residency engine decides exactly as in
 * real mode (same budget, hints, victims, fault-ins), but no byte moves and nothing is
 * unmapped. Wherever real mode would copy a chunk, the modeled time of that transfer is
 * injected in stream order instead: a host function on hmt's copy stream that waits
 * setup + bytes / bandwidth of the slower tier of the transfer (for a fault-in, its source
 * tier), which the launching stream then waits for through the same event real mode uses.
 * GPU-side timing (cuEvent) and wall clock therefore both see the modeled cost. Since
 * nothing leaves the GPU, the whole job must fit in device memory.
 *
 * Tier specs (setup µs, GB/s with GB = 1e9 bytes): the seed's defaults HBM 1/800, CPU 5/150,
 * SSD 30/10; a hints file's "tiers" array overrides them; HMT_TIER_SPEC overrides both and may
 * name extra tiers (e.g. CXL) that a hints file assigns tensors to.
 *
 * HMT_EMULATE=every-use is the seed's simpler model instead: every operation touching a
 * tensor the hints place below HBM pays that tensor's transfer from its tier, with no caching
 * and no residency decisions (the budget is then not enforced).
 *
 * Only residency.c and res_backing.c call these, at the points where bytes would move.
 */
#ifndef HMT_INTERPOSE_EMULATE_H
#define HMT_INTERPOSE_EMULATE_H

#include <cuda.h>
#include <stdint.h>

struct hmt_chunk;
struct hmt_op;

/* 1 when HMT_MODE=emulated (cheap after the first call). */
int hmt_emulating(void);
/* 1 when emulating with HMT_EMULATE=every-use. */
int hmt_emulate_every_use(void);

/* Modeled nanoseconds to move `bytes` from/to tier `tier` (setup + bytes / bandwidth). */
uint64_t hmt_emulate_cost_ns(int tier, uint64_t bytes);

/* Backing stand-ins (res_backing.c calls them in emulated mode): reserve picks the tier real
 * mode would store the chunk in (its hinted tier below HBM, else CPU) and takes no memory;
 * store / load enqueue the modeled transfer on `stream`; release forgets the tier. */
int hmt_emulate_reserve(struct hmt_chunk *c);
CUresult hmt_emulate_move(struct hmt_chunk *c, CUstream stream);
void hmt_emulate_release(struct hmt_chunk *c);

/* every-use model: enqueue on op->stream the transfers of every hinted non-HBM tensor the
 * operation touches. CUDA_SUCCESS or the driver's error. */
CUresult hmt_emulate_every_use_op(const struct hmt_op *op);

#endif
