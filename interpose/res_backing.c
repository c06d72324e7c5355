/* res_backing.c — where an evicted chunk's bytes live, behind four calls (reserve, store,
 * load, release) that the movers in residency.c use and nothing else does. The host tier
 * (pinned slots from hostpool.c) is the only tier today; the NVMe spill file becomes another
 * `tier` case here, with no change to eviction or fault-in logic. Move lock held. */
#include "residency.h"
#include "hints.h"
#include "nvme_tier.h"
#include "emulate.h"

int hmt_backing_reserve(struct hmt_chunk *c)
{
    if (hmt_emulating()) return hmt_emulate_reserve(c);   /* no bytes move (emulate.h) */
    void *slot = hmt_hostpool_get();
    if (!slot && hmt_nvme_tier_make_room() > 0) slot = hmt_hostpool_get();  /* overflow to SSD */
    if (!slot) return -12; /* -ENOMEM */
    c->backing.tier = HMT_TIER_CPU;
    c->backing.host = slot;
    hmt_nvme_tier_reserved(c);   /* SSD-hinted: staged in the slot, then to the spill file */
    return 0;
}

CUresult hmt_backing_store(struct hmt_chunk *c, CUdeviceptr va)
{
    if (hmt_emulating()) return hmt_emulate_move(c, hmt_res.copy_stream);
    switch (c->backing.tier) {
    case HMT_TIER_CPU: {
        CUresult r = hmt_real.cuMemcpyDtoHAsync_v2(c->backing.host, va, hmt_res.chunk, hmt_res.copy_stream);
        if (r == CUDA_SUCCESS) hmt_nvme_tier_stored(c);
        return r;
    }
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
}

CUresult hmt_backing_load(struct hmt_chunk *c, CUdeviceptr va)
{
    if (hmt_emulating()) return hmt_emulate_move(c, hmt_res.copy_stream);
    switch (c->backing.tier) {
    case HMT_TIER_CPU:
        return hmt_real.cuMemcpyHtoDAsync_v2(va, c->backing.host, hmt_res.chunk, hmt_res.copy_stream);
    case HMT_TIER_SSD:
        return hmt_nvme_tier_load(c, va);
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
}

void hmt_backing_release(struct hmt_chunk *c, struct hmt_fence *after)
{
    if (hmt_emulating()) { hmt_emulate_release(c); return; }
    hmt_nvme_tier_release(c, after);   /* SSD tier: spill file slot and staging slot */
    switch (c->backing.tier) {
    case HMT_TIER_CPU:
        if (after) {
            /* the pending entry holds its own reference to the fence */
            hmt_fence_ref(after);
            hmt_hostpool_put(c->backing.host, after);
        } else {
            hmt_hostpool_put(c->backing.host, NULL);
        }
        break;
    default:
        break;
    }
    c->backing.tier = -1;
    c->backing.host = NULL;
}
