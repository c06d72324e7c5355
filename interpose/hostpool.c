/* hostpool.c — the host tier: pinned host memory in large slabs, cut into chunk-sized slots
 * and reused, so eviction never pins memory per chunk (pinning is slow and, in quantity,
 * degrades the host). Slabs come from cuMemHostAlloc(PORTABLE) of HMT_HOST_SLAB bytes;
 * HMT_HOST_LIMIT caps the total. When the driver refuses, get() answers NULL and the caller
 * keeps the chunk resident (invariant 4).
 *
 * Every function runs with hmt_move_lock held (only movers use the pool), so the pool needs
 * no lock of its own. A slot whose fault-in copy may still be reading it waits on a pending
 * list with that copy's fence until the event has completed. */
#include <stdlib.h>
#include "residency.h"
#include "nvme.h"

struct slot { struct slot *next; };   /* lives in the free slot's own bytes */
struct pending { void *slot; struct hmt_fence *after; };

static struct slot *free_slots;
static struct pending *pend;
static size_t npend, cappend;
static uint64_t pinned_total;
static uint64_t refused_round;   /* the eviction round in which the driver refused a slab */

void hmt_hostpool_reclaim(int all)
{
    size_t k = 0;
    for (size_t i = 0; i < npend; i++) {
        struct pending *p = &pend[i];
        if (all || !p->after || hmt_real.cuEventQuery(p->after->ev) == CUDA_SUCCESS) {
            struct slot *s = p->slot;
            s->next = free_slots;
            free_slots = s;
            hmt_fence_put(p->after);
        } else {
            pend[k++] = *p;
        }
    }
    npend = k;
}

static int grow(void)
{
    size_t chunk = hmt_res.chunk;
    uint64_t slab = hmt_opt.host_slab < chunk ? chunk : hmt_opt.host_slab;
    slab -= slab % chunk;
    if (hmt_opt.host_limit) {
        if (pinned_total >= hmt_opt.host_limit) return -1;
        if (pinned_total + slab > hmt_opt.host_limit) {
            slab = hmt_opt.host_limit - pinned_total;
            slab -= slab % chunk;
            if (!slab) return -1;
        }
    }
    void *p = NULL;
    if (refused_round && refused_round == hmt_res.evict_round) return -1;
    if (hmt_real.cuMemHostAlloc(&p, slab, CU_MEMHOSTALLOC_PORTABLE) != CUDA_SUCCESS || !p) {
        refused_round = hmt_res.evict_round;
        /* the warning is the evictor's (one line per process); the size is detail */
        HMT_INFO("cuMemHostAlloc of %llu bytes refused; the host pool stops growing this round",
                 (unsigned long long)slab);
        return -1;
    }
    pinned_total += slab;
    hmt_nvme_register_buffer(p, slab);   /* SSD tier: io_uring fixed buffers (optional) */
    HMT_GAUGE_SET(host_pinned_bytes, pinned_total);
    for (size_t off = slab; off >= chunk; off -= chunk) {
        struct slot *s = (struct slot *)((char *)p + off - chunk);
        s->next = free_slots;
        free_slots = s;
    }
    return 0;
}

void *hmt_hostpool_get(void)
{
    if (!free_slots && npend) hmt_hostpool_reclaim(0);
    if (!free_slots && grow() != 0 && npend) {
        /* The pool is full of slots still being read by fault-in copies: wait for them. */
        hmt_real.cuStreamSynchronize(hmt_res.copy_stream);
        hmt_hostpool_reclaim(1);
    }
    struct slot *s = free_slots;
    if (s) free_slots = s->next;
    /* Out of slots: the caller may now demote evicted chunks to the SSD tier, which reads
     * their slots on the host, so every copy-out still in flight must complete first
     * (evictions do not wait for theirs). */
    else hmt_res_settle_copyouts();
    return s;
}

void hmt_hostpool_put(void *slot, struct hmt_fence *after)
{
    if (!slot) { hmt_fence_put(after); return; }
    if (!after) {
        struct slot *s = slot;
        s->next = free_slots;
        free_slots = s;
        return;
    }
    if (npend == cappend) {
        size_t nc = cappend ? cappend * 2 : 64;
        struct pending *np = realloc(pend, nc * sizeof(*np));
        if (!np) abort();
        pend = np; cappend = nc;
    }
    pend[npend].slot = slot;
    pend[npend].after = after;
    npend++;
}
