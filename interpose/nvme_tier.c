/* nvme_tier.c — the SSD tier as a residency backing: the glue between the movers
 * (residency.c, res_backing.c, under hmt_move_lock) and the spill file (nvme.c).
 *
 * Shaped so that the movers stay as they are: an SSD-bound chunk is evicted exactly like a
 * host-tier one (copy-out into a pinned host slot), then written from that slot to the spill
 * file as soon as its own copy-out is done (an event per chunk; the writes of early chunks
 * overlap the copy-outs of later ones), and the slot is freed. Fault-in reads the chunks of
 * an operation into host staging slots on a reader thread, while the mover maps chunks and
 * enqueues each chunk's host->device copy the moment its own read has completed.
 * Everything here is serialised by hmt_move_lock except the reader thread, which touches
 * only the current fetch job (under fetch_lock, a leaf).
 */
#define _GNU_SOURCE
#include "nvme_tier.h"
#include "emulate.h"
#include "hints.h"
#include "nvme.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tier_state;   /* 0 not tried, 1 spill file open, -1 unavailable (nvme.c said why) */

/* The spill file, opened the first time a chunk wants it. */
static int tier_on(void)
{
    if (!tier_state)
        tier_state = hmt_nvme_init(hmt_res.chunk) == 0 ? 1 : -1;
    return tier_state > 0;
}

static CUdeviceptr chunk_va(const struct hmt_chunk *c)
{
    return c->alloc->base + (CUdeviceptr)c->index * hmt_res.chunk;
}

/* "tensor 'name'" or "allocation 0x... + offset", for one-line errors. */
static void describe(const struct hmt_chunk *c, char *out, size_t cap)
{
    CUdeviceptr va = chunk_va(c);
    const char *name = hmt_hints_name_at(va);
    if (name)
        snprintf(out, cap, "tensor '%s' (chunk at 0x%llx)", name, (unsigned long long)va);
    else
        snprintf(out, cap, "allocation 0x%llx (chunk at offset %llu)",
                 (unsigned long long)c->alloc->base,
                 (unsigned long long)(va - c->alloc->base));
}

/* ---- evict: copy-out to a host slot, then on to the spill file ------------------------- */

struct staged { struct hmt_chunk *c; struct hmt_fence *copied; };
static struct staged *stg;
static int nstg, capstg;

void hmt_nvme_tier_reserved(struct hmt_chunk *c)
{
    if (hmt_hints_tier_of(chunk_va(c), hmt_res.chunk) != HMT_TIER_SSD || !tier_on())
        return;
    if (nstg == capstg) {
        int nc = capstg ? capstg * 2 : 64;
        struct staged *p = realloc(stg, (size_t)nc * sizeof *p);
        if (!p)
            return;   /* it stays in the host tier */
        stg = p;
        capstg = nc;
    }
    stg[nstg++] = (struct staged){ c, NULL };
}

static int staged_find(const struct hmt_chunk *c)
{
    for (int i = nstg - 1; i >= 0; i--)
        if (stg[i].c == c)
            return i;
    return -1;
}

static void staged_drop(int i)
{
    hmt_fence_put(stg[i].copied);
    stg[i] = stg[--nstg];
}

void hmt_nvme_tier_stored(struct hmt_chunk *c)
{
    int i = nstg ? staged_find(c) : -1;
    if (i < 0)
        return;
    struct hmt_fence *f = hmt_fence_get();
    if (!f || hmt_real.cuEventRecord(f->ev, hmt_res.copy_stream) != CUDA_SUCCESS) {
        hmt_fence_put(f);
        staged_drop(i);   /* no way to know when its copy is done: it stays in the host tier */
        return;
    }
    f->stream = hmt_res.copy_stream;
    stg[i].copied = f;
}

/* Spill file write of chunk i may start once its copy-out has completed. */
static int spill_ready(unsigned i, void *arg)
{
    struct hmt_fence **copied = arg;
    return hmt_real.cuEventSynchronize(copied[i]->ev) == CUDA_SUCCESS ? 0 : -EIO;
}

/* Writes n host-tier chunks to the spill file from their host slots, which are freed for the
 * chunks stored. `copied` (may be NULL) gates each write on that chunk's copy-out. Returns
 * how many moved to the SSD tier. */
