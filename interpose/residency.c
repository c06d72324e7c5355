/* residency.c — chunk states, the budget, fences, and the two movers: evict (device -> its
 * backing) and fault in (backing -> device). The lock order is written in residency.h.
 *
 * Shape: every residency transition happens under hmt_move_lock, so there is one mover at
 * a time and a chunk's state can only change under it; the map lock guards the bookkeeping
 * and is never held across a driver call. Operations pin their chunks (users > 0) between
 * hmt_op_prepare and hmt_op_finish, so a chunk that a launch found resident cannot be chosen
 * as a victim before that launch's fence is attached (invariant 2). Decisions (which chunks,
 * how many bytes) are separate from movement (move_out / move_in), the only two places bytes
 * move, so the emulated mode and other tiers replace movement without touching decisions. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "residency.h"
#include "policy.h"
#include "hints.h"
#include "nvme_tier.h"
#include "emulate.h"

struct hmt_res hmt_res;
pthread_mutex_t hmt_move_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int init_state;            /* 0 not yet, 1 ready, -1 gave up */
static _Atomic uint64_t mark_gen;
static _Atomic uint64_t next_buffer_id = 1;
static CUmemAllocationProp chunk_prop;
static CUmemAccessDesc chunk_access;

/* ---- start ------------------------------------------------------------------------- */

int hmt_res_init(void)
{
    int st = atomic_load_explicit(&init_state, memory_order_acquire);
    if (HMT_LIKELY(st == 1)) return 0;
    if (st < 0) return -ENODEV;
    pthread_mutex_lock(&init_lock);
    int rc = 0;
    if (atomic_load(&init_state) != 0) { rc = atomic_load(&init_state) == 1 ? 0 : -ENODEV; goto out; }
    CUcontext ctx = NULL;
    if (hmt_real.cuCtxGetCurrent(&ctx) != CUDA_SUCCESS || !ctx) { rc = -EAGAIN; goto out; }
    CUdevice dev;
    size_t total = 0, gran = 0;
    if (hmt_real.cuCtxGetDevice(&dev) != CUDA_SUCCESS ||
        hmt_real.cuDeviceTotalMem_v2(&total, dev) != CUDA_SUCCESS) { rc = -EAGAIN; goto out; }
    chunk_prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    chunk_prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    chunk_prop.location.id = dev;
    if (hmt_real.cuMemGetAllocationGranularity(&gran, &chunk_prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM)
            != CUDA_SUCCESS || gran == 0) {
        HMT_WARN("device %d has no virtual memory management; hmt manages nothing", (int)dev);
        atomic_store(&init_state, -1); rc = -ENODEV; goto out;
    }
    chunk_access.location = chunk_prop.location;
    chunk_access.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
    uint64_t budget = total;
    if (hmt_opt.hbm_limit.set) budget = hmt_size_pct_resolve(&hmt_opt.hbm_limit, total);
    if (budget > total) budget = total;
    budget -= budget % gran;
    if (hmt_real.cuStreamCreate(&hmt_res.copy_stream, CU_STREAM_NON_BLOCKING) != CUDA_SUCCESS) {
        rc = -EAGAIN; goto out;
    }
    hmt_res.ctx = ctx;
    hmt_res.dev = dev;
    hmt_res.ordinal = (int)dev;
    hmt_res.chunk = gran;
    hmt_res.budget = budget;
    hmt_res.device_total = total;
    hmt_res.ready = 1;
    HMT_INFO("residency: budget %llu bytes of %llu, chunk %zu bytes",
             (unsigned long long)budget, (unsigned long long)total, gran);
    if (hmt_opt.hbm_limit.set && budget == 0 && hmt_opt.hbm_limit.is_pct)  /* asked: say so */
        HMT_WARN("HMT_HBM_LIMIT=%g%% is below one chunk (%zu KiB): every managed allocation "
                 "will fail with out-of-memory", hmt_opt.hbm_limit.pct, gran / 1024);
    else if (hmt_opt.hbm_limit.set && budget == 0)
        HMT_WARN("HMT_HBM_LIMIT=%llu bytes is below one chunk (%zu KiB): every managed "
                 "allocation will fail with out-of-memory",
                 (unsigned long long)hmt_opt.hbm_limit.bytes, gran / 1024);
    atomic_store_explicit(&init_state, 1, memory_order_release);
out:
    pthread_mutex_unlock(&init_lock);
    return rc;
}

int hmt_res_managing(void)
{
    if (hmt_res_init() != 0) return 0;
    CUcontext c = NULL;
    return hmt_real.cuCtxGetCurrent(&c) == CUDA_SUCCESS && c == hmt_res.ctx;
}

uint64_t hmt_res_resident(void)
{
    pthread_mutex_lock(&hmt_map_lock);
    uint64_t r = hmt_res.resident_bytes;
    pthread_mutex_unlock(&hmt_map_lock);
    return r;
}

static CUdeviceptr chunk_va(const struct hmt_chunk *c)
{
    return c->alloc->base + (CUdeviceptr)c->index * hmt_res.chunk;
}

/* managed_bytes is the most bytes under management at once (the working set hmt served). */
static _Atomic int64_t managed_now;
static void managed_add(int64_t d)
{
    int64_t v = atomic_fetch_add(&managed_now, d) + d;
    if (v > 0) HMT_GAUGE_MAX(managed_bytes, (uint64_t)v);
}

static void count_host_sync(int on_launch_path)
{
    if (on_launch_path) HMT_STAT_ADD(host_syncs, 1);
}

/* ---- fences ---------------------------------------------------------------------------- */

static pthread_mutex_t fence_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hmt_fence *fence_free;

struct hmt_fence *hmt_fence_get(void)
{
    pthread_mutex_lock(&fence_lock);
    struct hmt_fence *f = fence_free;
    if (f) fence_free = f->next_free;
    pthread_mutex_unlock(&fence_lock);
    if (!f) {
        f = calloc(1, sizeof(*f));
        if (!f) return NULL;
        if (hmt_real.cuEventCreate(&f->ev, CU_EVENT_DISABLE_TIMING) != CUDA_SUCCESS) { free(f); return NULL; }
    }
    atomic_store_explicit(&f->refs, 1, memory_order_relaxed);
    f->stream = NULL;
    f->next_free = NULL;
    return f;
}

void hmt_fence_ref(struct hmt_fence *f)
{
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
}

