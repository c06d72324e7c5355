/* residency.h — the residency engine's shared state: managed allocations, their chunks, the
 * budget, fences and the two movers (evict, fault in). space.c owns the allocation map,
 * residency.c the chunk states and the budget, hostpool.c the pinned host tier, policy.c the
 * choice of victim, launch.c/copy.c what an operation touches.
 *
 * Every operation that may touch managed memory (launch, copy, memset, graph launch) goes
 * through the same three steps, so the invariants are enforced in one place:
 *   hmt_op_add_range()...   what it may touch (device byte ranges)
 *   hmt_op_prepare()        fault in what is not resident, pin the chunks, order the stream
 *                           after the fault-in copies (event wait, no host sync)
 *   <the driver call>
 *   hmt_op_finish()         record a fence on the stream, attach it to every chunk, unpin
 *
 * Lock order (outermost first). Nothing here is held across a driver call that can block on
 * the GPU except hmt_move_lock, whose holder may wait on hmt's own copy stream:
 *   1. hmt_move_lock  (residency.c) serialises residency transitions: evict, fault in, free
 *                     of a managed allocation, and owns what only movers touch: spare physical
 *                     handles, the eviction round, the host pool (hostpool.c) and the NVMe
 *                     tier's bookkeeping. Held across cuStreamSynchronize of hmt's copy stream
 *                     and the fence waits of cuMemFree. Never taken with 2 held.
 *   2. hmt_map_lock   (space.c) the allocation map, every chunk's state, users (pins),
 *                     fences, arrival fence and policy links, resident_bytes, pinned_chunks.
 *                     Never held across any driver call. Under it only leaf locks below are
 *                     taken (and hints.c's own lock).
 *   3. leaf locks     the fence free list (residency.c; references are atomic), layout cache
 *                     inserts (launch.c), graph snapshot table (launch.c; it takes the map lock
 *                     inside, the one exception, never the reverse). Nothing else is called
 *                     while holding one but memory allocation.
 */
#ifndef HMT_INTERPOSE_RESIDENCY_H
#define HMT_INTERPOSE_RESIDENCY_H

#include <pthread.h>
#include <stdint.h>
#include "internal.h"

enum hmt_chunk_state {
    HMT_CHUNK_RESIDENT = 0,   /* mapped with access, bytes in HBM */
    HMT_CHUNK_EVICTING,       /* chosen as victim; copy-out in flight (move lock holder owns it) */
    HMT_CHUNK_EVICTED,        /* unmapped, handle released; bytes in its backing */
};

/* Where an evicted chunk's bytes live. The host tier is the only one today; the NVMe tier
 * plugs in as another `tier` value with its slot, without touching eviction/fault-in logic. */
struct hmt_backing {
    int tier;                 /* HMT_TIER_CPU, HMT_TIER_SSD, or -1 when nothing is stored */
    void *host;               /* host tier: pinned slot of chunk_bytes */
    uint64_t nvme_slot;       /* SSD tier: slot index in the spill file */
};

/* An event recorded on `stream` after work that touched chunks. Shared by every chunk that
 * work touched (refcounted); back to the pool when no chunk refers to it. */
struct hmt_fence {
    CUevent ev;
    CUstream stream;
    _Atomic int refs;         /* chunks and operations holding it; 0 -> back to the pool */
    struct hmt_fence *next_free;
};

struct hmt_alloc;
struct hmt_chunk {
    struct hmt_alloc *alloc;
    uint32_t index;
    uint8_t state;            /* enum hmt_chunk_state */
    uint64_t stuck_round;     /* eviction refused in this round (invariant 4): not retried in it */
    int users;                /* operations between prepare and finish (pins) */
    uint64_t last_use;        /* launch sequence of the last operation (LRU) */
    uint64_t mark;            /* op generation, to count each chunk once per operation */
    CUmemGenericAllocationHandle handle;
    struct hmt_backing backing;
    struct hmt_fence **fences; /* last fence per stream that used it while resident */
    struct hmt_fence *unmap_after; /* evicted, but its VA still maps the handle (now a spare
                                * or another chunk's) until its copy-out, before this event,
                                * has completed; its fences stay referenced until then */
    uint8_t release_on_unmap;  /* its handle was released meanwhile: uncount it at unmap */
    struct hmt_fence *arrival; /* event after its fault-in copy, until seen complete: every
                                * stream that uses the chunk waits on it, not only the one
                                * whose launch faulted it in */
    int nfences, capfences;
    struct hmt_chunk *lru_prev, *lru_next; /* policy.c */
    int on_lru;
};

struct hmt_alloc {
    CUdeviceptr base;
    size_t size;              /* bytes the program asked for */
    size_t reserved;          /* size rounded up to chunks */
    uint32_t nchunks;
    uint64_t id;              /* CU_POINTER_ATTRIBUTE_BUFFER_ID */
    struct hmt_chunk *chunks;
};

/* ---- global state (residency.c) ---- */
struct hmt_res {
    int ready;                /* hmt_res_init succeeded */
    CUcontext ctx;            /* the context whose allocations are managed */
    CUdevice dev;
    int ordinal;
    size_t chunk;             /* allocation granularity, bytes */
    uint64_t budget;          /* bytes of HBM hmt may map */
    uint64_t device_total;
    uint64_t resident_bytes;  /* physical handles held: mapped chunks + spares (map lock) */
    uint64_t pinned_chunks;   /* chunks with users > 0 (map lock) */
    CUstream copy_stream;     /* hmt's own stream for evict/fault-in copies */
    uint64_t seq;             /* operation sequence (atomic) */
    uint64_t evict_round;     /* eviction round (move lock): a tier that refused is not asked
                               * again in the same round */
};
extern struct hmt_res hmt_res;
extern pthread_mutex_t hmt_move_lock;
extern pthread_mutex_t hmt_map_lock;
extern int hmt_engaged;