static int write_out(struct hmt_chunk **cs, struct hmt_fence **copied, int n)
{
    void **bufs = calloc((size_t)n, sizeof *bufs);
    int64_t *slots = calloc((size_t)n, sizeof *slots);
    int *errs = calloc((size_t)n, sizeof *errs);
    int moved = 0;
    if (n > 0 && bufs && slots && errs) {
        for (int i = 0; i < n; i++)
            bufs[i] = cs[i]->backing.host;
        hmt_nvme_write((unsigned)n, bufs, hmt_res.chunk, slots, errs,
                       copied ? spill_ready : NULL, copied);
        for (int i = 0; i < n; i++) {
            if (errs[i])
                continue;   /* nvme.c said why, once; the chunk stays in the host tier */
            struct hmt_chunk *c = cs[i];
            hmt_hostpool_put(c->backing.host, NULL);
            c->backing.host = NULL;
            c->backing.tier = HMT_TIER_SSD;
            c->backing.nvme_slot = (uint64_t)slots[i];
            moved++;
        }
    }
    free(bufs);
    free(slots);
    free(errs);
    return moved;
}

void hmt_nvme_tier_spill(void)
{
    if (!nstg)
        return;
    struct hmt_chunk **cs = malloc((size_t)nstg * sizeof *cs);
    struct hmt_fence **fs = malloc((size_t)nstg * sizeof *fs);
    int n = 0;
    for (int i = 0; cs && fs && i < nstg; i++)
        if (stg[i].copied && stg[i].c->backing.tier == HMT_TIER_CPU) {
            cs[n] = stg[i].c;
            fs[n++] = stg[i].copied;
        }
    if (n)
        write_out(cs, fs, n);
    while (nstg)
        staged_drop(nstg - 1);
    free(cs);
    free(fs);
}

/* ---- host-tier overflow ----------------------------------------------------------------- */

struct cand { struct hmt_chunk *c; uint64_t last_use; };
struct scan { struct cand *v; size_t n, cap; struct hmt_chunk **skip; int nskip; };

static int ptr_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)*(struct hmt_chunk *const *)a, y = (uintptr_t)*(struct hmt_chunk *const *)b;
    return (x > y) - (x < y);
}

static int cand_cmp(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    return (x->last_use > y->last_use) - (x->last_use < y->last_use);
}

/* Map lock held: every evicted host-tier chunk not in s->skip. */
static void scan_alloc(struct hmt_alloc *a, void *arg)
{
    struct scan *s = arg;
    for (uint32_t k = 0; k < a->nchunks; k++) {
        struct hmt_chunk *c = &a->chunks[k];
        if (c->state != HMT_CHUNK_EVICTED || c->backing.tier != HMT_TIER_CPU || !c->backing.host)
            continue;
        if (s->nskip && bsearch(&c, s->skip, (size_t)s->nskip, sizeof c, ptr_cmp))
            continue;
        if (s->n == s->cap) {
            size_t nc = s->cap ? s->cap * 2 : 256;
            struct cand *p = realloc(s->v, nc * sizeof *p);
            if (!p)
                return;
            s->v = p;
            s->cap = nc;
        }
        s->v[s->n++] = (struct cand){ c, c->last_use };
    }
}

/* Demotes up to a batch of the least recently used evicted host-tier chunks, never one of
 * skip[0..nskip) (sorted by address). */
static int make_room(struct hmt_chunk **skip, int nskip)
{
    if (!tier_on())
        return 0;
    struct scan s = { .skip = skip, .nskip = nskip };
    pthread_mutex_lock(&hmt_map_lock);
    hmt_space_each(scan_alloc, &s);
    pthread_mutex_unlock(&hmt_map_lock);
    int moved = 0;
    if (s.n) {
        qsort(s.v, s.n, sizeof *s.v, cand_cmp);
        int batch = s.n < 32 ? (int)s.n : 32;
        struct hmt_chunk *cs[32];
        for (int i = 0; i < batch; i++)
            cs[i] = s.v[i].c;
        moved = write_out(cs, NULL, batch);
    }
    free(s.v);
    return moved;
}

int hmt_nvme_tier_make_room(void)
{
    return make_room(NULL, 0);
}