void hmt_fence_put(struct hmt_fence *f)
{
    if (!f) return;
    if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1) return;
    pthread_mutex_lock(&fence_lock);
    f->next_free = fence_free;
    fence_free = f;
    pthread_mutex_unlock(&fence_lock);
}

/* map lock held: f becomes c's fence for f->stream (replacing the older one: a stream's
 * work completes in order). */
static void fence_attach(struct hmt_chunk *c, struct hmt_fence *f)
{
    for (int i = 0; i < c->nfences; i++)
        if (c->fences[i]->stream == f->stream) {
            if (c->fences[i] == f) return;
            hmt_fence_ref(f);
            hmt_fence_put(c->fences[i]);
            c->fences[i] = f;
            return;
        }
    if (c->nfences == c->capfences) {
        int nc = c->capfences ? c->capfences * 2 : 4;
        struct hmt_fence **nf = realloc(c->fences, (size_t)nc * sizeof(*nf));
        if (!nf) abort();
        c->fences = nf; c->capfences = nc;
    }
    hmt_fence_ref(f);
    c->fences[c->nfences++] = f;
}

static void fences_drop(struct hmt_chunk *c)
{
    for (int i = 0; i < c->nfences; i++) hmt_fence_put(c->fences[i]);
    c->nfences = 0;
    hmt_fence_put(c->arrival);
    c->arrival = NULL;
}

/* Eviction rounds (under the move lock): a chunk whose eviction was refused is not chosen
 * again in the same round, so a refusing tier ends the round with out-of-memory instead of
 * a loop; the next round tries again (the tier may have recovered). */
#define evict_round hmt_res.evict_round

/* Spare physical handles (move lock): an evicted chunk's handle, kept for the fault-in or
 * allocation that the eviction made room for. Counted in resident_bytes while spare;
 * phys_trim() releases what is left before the move lock is dropped, so no idle physical
 * memory outlives one residency transition.
 *
 * Eviction without a host sync: the victim's copy-out is only enqueued. Its VA keeps mapping
 * the handle until an event after the copy-out completes (`still_at` / unmap_after), while
 * the same handle may already be mapped at the VA of the chunk being faulted in (a handle
 * may be mapped at two VAs). Everything that uses the handle through the new VA is ordered
 * after the copy-out: the fault-in copy by hmt's copy stream, operations by the chunk's
 * arrival fence. The old VA is unmapped once the event has completed (reap_unmaps), or at
 * once with a wait when that VA is needed again (fault-in of the victim, free). */
#define SPARE_MAX 64
struct spare { CUmemGenericAllocationHandle h; struct hmt_chunk *still_at; };
static struct spare spare[SPARE_MAX];
static int nspare;
static struct hmt_chunk **pend_unmap;      /* chunks with unmap_after set */
static int npend_unmap, cappend_unmap;

static void uncount_chunk(void)
{
    pthread_mutex_lock(&hmt_map_lock);
    hmt_res.resident_bytes -= hmt_res.chunk;
    pthread_mutex_unlock(&hmt_map_lock);
}

static void spare_release(struct spare sp)
{
    hmt_real.cuMemRelease(sp.h);
    /* still mapped at an evicted chunk's VA: the memory lives until that unmap */
    if (sp.still_at && sp.still_at->unmap_after) sp.still_at->release_on_unmap = 1;
    else uncount_chunk();
}

static void spare_put(CUmemGenericAllocationHandle h, struct hmt_chunk *still_at)
{
    struct spare sp = { h, still_at };
    if (nspare < SPARE_MAX) spare[nspare++] = sp;
    else spare_release(sp);
}

static void phys_put(CUmemGenericAllocationHandle h) { spare_put(h, NULL); }

/* Unmaps c's old VA once its copy-out has completed; with wait, waits for it (a host sync,
 * counted on the launch path). Move lock held. */
static void finish_unmap(struct hmt_chunk *c, int wait, int on_launch_path)
{
    if (!c->unmap_after) return;
    if (hmt_real.cuEventQuery(c->unmap_after->ev) != CUDA_SUCCESS) {
        if (!wait) return;
        hmt_real.cuEventSynchronize(c->unmap_after->ev);
        count_host_sync(on_launch_path);
    }
    hmt_real.cuMemUnmap(chunk_va(c), hmt_res.chunk);
    pthread_mutex_lock(&hmt_map_lock);
    fences_drop(c);
    pthread_mutex_unlock(&hmt_map_lock);
    hmt_fence_put(c->unmap_after);
    c->unmap_after = NULL;
    if (c->release_on_unmap) { c->release_on_unmap = 0; uncount_chunk(); }
}

/* Unmaps every old VA whose copy-out has completed (force: waits for all), oldest first, so
 * a handle mapped at two old VAs is unmapped at the earlier one first. Move lock held. */
static void reap_unmaps(int force)
{
    int k = 0;
    for (int i = 0; i < npend_unmap; i++) {
        struct hmt_chunk *c = pend_unmap[i];
        finish_unmap(c, force, 0);
        if (c->unmap_after) pend_unmap[k++] = c;
    }
    npend_unmap = k;
}

static void pend_unmap_add(struct hmt_chunk *c)
{
    if (npend_unmap == cappend_unmap) {
        int nc = cappend_unmap ? cappend_unmap * 2 : 64;
        struct hmt_chunk **np = realloc(pend_unmap, (size_t)nc * sizeof(*np));
        if (!np) abort();
        pend_unmap = np; cappend_unmap = nc;
    }
    pend_unmap[npend_unmap++] = c;
}

void hmt_res_settle_copyouts(void)
{
    if (!npend_unmap) return;
    hmt_real.cuStreamSynchronize(hmt_res.copy_stream);
    reap_unmaps(1);
}

static void phys_trim(void)
{
    while (nspare) spare_release(spare[--nspare]);
    reap_unmaps(0);
    HMT_GAUGE_SET(resident_bytes, hmt_res_resident());
}

/* ---- movers: the only two places bytes move ------------------------------------------ */

/* HBM-preferred: hinted HBM, or untagged (hints room: untagged memory stays in HBM). */
static int is_hbm_hinted(struct hmt_chunk *c)
{
    return hmt_hints_tier_of(chunk_va(c), hmt_res.chunk) <= HMT_TIER_HBM;
}

/* Evicts the victims (state EVICTING, chosen by the caller): waits on their fences on the
 * copy stream and enqueues each one's copy to its backing. Real mode: no host sync; each
 * victim's handle becomes a spare and its VA is unmapped once an event after the copy-outs
 * has completed (see spare_put). Emulated mode, or without an event: the copy stream is
 * synchronised and the VAs unmapped at once. Victims that cannot go (tier refused, fence on
 * a capturing stream) return to RESIDENT for this round; a refusal is reported once. Move
 * lock held. Returns bytes freed. */