/* Lazy start: reads the budget, the device and its granularity, creates the copy stream.
 * Needs a current context. 0 ready, -EAGAIN no context yet, -errno otherwise. Thread-safe. */
int hmt_res_init(void);
/* 1 when `ctx` (the current context) is the managed one and residency is ready. */
int hmt_res_managing(void);

/* ---- allocation map (space.c) ---- */
/* Managed allocation containing addr, or NULL. Caller holds hmt_map_lock. */
struct hmt_alloc *hmt_space_find(CUdeviceptr addr);
/* Quick reject without the lock: 0 when addr cannot be managed. */
int hmt_space_maybe(CUdeviceptr addr);
int hmt_space_maybe_any(void);                /* 0 while nothing is managed */
void hmt_space_insert(struct hmt_alloc *a);   /* map lock held */
void hmt_space_remove(struct hmt_alloc *a);   /* map lock held */
/* Calls fn for every managed allocation (map lock held). */
void hmt_space_each(void (*fn)(struct hmt_alloc *, void *), void *arg);

/* ---- operations (residency.c) ---- */
struct hmt_range { CUdeviceptr lo, hi; };
struct hmt_op {
    CUstream stream;          /* the stream the work is ordered on (0 = legacy/per-thread as given) */
    int on_launch_path;       /* host syncs here are counted */
    int all;                  /* safe mode: everything managed */
    int capturing;            /* stream is capturing: no fault-in, no fence */
    int nranges, capranges;
    struct hmt_range *ranges;
    struct hmt_range inline_ranges[8];
    int npinned, cappinned;
    struct hmt_chunk **pinned;      /* inline_pinned until it outgrows it */
    struct hmt_chunk *inline_pinned[16];
    int nwaits, capwaits;     /* arrival fences of pinned chunks the stream must wait on */
    struct hmt_fence **waits;
};
void hmt_op_init(struct hmt_op *op, CUstream stream, int on_launch_path);
/* Adds [addr, addr+len) if it lies in managed memory (clipped to its allocation); returns 1
 * when it did. Lock-free reject for unmanaged addresses. */
int hmt_op_add_range(struct hmt_op *op, CUdeviceptr addr, size_t len);
/* Adds what a reference at addr brings in: the hinted tensor, else the whole allocation. */
int hmt_op_add_ref(struct hmt_op *op, CUdeviceptr addr);
/* Fault in + pin. CUDA_SUCCESS, or CUDA_ERROR_OUT_OF_MEMORY when the operation's chunks
 * cannot all be resident within the budget, or the driver's error. */
CUresult hmt_op_prepare(struct hmt_op *op);
/* After the driver call: fence + unpin. `ok` = the driver call succeeded (fence only then). */
void hmt_op_finish(struct hmt_op *op, int ok);
void hmt_op_free(struct hmt_op *op);

/* ---- allocation (residency.c) ---- */
CUresult hmt_res_alloc(CUdeviceptr *dptr, size_t bytes);
/* CUDA_ERROR_NOT_FOUND when dptr is not managed (caller forwards). */
CUresult hmt_res_free(CUdeviceptr dptr);
/* Physical bytes hmt holds now. */
uint64_t hmt_res_resident(void);

/* ---- fences (residency.c) ---- */
struct hmt_fence *hmt_fence_get(void);   /* refs = 1, event not yet recorded */
void hmt_fence_ref(struct hmt_fence *f);
void hmt_fence_put(struct hmt_fence *f);    /* NULL is fine */

/* ---- host tier (hostpool.c); called with hmt_move_lock held ---- */
/* A pinned slot of hmt_res.chunk bytes, or NULL (refused / limit reached). */
void *hmt_hostpool_get(void);
/* Slot back to the pool once `after` (an event on the copy stream, may be NULL = now) has
 * completed. The fence reference is taken over. */
void hmt_hostpool_put(void *slot, struct hmt_fence *after);
/* Reclaims slots whose copies completed (cuEventQuery); all=1 after the copy stream synced. */
void hmt_hostpool_reclaim(int all);

/* Waits until every enqueued copy-out has completed and unmaps the old VAs (evictions do not
 * wait for their copy-outs; anything that reads evicted chunks' host slots on the host side,
 * such as the SSD tier's overflow, calls this first). Move lock held. */
void hmt_res_settle_copyouts(void);

/* ---- backings: the one place where an evicted chunk's bytes are stored/loaded ---- */
/* Reserve storage for chunk c (sets c->backing); 0 or -ENOMEM. */
int hmt_backing_reserve(struct hmt_chunk *c);
/* Enqueue chunk c's copy-out on the copy stream (device -> backing). */
CUresult hmt_backing_store(struct hmt_chunk *c, CUdeviceptr va);
/* Enqueue chunk c's copy-in on the copy stream (backing -> device). */
CUresult hmt_backing_load(struct hmt_chunk *c, CUdeviceptr va);
/* Backing no longer needed once `after` completes (NULL = now). */
void hmt_backing_release(struct hmt_chunk *c, struct hmt_fence *after);

#endif