/* ---- fault in: read into staging slots on a reader thread ------------------------------- */

/* The current fetch (one at a time: move_in runs under the move lock). `done` and `errs`
 * are written by the reader thread under fetch_lock. */
static struct {
    int n;
    struct hmt_chunk **cs;
    void **bufs;
    int64_t *slots;
    int *errs;
    char *done, *used;
    int posted, finished;
} job;
static pthread_mutex_t fetch_lock = PTHREAD_MUTEX_INITIALIZER;   /* leaf */
static pthread_cond_t fetch_cv = PTHREAD_COND_INITIALIZER;
static int reader_state;   /* 0 not started, 1 running, -1 cannot start: read inline */

static void on_read(unsigned i, int err, void *arg)
{
    (void)arg;
    pthread_mutex_lock(&fetch_lock);
    job.errs[i] = err;
    job.done[i] = 1;
    pthread_cond_broadcast(&fetch_cv);
    pthread_mutex_unlock(&fetch_lock);
}

static void run_job(void)
{
    int *errs = malloc((size_t)job.n * sizeof *errs);
    if (!errs) {
        for (int i = 0; i < job.n; i++)
            on_read((unsigned)i, -ENOMEM, NULL);
    } else {
        /* errs here is the reader's own array; on_read publishes each result under the lock */
        hmt_nvme_read((unsigned)job.n, job.bufs, hmt_res.chunk, job.slots, errs, on_read, NULL);
        free(errs);
    }
    pthread_mutex_lock(&fetch_lock);
    job.finished = 1;
    pthread_cond_broadcast(&fetch_cv);
    pthread_mutex_unlock(&fetch_lock);
}

static void *reader_main(void *unused)
{
    (void)unused;
    for (;;) {
        pthread_mutex_lock(&fetch_lock);
        while (!job.posted || job.finished)
            pthread_cond_wait(&fetch_cv, &fetch_lock);
        pthread_mutex_unlock(&fetch_lock);
        run_job();
    }
    return NULL;
}

/* A forked child has no reader thread (and the lock may have been held by it): start over. */
static void reader_atfork_child(void)
{
    pthread_mutex_init(&fetch_lock, NULL);
    pthread_cond_init(&fetch_cv, NULL);
    reader_state = 0;
    memset(&job, 0, sizeof job);   /* the parent's job buffers are the parent's business */
}

static void reader_atfork(void)
{
    pthread_atfork(NULL, NULL, reader_atfork_child);
}

static void job_free(void)
{
    free(job.cs);
    free(job.bufs);
    free(job.slots);
    free(job.errs);
    free(job.done);
    free(job.used);
    memset(&job, 0, sizeof job);
}

void hmt_nvme_tier_fetch(struct hmt_chunk **m, int n)
{
    if (hmt_emulating())
        return;   /* emulated SSD-tier chunks have no bytes anywhere (emulate.c) */
    int k = 0;
    for (int i = 0; i < n; i++)
        k += m[i]->backing.tier == HMT_TIER_SSD;
    if (!k)
        return;
    job.cs = calloc((size_t)k, sizeof *job.cs);
    job.bufs = calloc((size_t)k, sizeof *job.bufs);
    job.slots = calloc((size_t)k, sizeof *job.slots);
    job.errs = calloc((size_t)k, sizeof *job.errs);
    job.done = calloc((size_t)k, 1);
    job.used = calloc((size_t)k, 1);
    struct hmt_chunk **skip = malloc((size_t)n * sizeof *skip);
    if (!job.cs || !job.bufs || !job.slots || !job.errs || !job.done || !job.used || !skip) {
        job_free();
        free(skip);
        return;   /* each load then reads on its own (hmt_nvme_tier_load) */
    }
    memcpy(skip, m, (size_t)n * sizeof *skip);
    qsort(skip, (size_t)n, sizeof *skip, ptr_cmp);
    for (int i = 0; i < n; i++) {
        struct hmt_chunk *c = m[i];
        if (c->backing.tier != HMT_TIER_SSD)
            continue;
        void *slot = hmt_hostpool_get();
        if (!slot && make_room(skip, n) > 0)   /* never demote what we are bringing in */
            slot = hmt_hostpool_get();
        if (!slot)
            break;   /* the rest read on their own in hmt_nvme_tier_load */
        c->backing.host = slot;
        job.cs[job.n] = c;
        job.bufs[job.n] = slot;
        job.slots[job.n] = (int64_t)c->backing.nvme_slot;
        job.n++;
    }
    free(skip);
    if (!job.n) {
        job_free();
        return;
    }
    if (!reader_state) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        pthread_once(&once, reader_atfork);
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        reader_state = pthread_create(&t, &a, reader_main, NULL) == 0 ? 1 : -1;
        pthread_attr_destroy(&a);
    }
    pthread_mutex_lock(&fetch_lock);
    job.posted = 1;
    job.finished = 0;
    pthread_cond_broadcast(&fetch_cv);
    pthread_mutex_unlock(&fetch_lock);
    if (reader_state < 0)
        run_job();   /* no thread: read everything now (no overlap, same result) */
}