static uint64_t move_out(struct hmt_chunk **v, int n, int on_launch_path, CUresult *err)
{
    int kept = 0;
    CUstream cs = hmt_res.copy_stream;
    for (int i = 0; i < n; i++) {
        struct hmt_chunk *c = v[i];
        int ok = 1;
        CUresult w = CUDA_SUCCESS;
        /* fences: wait for every stream that used the chunk; never for a capturing one */
        for (int k = 0; ok && k < c->nfences; k++) {
            struct hmt_fence *f = c->fences[k];
            if (hmt_opt.test_skip_fences) break;   /* negative control of invariant 2 */
            if (hmt_real.cuEventQuery(f->ev) == CUDA_SUCCESS) continue;
            CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;
            if (f->stream && hmt_real.cuStreamIsCapturing &&
                hmt_real.cuStreamIsCapturing(f->stream, &st) == CUDA_SUCCESS &&
                st != CU_STREAM_CAPTURE_STATUS_NONE) ok = 0;
            else if ((w = hmt_real.cuStreamWaitEvent(cs, f->ev, 0)) != CUDA_SUCCESS) ok = 0;
        }
        /* the driver refused (e.g. the context's sticky illegal address): the program's call
         * gets the driver's error, not an out-of-memory of ours (invariant 6) */
        if (!ok && w != CUDA_SUCCESS && *err == CUDA_SUCCESS) *err = w;
        int refused = ok && hmt_backing_reserve(c) != 0;
        if (refused && kept) {
            /* The host tier is full, and this batch's earlier victims are still EVICTING, so
             * the SSD tier could not take their slots yet. Stop the batch here: the rest go
             * back untried (not stuck) and ensure_budget's next batch can spill the victims
             * kept here to the SSD and reuse their slots (nvme_oneslot: one host slot). */
            pthread_mutex_lock(&hmt_map_lock);
            for (int j = i; j < n; j++) {
                v[j]->state = HMT_CHUNK_RESIDENT;
                hmt_policy_resident(v[j]);
            }
            pthread_mutex_unlock(&hmt_map_lock);
            break;
        }
        if (refused) {
            HMT_WARN_ONCE("pinned host memory refused; chunks stay resident (budget may be unreachable)");
            ok = 0;
            c->stuck_round = evict_round;
        }
        if (ok && (w = hmt_backing_store(c, chunk_va(c))) != CUDA_SUCCESS) {
            if (*err == CUDA_SUCCESS && w != CUDA_ERROR_OUT_OF_MEMORY) *err = w;
            hmt_backing_release(c, NULL);
            HMT_WARN_ONCE("copy-out of an evicted chunk failed; it stays resident");
            ok = 0;
        }
        if (!ok) {
            c->stuck_round = evict_round;   /* not chosen again in this round (no busy loop) */
            pthread_mutex_lock(&hmt_map_lock);
            c->state = HMT_CHUNK_RESIDENT;
            hmt_policy_resident(c);
            pthread_mutex_unlock(&hmt_map_lock);
            continue;
        }
        v[kept++] = c;
    }
    if (!kept) return 0;
    hmt_nvme_tier_spill();   /* SSD-bound chunks: on to the spill file as each copy-out ends */
    if (!hmt_emulating()) {
        /* No host sync: the victims' VAs stay mapped until an event after their copy-outs
         * has completed; their handles are spares from now on (see spare_put). */
        struct hmt_fence *out = hmt_fence_get();
        if (out && hmt_real.cuEventRecord(out->ev, cs) == CUDA_SUCCESS) {
            out->stream = cs;
            for (int i = 0; i < kept; i++) {
                struct hmt_chunk *c = v[i];
                CUdeviceptr va = chunk_va(c);
                spare_put(c->handle, c);
                pthread_mutex_lock(&hmt_map_lock);
                /* fences and arrival stay referenced until the unmap: a pooled event must
                 * not be recorded again while a stream may still wait on it */
                c->state = HMT_CHUNK_EVICTED;
                c->handle = 0;
                pthread_mutex_unlock(&hmt_map_lock);
                hmt_fence_ref(out);
                c->unmap_after = out;
                pend_unmap_add(c);
                HMT_STAT_ADD(evictions, 1);
                HMT_STAT_ADD(bytes_evicted, hmt_res.chunk);
                hmt_hints_note_evict(va, hmt_res.chunk);
            }
            hmt_fence_put(out);
            hmt_hostpool_reclaim(0);
            HMT_GAUGE_SET(resident_bytes, hmt_res_resident());
            return (uint64_t)kept * hmt_res.chunk;
        }
        hmt_fence_put(out);
    }
    CUresult r = hmt_real.cuStreamSynchronize(cs);
    count_host_sync(on_launch_path);
    if (r != CUDA_SUCCESS) {
        /* The context is broken (e.g. an illegal address elsewhere): keep everything mapped. */
        pthread_mutex_lock(&hmt_map_lock);
        for (int i = 0; i < kept; i++) {
            v[i]->state = HMT_CHUNK_RESIDENT;
            hmt_policy_resident(v[i]);
        }
        pthread_mutex_unlock(&hmt_map_lock);
        for (int i = 0; i < kept; i++) hmt_backing_release(v[i], NULL);
        *err = r;
        return 0;
    }
    hmt_hostpool_reclaim(1);
    uint64_t freed = 0;
    for (int i = 0; i < kept; i++) {
        struct hmt_chunk *c = v[i];
        CUdeviceptr va = chunk_va(c);
        /* emulated mode (emulate.h): the chunk stays mapped with its bytes and handle */
        int emu = hmt_emulating();
        CUresult u = emu ? CUDA_SUCCESS : hmt_real.cuMemUnmap(va, hmt_res.chunk);
        if (u == CUDA_SUCCESS && !emu) phys_put(c->handle);   /* a spare: still counted */
        pthread_mutex_lock(&hmt_map_lock);
        fences_drop(c);
        if (u == CUDA_SUCCESS) {
            c->state = HMT_CHUNK_EVICTED;
            if (!emu) c->handle = 0;
            if (emu) hmt_res.resident_bytes -= hmt_res.chunk;
            freed += hmt_res.chunk;
        } else {
            c->state = HMT_CHUNK_RESIDENT;
            hmt_policy_resident(c);
        }
        pthread_mutex_unlock(&hmt_map_lock);
        if (u != CUDA_SUCCESS) { hmt_backing_release(c, NULL); continue; }
        HMT_STAT_ADD(evictions, 1);
        HMT_STAT_ADD(bytes_evicted, hmt_res.chunk);
        hmt_hints_note_evict(va, hmt_res.chunk);
    }
    HMT_GAUGE_SET(resident_bytes, hmt_res_resident());
    return freed;
}

static int victim_ok(struct hmt_chunk *c, void *arg)
{
    (void)arg;
    return c->state == HMT_CHUNK_RESIDENT && c->users == 0 && c->stuck_round != evict_round;
}

/* Makes room for `need` more bytes under the budget, evicting as the policy says. Move lock
 * held. CUDA_SUCCESS or CUDA_ERROR_OUT_OF_MEMORY (nothing evictable left), or the driver's
 * error from the copy stream. */
static CUresult ensure_budget(uint64_t need, int on_launch_path, int own_pins)
{
    int waited_ms = 0;
    struct hmt_chunk *batch[64];
    evict_round++;
    for (int tries = 0;;) {
        int n = 0;
        pthread_mutex_lock(&hmt_map_lock);
        /* spare handles are physical memory already counted, ready to be mapped again */
        uint64_t res = hmt_res.resident_bytes - (uint64_t)nspare * hmt_res.chunk, going = 0;
        while (res - going + need > hmt_res.budget && n < 64) {
            struct hmt_chunk *c = hmt_policy_victim(victim_ok, NULL, is_hbm_hinted);
            if (!c) break;
            c->state = HMT_CHUNK_EVICTING;
            hmt_policy_gone(c);
            batch[n++] = c;
            going += hmt_res.chunk;
        }
        pthread_mutex_unlock(&hmt_map_lock);
        if (res + need <= hmt_res.budget) return CUDA_SUCCESS;
        if (n == 0) {
            /* Nothing evictable. If operations in flight on other threads hold pins, they
             * drop them without the move lock (a thread never waits for it while pinning),
             * so waiting ends; a sync copy may hold its pins while the GPU works, hence the
             * long bound. Otherwise (stuck, or all pinned by this operation): out of memory. */
            pthread_mutex_lock(&hmt_map_lock);
            int others = hmt_res.pinned_chunks > (uint64_t)own_pins;
            pthread_mutex_unlock(&hmt_map_lock);
            if (!others || ++tries > 30000) return CUDA_ERROR_OUT_OF_MEMORY;
            if (++waited_ms == 1000)
                HMT_WARN_ONCE("waiting for operations in flight to release chunks (budget full)");
            struct timespec ts = { 0, 1000000 };
            nanosleep(&ts, NULL);
            continue;
        }
        CUresult err = CUDA_SUCCESS;
        move_out(batch, n, on_launch_path, &err);
        if (err != CUDA_SUCCESS) return err;
        /* chunks refused by their tier are now excluded from this round; loop */
    }
}

/* A physical chunk for a fault-in or an allocation: a spare handle left by an eviction of
 * this same critical section if there is one (no cuMemCreate/cuMemRelease churn: creating
 * and releasing physical memory costs more than the copies), else cuMemCreate; when the
 * device itself is full (other users, or a budget above what is free) evict one more chunk
 * and retry. Counts new physical memory in resident_bytes. Move lock held. */
static CUresult create_chunk(CUmemGenericAllocationHandle *h, int on_launch_path, int *pending)
{
    for (int tries = 0;; tries++) {
        if (nspare) {
            struct spare sp = spare[--nspare];
            *h = sp.h;
            /* its bytes may still be on their way out: users must be ordered after that */
            if (sp.still_at && sp.still_at->unmap_after) *pending = 1;
            return CUDA_SUCCESS;
        }
        CUresult r = hmt_real.cuMemCreate(h, hmt_res.chunk, &chunk_prop, 0);
        if (r == CUDA_SUCCESS) {
            pthread_mutex_lock(&hmt_map_lock);
            hmt_res.resident_bytes += hmt_res.chunk;
            uint64_t res = hmt_res.resident_bytes;
            pthread_mutex_unlock(&hmt_map_lock);
            HMT_GAUGE_MAX(peak_resident_bytes, res);
            return r;
        }
        if (r != CUDA_ERROR_OUT_OF_MEMORY || tries > 64) return r;
        pthread_mutex_lock(&hmt_map_lock);
        struct hmt_chunk *c = hmt_policy_victim(victim_ok, NULL, is_hbm_hinted);
        if (c) { c->state = HMT_CHUNK_EVICTING; hmt_policy_gone(c); }
        pthread_mutex_unlock(&hmt_map_lock);
        if (!c) return r;
        CUresult err = CUDA_SUCCESS;
        move_out(&c, 1, on_launch_path, &err);
        if (err != CUDA_SUCCESS) return err;
    }
}

static CUresult map_chunk(CUdeviceptr va, CUmemGenericAllocationHandle h)
{
    CUresult r = hmt_real.cuMemMap(va, hmt_res.chunk, 0, h, 0);
    if (r != CUDA_SUCCESS) return r;
    r = hmt_real.cuMemSetAccess(va, hmt_res.chunk, &chunk_access, 1);
    if (r != CUDA_SUCCESS) hmt_real.cuMemUnmap(va, hmt_res.chunk);
    return r;
}

static void pin(struct hmt_op *op, struct hmt_chunk *c)
{
    if (op->npinned == op->cappinned) {
        int nc = op->cappinned * 2;
        struct hmt_chunk **np = malloc((size_t)nc * sizeof(*np));
        if (!np) abort();
        memcpy(np, op->pinned, (size_t)op->npinned * sizeof(*np));
        if (op->pinned != op->inline_pinned) free(op->pinned);
        op->pinned = np; op->cappinned = nc;
    }
    if (c->users++ == 0) hmt_res.pinned_chunks++;
    op->pinned[op->npinned++] = c;
}

/* Makes the faulted-in chunks visible: RESIDENT, in the policy, pinned for op, and carrying
 * `arrival` (the copies' event; NULL when nothing was copied or the copy stream was synced)
 * so that any other stream that uses them waits for their bytes. */