/* Reads one chunk with no staging slot from the fetch: into a bounce buffer, then a
 * synchronous copy (rare: the host pool is exhausted and nothing could be demoted). */
static CUresult load_alone(struct hmt_chunk *c, CUdeviceptr va, int *err)
{
    void *buf = NULL;
    if (posix_memalign(&buf, 4096, hmt_res.chunk)) {
        *err = -ENOMEM;
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    int64_t slot = (int64_t)c->backing.nvme_slot;
    int rc = hmt_nvme_read(1, &buf, hmt_res.chunk, &slot, err, NULL, NULL);
    CUresult r = rc ? CUDA_ERROR_UNKNOWN : hmt_real.cuMemcpyHtoD_v2(va, buf, hmt_res.chunk);
    free(buf);
    return r;
}

CUresult hmt_nvme_tier_load(struct hmt_chunk *c, CUdeviceptr va)
{
    int i = 0, err = 0;
    while (i < job.n && job.cs[i] != c)
        i++;
    CUresult r;
    if (i == job.n) {
        r = load_alone(c, va, &err);
    } else {
        pthread_mutex_lock(&fetch_lock);
        while (!job.done[i])
            pthread_cond_wait(&fetch_cv, &fetch_lock);
        err = job.errs[i];
        pthread_mutex_unlock(&fetch_lock);
        job.used[i] = 1;
        r = err ? CUDA_ERROR_UNKNOWN
                : hmt_real.cuMemcpyHtoDAsync_v2(va, c->backing.host, hmt_res.chunk, hmt_res.copy_stream);
        if (r != CUDA_SUCCESS)
            job.used[i] = 0;   /* not loaded: fetch_end returns its staging slot */
    }
    if (err) {
        char what[256];
        describe(c, what, sizeof what);
        HMT_ERR("cannot read %s back from the spill file in %s (%s); the operation that needs it "
                "fails (its data is only on disk)", what,
                hmt_opt.nvme_dir && *hmt_opt.nvme_dir ? hmt_opt.nvme_dir : "the spill folder",
                strerror(-err));
    }
    return r;
}

void hmt_nvme_tier_fetch_end(void)
{
    if (!job.n)
        return;
    pthread_mutex_lock(&fetch_lock);
    while (!job.finished)
        pthread_cond_wait(&fetch_cv, &fetch_lock);
    job.posted = 0;
    pthread_mutex_unlock(&fetch_lock);
    for (int i = 0; i < job.n; i++) {
        struct hmt_chunk *c = job.cs[i];
        if (job.used[i] || c->backing.tier != HMT_TIER_SSD || c->backing.host != job.bufs[i])
            continue;
        hmt_hostpool_put(c->backing.host, NULL);   /* its read is over; it stays on SSD */
        c->backing.host = NULL;
    }
    job_free();
}

void hmt_nvme_tier_release(struct hmt_chunk *c, struct hmt_fence *after)
{
    int i = nstg ? staged_find(c) : -1;
    if (i >= 0)
        staged_drop(i);
    if (c->backing.tier != HMT_TIER_SSD)
        return;
    if (c->backing.host) {
        /* the staging slot may still be read by the fault-in copy: free it after `after` */
        if (after)
            hmt_fence_ref(after);
        hmt_hostpool_put(c->backing.host, after);
        c->backing.host = NULL;
    }
    hmt_nvme_free_slot((int64_t)c->backing.nvme_slot);
}