static void publish_resident(struct hmt_chunk **m, int n, struct hmt_op *op, uint64_t seq,
                             struct hmt_fence *arrival)
{
    pthread_mutex_lock(&hmt_map_lock);
    for (int i = 0; i < n; i++) {
        struct hmt_chunk *c = m[i];
        c->state = HMT_CHUNK_RESIDENT;
        hmt_policy_resident(c);
        hmt_policy_touch(c, seq);
        pin(op, c);
        if (arrival) {
            hmt_fence_ref(arrival);
            hmt_fence_put(c->arrival);
            c->arrival = arrival;
        }
    }
    pthread_mutex_unlock(&hmt_map_lock);
}

/* Faults in the chunks (state EVICTED, budget already made): create + map each, copy its
 * bytes back on the copy stream, and make op->stream wait for those copies (an event, no host
 * sync). Each becomes RESIDENT and pinned for op. Move lock held. */
static CUresult move_in(struct hmt_chunk **m, int n, struct hmt_op *op, uint64_t seq)
{
    CUresult r = CUDA_SUCCESS;
    int copied = 0, done = 0;
    hmt_nvme_tier_fetch(m, n);   /* SSD-tier chunks: reads start now, in the background */
    for (; done < n; done++) {
        struct hmt_chunk *c = m[done];
        CUmemGenericAllocationHandle h = c->handle;   /* emulated mode: still mapped */
        CUdeviceptr va = chunk_va(c);
        int emu = hmt_emulating();
        if (!emu) {
            int pending = 0;
            if (c->unmap_after) { reap_unmaps(0); finish_unmap(c, 1, op->on_launch_path); }
            r = create_chunk(&h, op->on_launch_path, &pending);
            if (r != CUDA_SUCCESS) break;
            r = map_chunk(va, h);
            if (r != CUDA_SUCCESS) { phys_put(h); break; }
            if (pending && c->backing.tier < 0) copied++;   /* no copy in, still an event */
        }
        if (c->backing.tier >= 0) {
            r = hmt_backing_load(c, va);
            if (r != CUDA_SUCCESS) {
                if (!emu) { hmt_real.cuMemUnmap(va, hmt_res.chunk); phys_put(h); }
                break;
            }
            copied++;
        }
        /* Counted now, published (RESIDENT, pinned) only after the copies' event exists:
         * a chunk other threads can see as resident always carries its arrival fence. */
        pthread_mutex_lock(&hmt_map_lock);
        c->handle = h;
        if (emu) hmt_res.resident_bytes += hmt_res.chunk;  /* real: counted by create_chunk */
        uint64_t res = hmt_res.resident_bytes;
        pthread_mutex_unlock(&hmt_map_lock);
        HMT_GAUGE_MAX(peak_resident_bytes, res);
        HMT_STAT_ADD(faults, 1);
        HMT_STAT_ADD(bytes_faulted, hmt_res.chunk);
        hmt_hints_note_fault(chunk_va(c), hmt_res.chunk);
    }
    hmt_nvme_tier_fetch_end();
    HMT_GAUGE_SET(resident_bytes, hmt_res_resident());
    struct hmt_fence *f = copied ? hmt_fence_get() : NULL;
    if (!copied) {
        publish_resident(m, done, op, seq, NULL);
        return r;
    }
    if (f && hmt_real.cuEventRecord(f->ev, hmt_res.copy_stream) == CUDA_SUCCESS &&
        hmt_real.cuStreamWaitEvent(op->stream, f->ev, 0) == CUDA_SUCCESS) {
        f->stream = hmt_res.copy_stream;
    } else {
        /* No event: order the hard way. */
        hmt_real.cuStreamSynchronize(hmt_res.copy_stream);
        count_host_sync(op->on_launch_path);
        hmt_fence_put(f);
        f = NULL;
    }
    publish_resident(m, done, op, seq, f);
    for (int i = 0; i < done; i++)
        if (m[i]->backing.tier >= 0) hmt_backing_release(m[i], f);
    hmt_fence_put(f);
    return r;
}

/* ---- operations ------------------------------------------------------------------------ */

void hmt_op_init(struct hmt_op *op, CUstream stream, int on_launch_path)
{
    memset(op, 0, sizeof(*op));
    op->stream = stream;
    op->on_launch_path = on_launch_path;
    op->ranges = op->inline_ranges;
    op->capranges = (int)(sizeof(op->inline_ranges) / sizeof(op->inline_ranges[0]));
    op->pinned = op->inline_pinned;
    op->cappinned = (int)(sizeof(op->inline_pinned) / sizeof(op->inline_pinned[0]));
}

static void drop_waits(struct hmt_op *op);

void hmt_op_free(struct hmt_op *op)
{
    drop_waits(op);
    free(op->waits);
    op->waits = NULL;
    op->capwaits = 0;
    if (op->ranges != op->inline_ranges) free(op->ranges);
    if (op->pinned != op->inline_pinned) free(op->pinned);
    op->ranges = op->inline_ranges;
    op->pinned = op->inline_pinned;
    op->cappinned = (int)(sizeof(op->inline_pinned) / sizeof(op->inline_pinned[0]));
    op->nranges = op->npinned = 0;
}

static void push_range(struct hmt_op *op, CUdeviceptr lo, CUdeviceptr hi)
{
    for (int i = 0; i < op->nranges; i++)
        if (op->ranges[i].lo == lo && op->ranges[i].hi == hi) return;
    if (op->nranges == op->capranges) {
        int nc = op->capranges * 2;
        struct hmt_range *nr = malloc((size_t)nc * sizeof(*nr));
        if (!nr) abort();
        memcpy(nr, op->ranges, (size_t)op->nranges * sizeof(*nr));
        if (op->ranges != op->inline_ranges) free(op->ranges);
        op->ranges = nr; op->capranges = nc;
    }
    op->ranges[op->nranges].lo = lo;
    op->ranges[op->nranges].hi = hi;
    op->nranges++;
}

int hmt_op_add_range(struct hmt_op *op, CUdeviceptr addr, size_t len)
{
    if (!len || !hmt_space_maybe(addr)) return 0;
    pthread_mutex_lock(&hmt_map_lock);
    struct hmt_alloc *a = hmt_space_find(addr);
    if (a) {
        CUdeviceptr end = a->base + a->reserved;
        CUdeviceptr hi = (len > end - addr) ? end : addr + len;
        push_range(op, addr, hi);
    }
    pthread_mutex_unlock(&hmt_map_lock);
    return a != NULL;
}

int hmt_op_add_ref(struct hmt_op *op, CUdeviceptr addr)
{
    if (!hmt_space_maybe(addr)) return 0;
    pthread_mutex_lock(&hmt_map_lock);
    struct hmt_alloc *a = hmt_space_find(addr);
    if (a) {
        CUdeviceptr lo = a->base, hi = a->base + a->reserved, ts;
        size_t tl;
        int tier;
        if (hmt_hints_tensor_at(addr, &ts, &tl, &tier) == 1) {
            if (ts > lo) lo = ts;
            if (ts + tl < hi) hi = ts + tl;
            if (hi <= lo) { lo = a->base; hi = a->base + a->reserved; }
        }
        push_range(op, lo, hi);
    }
    pthread_mutex_unlock(&hmt_map_lock);
    return a != NULL;
}

/* map lock held: op's stream must wait for f (a chunk's arrival fence). */
static void add_wait(struct hmt_op *op, struct hmt_fence *f)
{
    for (int i = 0; i < op->nwaits; i++)
        if (op->waits[i] == f) return;
    if (op->nwaits == op->capwaits) {
        int nc = op->capwaits ? op->capwaits * 2 : 4;
        struct hmt_fence **nw = realloc(op->waits, (size_t)nc * sizeof(*nw));
        if (!nw) abort();
        op->waits = nw; op->capwaits = nc;
    }
    hmt_fence_ref(f);
    op->waits[op->nwaits++] = f;
}

static void drop_waits(struct hmt_op *op)
{
    for (int i = 0; i < op->nwaits; i++) hmt_fence_put(op->waits[i]);
    op->nwaits = 0;
}

/* Orders op's stream after the fault-in copies of chunks it pinned but did not fault in
 * itself (an event wait on the device, no host sync). Arrival fences seen complete are
 * cleared from the chunks, so later operations skip the query. */
static void apply_waits(struct hmt_op *op)
{
    int done = 0;
    for (int i = 0; i < op->nwaits; i++) {
        struct hmt_fence *f = op->waits[i];
        if (hmt_real.cuEventQuery(f->ev) == CUDA_SUCCESS) { done = 1; continue; }
        hmt_real.cuStreamWaitEvent(op->stream, f->ev, 0);
        op->waits[i] = NULL;
        hmt_fence_put(f);
    }
    if (done) {
        pthread_mutex_lock(&hmt_map_lock);
        for (int i = 0; i < op->npinned; i++) {
            struct hmt_chunk *c = op->pinned[i];
            for (int k = 0; c->arrival && k < op->nwaits; k++)
                if (op->waits[k] == c->arrival) { hmt_fence_put(c->arrival); c->arrival = NULL; }
        }
        pthread_mutex_unlock(&hmt_map_lock);
    }
    for (int i = 0; i < op->nwaits; i++) hmt_fence_put(op->waits[i]);
    op->nwaits = 0;
}

struct collect {
    struct hmt_op *op;
    uint64_t gen, seq;
    struct hmt_chunk **missing;
    int nmissing, capmissing;
    int record_missing;
};

static void collect_chunk(struct collect *cl, struct hmt_chunk *c)
{
    if (c->mark == cl->gen) return;
    c->mark = cl->gen;
    if (c->state == HMT_CHUNK_RESIDENT) {
        pin(cl->op, c);
        hmt_policy_touch(c, cl->seq);
        if (c->arrival) add_wait(cl->op, c->arrival);
        return;
    }
    cl->nmissing++;
    if (!cl->record_missing) return;
    if (cl->nmissing > cl->capmissing) {
        int nc = cl->capmissing ? cl->capmissing * 2 : 32;
        struct hmt_chunk **nm = realloc(cl->missing, (size_t)nc * sizeof(*nm));
        if (!nm) abort();
        cl->missing = nm; cl->capmissing = nc;
    }
    cl->missing[cl->nmissing - 1] = c;
}

static void collect_alloc(struct hmt_alloc *a, void *arg)
{
    for (uint32_t i = 0; i < a->nchunks; i++) collect_chunk(arg, &a->chunks[i]);
}

/* map lock held */
static void collect_all(struct collect *cl)
{
    struct hmt_op *op = cl->op;
    if (op->all) { hmt_space_each(collect_alloc, cl); return; }
    for (int i = 0; i < op->nranges; i++) {
        struct hmt_alloc *a = hmt_space_find(op->ranges[i].lo);
        if (!a) continue;   /* freed since it was added */
        size_t first = (op->ranges[i].lo - a->base) / hmt_res.chunk;
        size_t last = (op->ranges[i].hi - 1 - a->base) / hmt_res.chunk;
        if (last >= a->nchunks) last = a->nchunks - 1;
        for (size_t k = first; k <= last; k++) collect_chunk(cl, &a->chunks[k]);
    }
}

static void unpin_all(struct hmt_op *op)
{
    for (int i = 0; i < op->npinned; i++)
        if (--op->pinned[i]->users == 0) hmt_res.pinned_chunks--;
    op->npinned = 0;
}

CUresult hmt_op_prepare(struct hmt_op *op)
{
    if (!op->nranges && !op->all) return CUDA_SUCCESS;
    /* Work enqueued on a capturing stream runs only when its graph is launched: nothing to
     * fault in now, no fence to record (the graph launch handles both). */
    CUstreamCaptureStatus cst = CU_STREAM_CAPTURE_STATUS_NONE;
    CUresult cr = hmt_real.cuStreamIsCapturing ? hmt_real.cuStreamIsCapturing(op->stream, &cst)
                                               : CUDA_ERROR_NOT_SUPPORTED;
    if ((cr == CUDA_SUCCESS && cst != CU_STREAM_CAPTURE_STATUS_NONE) ||
        cr == CUDA_ERROR_STREAM_CAPTURE_IMPLICIT) {
        op->capturing = 1;
        return CUDA_SUCCESS;
    }
    /* emulated, seed's model: every use pays, nothing is cached or decided (emulate.h) */
    if (hmt_emulate_every_use()) return hmt_emulate_every_use_op(op);
    uint64_t seq = __atomic_add_fetch(&hmt_res.seq, 1, __ATOMIC_RELAXED);
    struct collect cl = { .op = op, .seq = seq };

    /* Fast path: everything resident -> pin and go. */
    cl.gen = atomic_fetch_add(&mark_gen, 1) + 1;
    pthread_mutex_lock(&hmt_map_lock);
    collect_all(&cl);
    if (cl.nmissing == 0) {
        pthread_mutex_unlock(&hmt_map_lock);
        apply_waits(op);
        return CUDA_SUCCESS;
    }
    unpin_all(op);   /* never wait for the move lock while holding pins */
    pthread_mutex_unlock(&hmt_map_lock);
    drop_waits(op);

    if (hmt_opt.test_skip_faultin) return CUDA_SUCCESS;   /* negative control: tests only */

    /* stall_ns: host time from here (something must move) until the operation may go on.
     * GPU-side waits on the fault-in copies' events come on top and are not counted. */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_mutex_lock(&hmt_move_lock);
    cl.gen = atomic_fetch_add(&mark_gen, 1) + 1;
    cl.nmissing = 0;
    cl.record_missing = 1;
    pthread_mutex_lock(&hmt_map_lock);
    collect_all(&cl);
    uint64_t want = (uint64_t)(op->npinned + cl.nmissing) * hmt_res.chunk;
    pthread_mutex_unlock(&hmt_map_lock);
    CUresult r = CUDA_SUCCESS;
    if (want > hmt_res.budget) {
        HMT_WARN_ONCE("an operation needs %llu bytes resident at once, over the budget of %llu; "
                      "it fails with out-of-memory (raise HMT_HBM_LIMIT)",
                      (unsigned long long)want, (unsigned long long)hmt_res.budget);
        r = CUDA_ERROR_OUT_OF_MEMORY;
    }
    if (r == CUDA_SUCCESS && cl.nmissing)
        r = ensure_budget((uint64_t)cl.nmissing * hmt_res.chunk, op->on_launch_path, op->npinned);
    if (r == CUDA_SUCCESS && cl.nmissing) r = move_in(cl.missing, cl.nmissing, op, seq);
    if (r != CUDA_SUCCESS) {
        pthread_mutex_lock(&hmt_map_lock);
        unpin_all(op);
        pthread_mutex_unlock(&hmt_map_lock);
    }
    phys_trim();
    pthread_mutex_unlock(&hmt_move_lock);
    free(cl.missing);
    if (r == CUDA_SUCCESS) apply_waits(op); else drop_waits(op);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    HMT_STAT_ADD(stall_ns, (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec)));
    return r;
}

/* Staging window (hints room): chunks the hints place in CPU/SSD visit the GPU for the
 * operations that use them; once their resident bytes exceed the window, the least recently
 * used ones not pinned by an operation go back to their tier. Runs after an operation has
 * unpinned, with no lock held. One batch per call: a refused eviction ends it. */
static void trim_staging(int on_launch_path)
{
    struct hmt_chunk *batch[64];
    int n = 0;
    pthread_mutex_lock(&hmt_move_lock);
    pthread_mutex_lock(&hmt_map_lock);
    uint64_t window = hmt_hints_staging_bytes(hmt_res.chunk);
    while (hmt_policy_cold_bytes() > window && n < 64) {
        struct hmt_chunk *c = hmt_policy_cold_victim(victim_ok, NULL);
        if (!c) break;
        c->state = HMT_CHUNK_EVICTING;
        hmt_policy_gone(c);
        batch[n++] = c;
    }
    pthread_mutex_unlock(&hmt_map_lock);
    CUresult err = CUDA_SUCCESS;
    if (n) {
        /* count the chunks that left, not those chosen: a refused or untried one stays */
        uint64_t freed = move_out(batch, n, on_launch_path, &err);
        HMT_STAT_ADD(staging_evictions, freed / hmt_res.chunk);
        /* the window is a bound on device memory: the chunks leave now, not at the next
         * residency transition (as before evictions stopped waiting for their copy-outs) */
        hmt_res_settle_copyouts();
    }
    phys_trim();
    pthread_mutex_unlock(&hmt_move_lock);
}

void hmt_op_finish(struct hmt_op *op, int ok)
{
    if (!op->npinned) return;
    struct hmt_fence *f = NULL;
    if (ok) {
        f = hmt_fence_get();
        if (f && hmt_real.cuEventRecord(f->ev, op->stream) == CUDA_SUCCESS) {
            f->stream = op->stream;
        } else {
            /* Without a fence nothing proves the work is done: wait for it now. */
            hmt_fence_put(f);
            f = NULL;
            hmt_real.cuStreamSynchronize(op->stream);
            count_host_sync(op->on_launch_path);
        }
    }
    pthread_mutex_lock(&hmt_map_lock);
    for (int i = 0; i < op->npinned; i++) {
        if (f) fence_attach(op->pinned[i], f);
        if (--op->pinned[i]->users == 0) hmt_res.pinned_chunks--;
    }
    op->npinned = 0;
    pthread_mutex_unlock(&hmt_map_lock);
    hmt_fence_put(f);
    if (HMT_UNLIKELY(hmt_policy_cold_bytes() > hmt_hints_staging_bytes(hmt_res.chunk)))
        trim_staging(op->on_launch_path);
}

/* ---- allocation ------------------------------------------------------------------------ */

CUresult hmt_res_alloc(CUdeviceptr *dptr, size_t bytes)
{
    size_t chunk = hmt_res.chunk;
    if (bytes > SIZE_MAX - chunk) return CUDA_ERROR_OUT_OF_MEMORY;
    size_t reserved = (bytes + chunk - 1) / chunk * chunk;
    if (reserved > hmt_res.budget) {
        /* warn: otherwise users see only their program's out-of-memory error */
        HMT_WARN_ONCE("allocation of %zu bytes is larger than the budget (%llu bytes, HMT_HBM_LIMIT): "
                      "CUDA_ERROR_OUT_OF_MEMORY", bytes, (unsigned long long)hmt_res.budget);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    size_t n = reserved / chunk;
    struct hmt_alloc *a = calloc(1, sizeof(*a));
    struct hmt_chunk *cs = calloc(n, sizeof(*cs));
    if (!a || !cs) { free(a); free(cs); return CUDA_ERROR_OUT_OF_MEMORY; }
    CUdeviceptr va = 0;
    CUresult r = hmt_real.cuMemAddressReserve(&va, reserved, chunk, 0, 0);
    if (r != CUDA_SUCCESS) { free(a); free(cs); return r; }
    a->base = va; a->size = bytes; a->reserved = reserved; a->nchunks = (uint32_t)n;
    a->id = atomic_fetch_add(&next_buffer_id, 1);
    a->chunks = cs;
    for (size_t i = 0; i < n; i++) {
        cs[i].alloc = a;
        cs[i].index = (uint32_t)i;
        cs[i].state = HMT_CHUNK_EVICTED;
        cs[i].backing.tier = -1;
    }

    pthread_mutex_lock(&hmt_move_lock);
    r = ensure_budget(reserved, 0, 0);
    if (r == CUDA_ERROR_OUT_OF_MEMORY)
        HMT_WARN_ONCE("allocation of %zu bytes does not fit in the budget (%llu bytes, HMT_HBM_LIMIT): "
                      "nothing left to evict (all resident chunks in use): CUDA_ERROR_OUT_OF_MEMORY",
                      bytes, (unsigned long long)hmt_res.budget);
    size_t made = 0;
    int pending = 0;
    for (; r == CUDA_SUCCESS && made < n; made++) {
        CUmemGenericAllocationHandle h;
        r = create_chunk(&h, 0, &pending);
        if (r != CUDA_SUCCESS) break;
        r = map_chunk(va + made * chunk, h);
        if (r != CUDA_SUCCESS) { phys_put(h); break; }
        cs[made].handle = h;
        cs[made].state = HMT_CHUNK_RESIDENT;
    }
    if (r != CUDA_SUCCESS) {
        for (size_t i = 0; i < made; i++) {
            hmt_real.cuMemUnmap(va + i * chunk, chunk);
            phys_put(cs[i].handle);
        }
        phys_trim();
        pthread_mutex_unlock(&hmt_move_lock);
        hmt_real.cuMemAddressFree(va, reserved);
        free(cs); free(a);
        return r == CUDA_ERROR_OUT_OF_MEMORY ? r : CUDA_ERROR_OUT_OF_MEMORY;
    }
    /* Handles whose previous contents are still being copied out: the new allocation's
     * users wait for that (its arrival fence), as after a fault-in. */
    struct hmt_fence *arrive = NULL;
    if (pending) {
        arrive = hmt_fence_get();
        if (!arrive || hmt_real.cuEventRecord(arrive->ev, hmt_res.copy_stream) != CUDA_SUCCESS) {
            hmt_fence_put(arrive);
            arrive = NULL;
            hmt_real.cuStreamSynchronize(hmt_res.copy_stream);
        } else {
            arrive->stream = hmt_res.copy_stream;
        }
    }
    uint64_t seq = __atomic_add_fetch(&hmt_res.seq, 1, __ATOMIC_RELAXED);
    pthread_mutex_lock(&hmt_map_lock);
    for (size_t i = 0; i < n && arrive; i++) { hmt_fence_ref(arrive); cs[i].arrival = arrive; }
    hmt_space_insert(a);
    for (size_t i = 0; i < n; i++) { hmt_policy_resident(&cs[i]); cs[i].last_use = seq; }
    pthread_mutex_unlock(&hmt_map_lock);
    hmt_fence_put(arrive);
    phys_trim();
    pthread_mutex_lock(&hmt_map_lock);
    uint64_t res = hmt_res.resident_bytes;
    pthread_mutex_unlock(&hmt_map_lock);
    pthread_mutex_unlock(&hmt_move_lock);
    HMT_GAUGE_MAX(peak_resident_bytes, res);
    HMT_GAUGE_SET(resident_bytes, res);
    managed_add((int64_t)reserved);
    hmt_hints_note_alloc(va, bytes);
    *dptr = va;
    return CUDA_SUCCESS;
}

CUresult hmt_res_free(CUdeviceptr dptr)
{
    pthread_mutex_lock(&hmt_move_lock);
    pthread_mutex_lock(&hmt_map_lock);
    struct hmt_alloc *a = hmt_space_find(dptr);
    if (!a || a->base != dptr) {
        pthread_mutex_unlock(&hmt_map_lock);
        pthread_mutex_unlock(&hmt_move_lock);
        return a ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_NOT_FOUND;
    }
    hmt_space_remove(a);
    size_t nf = 0;
    for (uint32_t i = 0; i < a->nchunks; i++) { hmt_policy_gone(&a->chunks[i]); nf += (size_t)a->chunks[i].nfences; }
    pthread_mutex_unlock(&hmt_map_lock);

    /* cuMemFree waits for the device like the driver's does: nothing is unmapped under work
     * that may still use it (invariant 2). The fault-in copies are on the copy stream.
     * Its error (a sticky one of the context) is what the driver's cuMemFree would answer. */
    CUresult synced = hmt_real.cuStreamSynchronize(hmt_res.copy_stream);
    reap_unmaps(1);   /* every old VA (this allocation's and others') is unmapped now */
    for (uint32_t i = 0; i < a->nchunks; i++)
        for (int k = 0; k < a->chunks[i].nfences; k++)
            hmt_real.cuEventSynchronize(a->chunks[i].fences[k]->ev);
    (void)nf;
    uint64_t freed = 0;
    for (uint32_t i = 0; i < a->nchunks; i++) {
        struct hmt_chunk *c = &a->chunks[i];
        /* emulated mode: an "evicted" chunk is still mapped and holds its handle */
        if (c->state == HMT_CHUNK_RESIDENT || (hmt_emulating() && c->handle)) {
            hmt_real.cuMemUnmap(chunk_va(c), hmt_res.chunk);
            hmt_real.cuMemRelease(c->handle);
            if (c->state == HMT_CHUNK_RESIDENT) freed += hmt_res.chunk;
        }
        if (c->backing.tier >= 0) hmt_backing_release(c, NULL);
    }
    hmt_real.cuMemAddressFree(a->base, a->reserved);
    pthread_mutex_lock(&hmt_map_lock);
    for (uint32_t i = 0; i < a->nchunks; i++) { fences_drop(&a->chunks[i]); free(a->chunks[i].fences); }
    hmt_res.resident_bytes -= freed;
    uint64_t res = hmt_res.resident_bytes;
    pthread_mutex_unlock(&hmt_map_lock);
    pthread_mutex_unlock(&hmt_move_lock);
    HMT_GAUGE_SET(resident_bytes, res);
    managed_add(-(int64_t)a->reserved);
    hmt_hints_note_free(a->base, a->size);
    free(a->chunks);
    free(a);
    return synced;
}

/* Engages the handlers once options are parsed (options.c's constructor has priority 102):
 * a budget or a hints file, and HMT_MODE not off. Without both, every handler forwards at
 * once and hmt changes nothing the program can observe (invariant 7). */
__attribute__((constructor(103))) static void residency_engage(void)
{
    hmt_options_init();
    if (hmt_passthrough()) return;
    if (hmt_opt.hbm_limit.set || (hmt_opt.hints && *hmt_opt.hints)) hmt_engaged = 1;
}
