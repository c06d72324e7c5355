/* sim/stream.c — streams, events and the order work runs in.
 *
 * Every stream owns one worker thread that runs its queue in order. Cross-stream order
 * comes from three things, as in CUDA:
 *   - cuStreamWaitEvent enqueues a wait item: the worker blocks until the event reaches
 *     the generation recorded last before the wait call;
 *   - the legacy default stream (NULL / CU_STREAM_LEGACY in non-_ptsz calls): work on it
 *     waits for all earlier work on every blocking stream of the context, and work on a
 *     blocking stream waits for earlier work on it (recorded as seq dependencies at
 *     submit time); streams made with CU_STREAM_NON_BLOCKING take no part;
 *   - the per-thread default stream (CU_STREAM_PER_THREAD, or NULL in _ptsz/_ptds calls)
 *     is an ordinary blocking stream per (thread, context).
 * One mutex (q_mu) covers all queues and events; one condition (done_cv) is broadcast
 * whenever anything completes, which is simple and plenty at the sim's scale.
 * Work enqueued on a capturing stream becomes graph nodes instead (graph.c).
 * Once a context has a sticky error, queued work is completed without running, so waits
 * end and every synchronising call reports the error.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct CUstream_st *g_dead; /* stopped streams: kept so late dependencies resolve */

uint64_t sim_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- work items --------------------------------------------------------------------- */

void sim_work_fini(sim_work *w)
{
    switch (w->kind) {
    case W_COPY: free(w->copy.stage); break;
    case W_KERNEL: free(w->kern.buf); break;
    case W_RECORD:
    case W_WAIT:
        pthread_mutex_lock(&g_sim.q_mu);
        sim_event_unref_locked(w->kind == W_RECORD ? w->rec.ev : w->wait.ev);
        pthread_mutex_unlock(&g_sim.q_mu);
        break;
    case W_GRAPH: sim_exec_unref(w->graph.exec); break;
    default: break;
    }
    w->kind = W_NOP;
}

static void run_copy(void *arg)
{
    sim_work *w = arg;
    size_t depth = w->copy.depth ? w->copy.depth : 1;
    for (size_t z = 0; z < depth; z++)
        for (size_t y = 0; y < w->copy.height; y++)
            memmove(w->copy.dst + z * w->copy.dslice + y * w->copy.dpitch,
                    w->copy.src + z * w->copy.sslice + y * w->copy.spitch, w->copy.width);
}

static void run_set(void *arg)
{
    sim_work *w = arg;
    for (size_t y = 0; y < w->set.height; y++) {
        char *row = w->set.dst + y * w->set.pitch;
        if (w->set.elem == 1) {
            memset(row, (int)(w->set.value & 0xff), w->set.width);
        } else if (w->set.elem == 2) {
            uint16_t v = (uint16_t)w->set.value, *p = (uint16_t *)(void *)row;
            for (size_t i = 0; i < w->set.width; i++) p[i] = v;
        } else {
            uint32_t v = w->set.value, *p = (uint32_t *)(void *)row;
            for (size_t i = 0; i < w->set.width; i++) p[i] = v;
        }
    }
}

static void run_kernel(void *arg)
{
    sim_work *w = arg;
    const sim_func *d = w->kern.f;
    void *stackv[64];
    void **pp = d->nparams <= 64 ? stackv : malloc(d->nparams * sizeof *pp);
    if (!pp) return;
    for (unsigned i = 0; i < d->nparams; i++) pp[i] = w->kern.buf + d->params[i].offset;
    sim_tl_no_api = 1;
    d->desc->fn(&w->kern.launch, pp);
    sim_tl_no_api = 0;
    if (pp != stackv) free(pp);
}

/* Host<->device bandwidth model: one link per direction, copies queue on it. */
static pthread_mutex_t g_link_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t g_link_busy[2];

static void throttle(int dir, size_t bytes, uint64_t started)
{
    if (g_opt.pcie_gbps <= 0 || (dir != DIR_HD && dir != DIR_DH)) return;
    uint64_t dur = (uint64_t)((double)bytes / g_opt.pcie_gbps); /* bytes / (GB/s) = ns */
    pthread_mutex_lock(&g_link_mu);
    uint64_t *busy = &g_link_busy[dir == DIR_DH];
    uint64_t start = *busy > started ? *busy : started;
    uint64_t end = start + dur;
    *busy = end;
    pthread_mutex_unlock(&g_link_mu);
    uint64_t now = sim_now_ns();
    if (end > now) {
        struct timespec ts = {(time_t)((end - now) / 1000000000ull),
                              (long)((end - now) % 1000000000ull)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
    }
}

static void run_memop(void *arg)
{
    sim_work *w = arg;
    volatile char *a = w->memop.addr;
    if (!w->memop.wait) {
        if (w->memop.size == 4) __atomic_store_n((volatile uint32_t *)(void *)a, (uint32_t)w->memop.value, __ATOMIC_SEQ_CST);
        else __atomic_store_n((volatile uint64_t *)(void *)a, w->memop.value, __ATOMIC_SEQ_CST);
        return;
    }
    /* Poll like the GPU's front end does; a condition that never holds hangs the stream,
     * as it would on a GPU. */
    for (;;) {
        uint64_t v = w->memop.size == 4 ? __atomic_load_n((volatile uint32_t *)(void *)a, __ATOMIC_SEQ_CST)
                                        : __atomic_load_n((volatile uint64_t *)(void *)a, __ATOMIC_SEQ_CST);
        uint64_t want = w->memop.value;
        bool ok;
        switch (w->memop.cond) {
        case CU_STREAM_WAIT_VALUE_GEQ:
            ok = w->memop.size == 4 ? (int32_t)((uint32_t)v - (uint32_t)want) >= 0 : (int64_t)(v - want) >= 0;
            break;
        case CU_STREAM_WAIT_VALUE_EQ: ok = v == want; break;
        case CU_STREAM_WAIT_VALUE_AND: ok = (v & want) != 0; break;
        default: ok = (~(v | want) & (w->memop.size == 4 ? 0xffffffffull : ~0ull)) != 0; break;
        }
        if (ok) return;
        struct timespec ts = {0, 20000};
        nanosleep(&ts, NULL);
    }
}

static void fault(struct CUstream_st *s, const char *what, uintptr_t addr)
{
    if (!atomic_load(&s->ctx->sticky))
        sim_warn("%s touched device address 0x%llx that is not mapped with access: "
                 "context now returns CUDA_ERROR_ILLEGAL_ADDRESS", what,
                 (unsigned long long)addr);
    sim_ctx_set_sticky(s->ctx, CUDA_ERROR_ILLEGAL_ADDRESS);
    atomic_fetch_add(&g_sim.faults, 1);
    uintptr_t none = 0;
    atomic_compare_exchange_strong(&g_sim.first_fault, &none, addr);
}

void sim_work_run(sim_work *w, struct CUstream_st *s)
{
    bool broken = atomic_load(&s->ctx->sticky) != 0;
    uintptr_t addr = 0;
    switch (w->kind) {
    case W_COPY: {
        if (broken) break;
        uint64_t t0 = sim_now_ns();
        size_t bytes = w->copy.width * w->copy.height * (w->copy.depth ? w->copy.depth : 1);
        if (sim_guarded(run_copy, w, &addr)) {
            fault(s, "a copy", addr);
        } else {
            throttle(w->copy.dir, bytes, t0);
            if (w->copy.dir >= DIR_HD && w->copy.dir <= DIR_HH)
                atomic_fetch_add_explicit(&g_sim.copied[w->copy.dir], bytes, memory_order_relaxed);
        }
        break;
    }
    case W_SET:
        if (!broken && sim_guarded(run_set, w, &addr)) fault(s, "a memset", addr);
        break;
    case W_KERNEL: {
        if (broken) break;
        atomic_fetch_add_explicit(&g_sim.kernels_run, 1, memory_order_relaxed);
        int rc = sim_guarded(run_kernel, w, &addr);
        sim_tl_no_api = 0; /* also when a fault jumped out of the kernel */
        if (rc) {
            char what[160];
            snprintf(what, sizeof what, "kernel %s", w->kern.f->desc->name);
            fault(s, what, addr);
        }
        break;
    }
    case W_HOST:
        if (!broken) {
            sim_tl_no_api = 1;
            w->host.fn(w->host.data);
            sim_tl_no_api = 0;
        }
        break;
    case W_MEMOP:
        if (!broken && sim_guarded(run_memop, w, &addr)) fault(s, "a stream memory operation", addr);
        break;
    case W_RECORD: {
        uint64_t t = sim_now_ns();
        pthread_mutex_lock(&g_sim.q_mu);
        struct CUevent_st *e = w->rec.ev;
        if (e->done_gen < w->rec.gen) {
            e->done_gen = w->rec.gen;
            e->t_ns = t;
        }
        pthread_cond_broadcast(&g_sim.done_cv);
        pthread_mutex_unlock(&g_sim.q_mu);
        break;
    }
    case W_WAIT:
        pthread_mutex_lock(&g_sim.q_mu);
        while (w->wait.ev->done_gen < w->wait.gen) pthread_cond_wait(&g_sim.done_cv, &g_sim.q_mu);
        pthread_mutex_unlock(&g_sim.q_mu);
        break;
    case W_GRAPH:
        if (!broken) atomic_fetch_add_explicit(&g_sim.graphs_run, 1, memory_order_relaxed);
        sim_exec_run(w->graph.exec, s);
        break;
    case W_FREE:
        sim_mem_free(w->free.va);
        break;
    default: break;
    }
}

/* ---- worker --------------------------------------------------------------------------- */

static bool deps_done(const sim_op *op)
{
    for (size_t i = 0; i < op->ndeps; i++)
        if (op->deps[i].s->completed < op->deps[i].n) return false;
    return true;
}

static void *worker(void *arg)
{
    struct CUstream_st *s = arg;
    pthread_mutex_lock(&g_sim.q_mu);
    for (;;) {
        while (!s->head && !s->stop) pthread_cond_wait(&s->cv, &g_sim.q_mu);
        if (!s->head) break;
        sim_op *op = s->head;
        while (!deps_done(op)) pthread_cond_wait(&g_sim.done_cv, &g_sim.q_mu);
        pthread_mutex_unlock(&g_sim.q_mu);
        sim_work_run(&op->w, s);
        sim_work_fini(&op->w);
        pthread_mutex_lock(&g_sim.q_mu);
        s->head = op->next;
        if (!s->head) s->tail = NULL;
        s->completed = op->seq;
        pthread_cond_broadcast(&g_sim.done_cv);
        free(op->deps);
        free(op);
    }
    pthread_mutex_unlock(&g_sim.q_mu);
    return NULL;
}

CUresult sim_stream_create(CUcontext c, unsigned flags, int priority, int kind,
                           struct CUstream_st **out)
{
    struct CUstream_st *s = calloc(1, sizeof *s);
    if (!s) return CUDA_ERROR_OUT_OF_MEMORY;
    s->magic = SIM_MAGIC_STREAM;
    s->ctx = c;
    s->flags = flags;
    s->priority = priority;
    s->kind = kind;
    s->id = atomic_fetch_add(&g_sim.next_id, 1);
    pthread_cond_init(&s->cv, NULL);
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&s->thr, &at, worker, s);
    pthread_attr_destroy(&at);
    if (rc) {
        free(s);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    if (kind != STREAM_LEGACY) {
        pthread_mutex_lock(&g_sim.ctx_mu);
        s->next = c->streams;
        c->streams = s;
        pthread_mutex_unlock(&g_sim.ctx_mu);
    }
    *out = s;
    return CUDA_SUCCESS;
}

void sim_stream_stop(struct CUstream_st *s)
{
    pthread_mutex_lock(&g_sim.ctx_mu);
    for (struct CUstream_st **pp = &s->ctx->streams; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    pthread_mutex_unlock(&g_sim.ctx_mu);
    pthread_mutex_lock(&g_sim.q_mu);
    s->magic = 0;
    s->stop = true;
    s->next = g_dead;
    g_dead = s;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&g_sim.q_mu);
}

void sim_stream_wait_idle(struct CUstream_st *s)
{
    pthread_mutex_lock(&g_sim.q_mu);
    uint64_t target = s->submitted;
    while (s->completed < target) pthread_cond_wait(&g_sim.done_cv, &g_sim.q_mu);
    pthread_mutex_unlock(&g_sim.q_mu);
}

/* ---- per-thread default streams ------------------------------------------------------- */

#define PTDS_MAX 8
typedef struct ptds_slot { CUcontext ctx; struct CUstream_st *s; } ptds_slot;
static __thread ptds_slot tl_ptds[PTDS_MAX];
static pthread_key_t g_ptds_key;
static pthread_once_t g_ptds_once = PTHREAD_ONCE_INIT;

static void ptds_exit(void *arg)
{
    ptds_slot *slots = arg;
    for (int i = 0; i < PTDS_MAX; i++)
        if (slots[i].s) {
            if (slots[i].s->magic == SIM_MAGIC_STREAM) sim_stream_stop(slots[i].s);
            slots[i].s = NULL;
        }
}

static void ptds_key_make(void) { pthread_key_create(&g_ptds_key, ptds_exit); }

static CUresult ptds_get(CUcontext c, struct CUstream_st **out)
{
    int free_i = -1;
    for (int i = 0; i < PTDS_MAX; i++) {
        if (tl_ptds[i].s && tl_ptds[i].ctx == c && tl_ptds[i].s->magic == SIM_MAGIC_STREAM) {
            *out = tl_ptds[i].s;
            return CUDA_SUCCESS;
        }
        if (!tl_ptds[i].s || tl_ptds[i].s->magic != SIM_MAGIC_STREAM) free_i = i;
    }
    if (free_i < 0) return CUDA_ERROR_OUT_OF_MEMORY;
    CUresult r = sim_stream_create(c, 0, 0, STREAM_PER_THREAD, &tl_ptds[free_i].s);
    if (r != CUDA_SUCCESS) return r;
    tl_ptds[free_i].ctx = c;
    pthread_once(&g_ptds_once, ptds_key_make);
    pthread_setspecific(g_ptds_key, tl_ptds);
    *out = tl_ptds[free_i].s;
    return CUDA_SUCCESS;
}

CUresult sim_stream_resolve(CUstream h, bool ptsz, struct CUstream_st **out)
{
    SIM_NEED_INIT();
    if (h == NULL || h == CU_STREAM_LEGACY || h == CU_STREAM_PER_THREAD) {
        CUcontext c;
        CUresult r = sim_ctx_current(&c);
        if (r != CUDA_SUCCESS) return r;
        if (h == CU_STREAM_PER_THREAD || (h == NULL && ptsz)) return ptds_get(c, out);
        *out = c->legacy;
        return CUDA_SUCCESS;
    }
    if (h->magic != SIM_MAGIC_STREAM) return CUDA_ERROR_INVALID_HANDLE;
    *out = h;
    return CUDA_SUCCESS;
}

/* ---- submit --------------------------------------------------------------------------- */

static int add_dep(sim_op *op, size_t *cap, struct CUstream_st *s, uint64_t n)
{
    if (op->ndeps == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        sim_dep *v = realloc(op->deps, nc * sizeof *v);
        if (!v) return -ENOMEM;
        op->deps = v;
        *cap = nc;
    }
    op->deps[op->ndeps++] = (sim_dep){s, NULL, n};
    return 0;
}

CUresult sim_capture_invalidate_locked(struct CUstream_st *s);

/* `sync`: the caller will wait for this work (synchronous API), which a capturing stream
 * cannot do. */
static CUresult submit(struct CUstream_st *s, sim_work *w, uint64_t *seq, bool sync)
{
    sim_op *op = calloc(1, sizeof *op);
    if (!op) {
        sim_work_fini(w);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    op->w = *w;
    size_t cap = 0;
    CUcontext c = s->ctx;
    pthread_mutex_lock(&g_sim.ctx_mu);
    pthread_mutex_lock(&g_sim.q_mu);
    if (s->magic != SIM_MAGIC_STREAM) {
        pthread_mutex_unlock(&g_sim.q_mu);
        pthread_mutex_unlock(&g_sim.ctx_mu);
        free(op);
        sim_work_fini(w);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    if (s->cap) {
        pthread_mutex_unlock(&g_sim.ctx_mu);
        CUresult r = sync ? sim_capture_invalidate_locked(s) : sim_capture_add(s, &op->w);
        pthread_mutex_unlock(&g_sim.q_mu);
        free(op);
        if (r != CUDA_SUCCESS) sim_work_fini(w);
        if (seq) *seq = 0;
        return r;
    }
    int rc = 0;
    if (s->kind == STREAM_LEGACY) {
        /* Work on the legacy stream would wait for a blocking stream that is being
         * captured: an implicit dependency on a capture, which CUDA refuses and which
         * invalidates the capture. */
        bool implicit = false;
        for (struct CUstream_st *b = c->streams; b; b = b->next)
            if (!(b->flags & CU_STREAM_NON_BLOCKING) && b->cap) {
                sim_capture_invalidate_locked(b);
                implicit = true;
            }
        if (implicit) {
            pthread_mutex_unlock(&g_sim.q_mu);
            pthread_mutex_unlock(&g_sim.ctx_mu);
            free(op);
            sim_work_fini(w);
            return CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
        }
        for (struct CUstream_st *b = c->streams; b && !rc; b = b->next)
            if (!(b->flags & CU_STREAM_NON_BLOCKING) && b->submitted > b->completed)
                rc = add_dep(op, &cap, b, b->submitted);
    } else if (!(s->flags & CU_STREAM_NON_BLOCKING)) {
        struct CUstream_st *l = c->legacy;
        if (l->submitted > l->completed) rc = add_dep(op, &cap, l, l->submitted);
    }
    pthread_mutex_unlock(&g_sim.ctx_mu);
    if (rc) {
        pthread_mutex_unlock(&g_sim.q_mu);
        free(op->deps);
        free(op);
        sim_work_fini(w);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    if (op->w.kind == W_RECORD) op->w.rec.gen = ++op->w.rec.ev->record_gen;
    op->seq = ++s->submitted;
    if (s->tail) s->tail->next = op;
    else s->head = op;
    s->tail = op;
    if (seq) *seq = op->seq;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&g_sim.q_mu);
    return CUDA_SUCCESS;
}

CUresult sim_submit(struct CUstream_st *s, sim_work *w)
{
    CUresult r = sim_ctx_check(s->ctx);
    if (r != CUDA_SUCCESS) {
        sim_work_fini(w);
        return r;
    }
    return submit(s, w, NULL, false);
}

CUresult sim_submit_sync(struct CUstream_st *s, sim_work *w)
{
    CUresult r = sim_ctx_check(s->ctx);
    if (r != CUDA_SUCCESS) {
        sim_work_fini(w);
        return r;
    }
    uint64_t seq;
    r = submit(s, w, &seq, true);
    if (r != CUDA_SUCCESS || seq == 0) return r;
    pthread_mutex_lock(&g_sim.q_mu);
    while (s->completed < seq) pthread_cond_wait(&g_sim.done_cv, &g_sim.q_mu);
    pthread_mutex_unlock(&g_sim.q_mu);
    return sim_ctx_check(s->ctx);
}

/* ---- stream API ----------------------------------------------------------------------- */

static CUresult stream_create(CUstream *ph, unsigned flags, int priority)
{
    SIM_NEED_INIT();
    if (!ph) return CUDA_ERROR_INVALID_VALUE;
    if (flags & ~(unsigned)CU_STREAM_NON_BLOCKING) return CUDA_ERROR_INVALID_VALUE;
    CUcontext c;
    CUresult r = sim_ctx_current(&c);
    if (r != CUDA_SUCCESS) return r;
    if ((r = sim_ctx_check(c)) != CUDA_SUCCESS) return r;
    if (priority > 0) priority = 0;
    if (priority < -5) priority = -5;
    struct CUstream_st *s;
    r = sim_stream_create(c, flags, priority, STREAM_USER, &s);
    if (r == CUDA_SUCCESS) *ph = s;
    return r;
}

SIM_EXPORT CUresult cuStreamCreate(CUstream *phStream, unsigned int Flags)
{
    SIM_ENTER();
    return stream_create(phStream, Flags, 0);
}

SIM_EXPORT CUresult cuStreamCreateWithPriority(CUstream *phStream, unsigned int flags, int priority)
{
    SIM_ENTER();
    return stream_create(phStream, flags, priority);
}

static CUresult stream_destroy(CUstream h)
{
    SIM_NEED_INIT();
    if (!h || h == CU_STREAM_LEGACY || h == CU_STREAM_PER_THREAD || h->magic != SIM_MAGIC_STREAM ||
        h->kind != STREAM_USER)
        return CUDA_ERROR_INVALID_HANDLE;
    /* Like the driver: returns at once; queued work still runs, then the worker ends. */
    sim_stream_stop(h);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuStreamDestroy(CUstream hStream)
{
    SIM_ENTER();
    return stream_destroy(hStream);
}

SIM_EXPORT CUresult cuStreamDestroy_v2(CUstream hStream)
{
    SIM_ENTER();
    return stream_destroy(hStream);
}

static CUresult stream_sync(CUstream h, bool ptsz)
{
    struct CUstream_st *s;
    CUresult r = sim_stream_resolve(h, ptsz, &s);
    if (r != CUDA_SUCCESS) return r;
    pthread_mutex_lock(&g_sim.q_mu);
    if (s->cap) {
        r = sim_capture_invalidate_locked(s);
        pthread_mutex_unlock(&g_sim.q_mu);
        return r;
    }
    pthread_mutex_unlock(&g_sim.q_mu);
    sim_stream_wait_idle(s);
    return sim_ctx_check(s->ctx);
}

SIM_EXPORT CUresult cuStreamSynchronize(CUstream hStream)
{
    SIM_ENTER();
    return stream_sync(hStream, false);
}

SIM_EXPORT CUresult cuStreamSynchronize_ptsz(CUstream hStream)
{
    SIM_ENTER();
    return stream_sync(hStream, true);
}

static CUresult stream_query(CUstream h, bool ptsz)
{
    struct CUstream_st *s;
    CUresult r = sim_stream_resolve(h, ptsz, &s);
    if (r != CUDA_SUCCESS) return r;
    if ((r = sim_ctx_check(s->ctx)) != CUDA_SUCCESS) return r;
    pthread_mutex_lock(&g_sim.q_mu);
    if (s->cap) r = sim_capture_invalidate_locked(s);
    else r = s->completed >= s->submitted ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
    pthread_mutex_unlock(&g_sim.q_mu);
    return r;
}

SIM_EXPORT CUresult cuStreamQuery(CUstream hStream)
{
    SIM_ENTER();
    return stream_query(hStream, false);
}

SIM_EXPORT CUresult cuStreamQuery_ptsz(CUstream hStream)
{
    SIM_ENTER();
    return stream_query(hStream, true);
}

#define STREAM_GETTER(NAME, PTSZ, T, ARG, EXPR)                                           \
    SIM_EXPORT CUresult NAME(CUstream hStream, T *ARG)                                   \
    {                                                                                    \
        SIM_ENTER();                                                                     \
        struct CUstream_st *s;                                                           \
        CUresult r = sim_stream_resolve(hStream, PTSZ, &s);                              \
        if (r != CUDA_SUCCESS) return r;                                                 \
        if (!ARG) return CUDA_ERROR_INVALID_VALUE;                                       \
        *ARG = (EXPR);                                                                   \
        return CUDA_SUCCESS;                                                             \
    }

STREAM_GETTER(cuStreamGetPriority, false, int, priority, s->priority)
STREAM_GETTER(cuStreamGetPriority_ptsz, true, int, priority, s->priority)
STREAM_GETTER(cuStreamGetFlags, false, unsigned int, flags, s->flags)
STREAM_GETTER(cuStreamGetFlags_ptsz, true, unsigned int, flags, s->flags)
STREAM_GETTER(cuStreamGetId, false, unsigned long long, streamId, s->id)
STREAM_GETTER(cuStreamGetId_ptsz, true, unsigned long long, streamId, s->id)
STREAM_GETTER(cuStreamGetCtx, false, CUcontext, pctx, s->ctx)
STREAM_GETTER(cuStreamGetCtx_ptsz, true, CUcontext, pctx, s->ctx)
STREAM_GETTER(cuStreamGetDevice, false, CUdevice, device, s->ctx->device)
STREAM_GETTER(cuStreamGetDevice_ptsz, true, CUdevice, device, s->ctx->device)

static CUresult get_ctx_v2(CUstream h, bool ptsz, CUcontext *pctx, CUgreenCtx *pg)
{
    struct CUstream_st *s;
    CUresult r = sim_stream_resolve(h, ptsz, &s);
    if (r != CUDA_SUCCESS) return r;
    if (!pctx || !pg) return CUDA_ERROR_INVALID_VALUE;
    *pctx = s->ctx;
    *pg = NULL;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuStreamGetCtx_v2(CUstream hStream, CUcontext *pCtx, CUgreenCtx *pGreenCtx)
{
    SIM_ENTER();
    return get_ctx_v2(hStream, false, pCtx, pGreenCtx);
}

SIM_EXPORT CUresult cuStreamGetCtx_v2_ptsz(CUstream hStream, CUcontext *pCtx,
                                           CUgreenCtx *pGreenCtx)
{
    SIM_ENTER();
    return get_ctx_v2(hStream, true, pCtx, pGreenCtx);
}

/* ---- host functions ------------------------------------------------------------------- */

static CUresult host_func(CUstream h, bool ptsz, CUhostFn fn, void *data)
{
    struct CUstream_st *s;
    CUresult r = sim_stream_resolve(h, ptsz, &s);
    if (r != CUDA_SUCCESS) return r;
    if (!fn) return CUDA_ERROR_INVALID_VALUE;
    sim_work w = {.kind = W_HOST, .host = {fn, data}};
    return sim_submit(s, &w);
}

SIM_EXPORT CUresult cuLaunchHostFunc(CUstream hStream, CUhostFn fn, void *userData)
{
    SIM_ENTER();
    return host_func(hStream, false, fn, userData);
}

SIM_EXPORT CUresult cuLaunchHostFunc_ptsz(CUstream hStream, CUhostFn fn, void *userData)
{
    SIM_ENTER();
    return host_func(hStream, true, fn, userData);
}

/* cuStreamAddCallback: the callback gets (stream, status, data); we run it as a host
 * function with a small owned trampoline record. */
typedef struct cb_rec { CUstreamCallback cb; CUstream h; void *data; } cb_rec;
static void cb_tramp(void *arg)
{
    cb_rec *c = arg;
    c->cb(c->h, CUDA_SUCCESS, c->data);
    free(c);
}

static CUresult add_callback(CUstream h, bool ptsz, CUstreamCallback cb, void *data,
                             unsigned flags)
{
    if (flags != 0 || !cb) return CUDA_ERROR_INVALID_VALUE;
    struct CUstream_st *s;
    CUresult r = sim_stream_resolve(h, ptsz, &s);
    if (r != CUDA_SUCCESS) return r;
    cb_rec *c = malloc(sizeof *c);
    if (!c) return CUDA_ERROR_OUT_OF_MEMORY;
    *c = (cb_rec){cb, h, data};
    sim_work w = {.kind = W_HOST, .host = {cb_tramp, c}};
    r = sim_submit(s, &w);
    if (r != CUDA_SUCCESS) free(c);
    return r;
}

SIM_EXPORT CUresult cuStreamAddCallback(CUstream hStream, CUstreamCallback callback,
                                        void *userData, unsigned int flags)
{
    SIM_ENTER();
    return add_callback(hStream, false, callback, userData, flags);
}

SIM_EXPORT CUresult cuStreamAddCallback_ptsz(CUstream hStream, CUstreamCallback callback,
                                             void *userData, unsigned int flags)
{
    SIM_ENTER();
    return add_callback(hStream, true, callback, userData, flags);
}

/* ---- events --------------------------------------------------------------------------- */

void sim_event_unref_locked(struct CUevent_st *e)
{
    if (--e->refs > 0) return;
    free(e->cap_nodes);
    free(e);
}

static bool event_valid(CUevent e) { return e && e->magic == SIM_MAGIC_EVENT; }

SIM_EXPORT CUresult cuEventCreate(CUevent *phEvent, unsigned int Flags)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!phEvent) return CUDA_ERROR_INVALID_VALUE;
    if (Flags & ~(unsigned)(CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS))
        return CUDA_ERROR_INVALID_VALUE;
    CUcontext c;
    CUresult r = sim_ctx_current(&c);
    if (r != CUDA_SUCCESS) return r;
    struct CUevent_st *e = calloc(1, sizeof *e);
    if (!e) return CUDA_ERROR_OUT_OF_MEMORY;
    e->magic = SIM_MAGIC_EVENT;
    e->flags = Flags;
    e->ctx = c;
    e->refs = 1;
    *phEvent = e;
    return CUDA_SUCCESS;
}

static CUresult event_destroy(CUevent e)
{
    SIM_NEED_INIT();
    pthread_mutex_lock(&g_sim.q_mu);
    if (!event_valid(e)) {
        pthread_mutex_unlock(&g_sim.q_mu);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    e->magic = 0;
    sim_event_unref_locked(e); /* pending records/waits hold their own references */
    pthread_mutex_unlock(&g_sim.q_mu);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuEventDestroy(CUevent hEvent)
{
    SIM_ENTER();
    return event_destroy(hEvent);
}

SIM_EXPORT CUresult cuEventDestroy_v2(CUevent hEvent)
{
    SIM_ENTER();
    return event_destroy(hEvent);
}

CUresult sim_capture_record_locked(struct CUstream_st *s, struct CUevent_st *e);
CUresult sim_capture_wait_locked(struct CUstream_st *s, struct CUevent_st *e);

static CUresult event_record(CUevent e, CUstream h, bool ptsz)
{
    struct CUstream_st *s;
    CUresult r = sim_stream_resolve(h, ptsz, &s);
    if (r != CUDA_SUCCESS) return r;
    if ((r = sim_ctx_check(s->ctx)) != CUDA_SUCCESS) return r;
    pthread_mutex_lock(&g_sim.q_mu);
    if (!event_valid(e)) {
        pthread_mutex_unlock(&g_sim.q_mu);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    if (s->cap) {
        r = sim_capture_record_locked(s, e);
        pthread_mutex_unlock(&g_sim.q_mu);
        return r;
    }
    /* A record outside capture ends any capture meaning the event had. */
    e->cap = NULL;
    e->ncap_nodes = 0;
    e->refs++;
    pthread_mutex_unlock(&g_sim.q_mu);
    sim_work w = {.kind = W_RECORD, .rec = {e, 0}};
    return submit(s, &w, NULL, false);
}

SIM_EXPORT CUresult cuEventRecord(CUevent hEvent, CUstream hStream)
{
    SIM_ENTER();
    return event_record(hEvent, hStream, false);
}

SIM_EXPORT CUresult cuEventRecord_ptsz(CUevent hEvent, CUstream hStream)
{
    SIM_ENTER();
    return event_record(hEvent, hStream, true);
}

SIM_EXPORT CUresult cuEventRecordWithFlags(CUevent hEvent, CUstream hStream, unsigned int flags)
{
    SIM_ENTER();
    if (flags & ~(unsigned)CU_EVENT_RECORD_EXTERNAL) return CUDA_ERROR_INVALID_VALUE;
    return event_record(hEvent, hStream, false);
}

SIM_EXPORT CUresult cuEventRecordWithFlags_ptsz(CUevent hEvent, CUstream hStream,
                                                unsigned int flags)
{
    SIM_ENTER();
    if (flags & ~(unsigned)CU_EVENT_RECORD_EXTERNAL) return CUDA_ERROR_INVALID_VALUE;
    return event_record(hEvent, hStream, true);
}

SIM_EXPORT CUresult cuEventQuery(CUevent hEvent)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    pthread_mutex_lock(&g_sim.q_mu);
    if (!event_valid(hEvent)) {
        pthread_mutex_unlock(&g_sim.q_mu);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    CUresult r = hEvent->done_gen >= hEvent->record_gen ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
    CUcontext c = hEvent->ctx;
    pthread_mutex_unlock(&g_sim.q_mu);
    CUresult s = sim_ctx_check(c);
    return s != CUDA_SUCCESS ? s : r;
}

SIM_EXPORT CUresult cuEventSynchronize(CUevent hEvent)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    pthread_mutex_lock(&g_sim.q_mu);
    if (!event_valid(hEvent)) {
        pthread_mutex_unlock(&g_sim.q_mu);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    uint64_t gen = hEvent->record_gen;
    while (hEvent->done_gen < gen) pthread_cond_wait(&g_sim.done_cv, &g_sim.q_mu);
    CUcontext c = hEvent->ctx;
    pthread_mutex_unlock(&g_sim.q_mu);
    return sim_ctx_check(c);
}

static CUresult elapsed(float *ms, CUevent a, CUevent b)
{
    SIM_NEED_INIT();
    if (!ms) return CUDA_ERROR_INVALID_VALUE;
    CUresult r = CUDA_SUCCESS;
    pthread_mutex_lock(&g_sim.q_mu);
    if (!event_valid(a) || !event_valid(b)) r = CUDA_ERROR_INVALID_HANDLE;
    else if ((a->flags | b->flags) & CU_EVENT_DISABLE_TIMING) r = CUDA_ERROR_INVALID_HANDLE;
    else if (!a->record_gen || !b->record_gen) r = CUDA_ERROR_INVALID_HANDLE;
    else if (a->done_gen < a->record_gen || b->done_gen < b->record_gen) r = CUDA_ERROR_NOT_READY;
    else *ms = (float)(((double)b->t_ns - (double)a->t_ns) / 1e6);
    CUcontext c = event_valid(a) ? a->ctx : NULL;
    pthread_mutex_unlock(&g_sim.q_mu);
    if (r == CUDA_SUCCESS && c) r = sim_ctx_check(c);
    return r;
}

SIM_EXPORT CUresult cuEventElapsedTime(float *pMilliseconds, CUevent hStart, CUevent hEnd)
{
    SIM_ENTER();
    return elapsed(pMilliseconds, hStart, hEnd);
}

SIM_EXPORT CUresult cuEventElapsedTime_v2(float *pMilliseconds, CUevent hStart, CUevent hEnd)
{
    SIM_ENTER();
    return elapsed(pMilliseconds, hStart, hEnd);
}

static CUresult wait_event(CUstream h, bool ptsz, CUevent e, unsigned flags)
{
    struct CUstream_st *s;
    CUresult r = sim_stream_resolve(h, ptsz, &s);
    if (r != CUDA_SUCCESS) return r;
    if (flags & ~(unsigned)CU_EVENT_WAIT_EXTERNAL) return CUDA_ERROR_INVALID_VALUE;
    if ((r = sim_ctx_check(s->ctx)) != CUDA_SUCCESS) return r;
    pthread_mutex_lock(&g_sim.q_mu);
    if (!event_valid(e)) {
        pthread_mutex_unlock(&g_sim.q_mu);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    if (e->cap || s->cap) {
        r = sim_capture_wait_locked(s, e);
        pthread_mutex_unlock(&g_sim.q_mu);
        return r;
    }
    uint64_t gen = e->record_gen;
    if (gen <= e->done_gen) { /* already complete: nothing to wait for */
        pthread_mutex_unlock(&g_sim.q_mu);
        return CUDA_SUCCESS;
    }
    e->refs++;
    pthread_mutex_unlock(&g_sim.q_mu);
    sim_work w = {.kind = W_WAIT, .wait = {e, gen}};
    return submit(s, &w, NULL, false);
}

SIM_EXPORT CUresult cuStreamWaitEvent(CUstream hStream, CUevent hEvent, unsigned int Flags)
{
    SIM_ENTER();
    return wait_event(hStream, false, hEvent, Flags);
}

SIM_EXPORT CUresult cuStreamWaitEvent_ptsz(CUstream hStream, CUevent hEvent, unsigned int Flags)
{
    SIM_ENTER();
    return wait_event(hStream, true, hEvent, Flags);
}

/* ---- stream attributes: kept, only the priority is a stream property here --------------- */

static CUresult stream_attr(CUstream h, bool ptsz, CUstreamAttrID attr, CUstreamAttrValue *v,
                            bool set)
{
    struct CUstream_st *s;
    CUresult r = sim_stream_resolve(h, ptsz, &s);
    if (r != CUDA_SUCCESS) return r;
    if (!v) return CUDA_ERROR_INVALID_VALUE;
    switch (attr) {
    case CU_LAUNCH_ATTRIBUTE_PRIORITY:
        if (set) s->priority = v->priority > 0 ? 0 : v->priority < -5 ? -5 : v->priority;
        else v->priority = s->priority;
        return CUDA_SUCCESS;
    case CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW:
    case CU_LAUNCH_ATTRIBUTE_SYNCHRONIZATION_POLICY:
    case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP:
    case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN:
        /* Accepted; caches and sync domains are not modelled, reads give defaults. */
        if (!set) memset(v, 0, sizeof *v);
        return CUDA_SUCCESS;
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
}

SIM_EXPORT CUresult cuStreamGetAttribute(CUstream hStream, CUstreamAttrID attr, CUstreamAttrValue *value_out)
{ SIM_ENTER(); return stream_attr(hStream, false, attr, value_out, false); }
SIM_EXPORT CUresult cuStreamGetAttribute_ptsz(CUstream hStream, CUstreamAttrID attr, CUstreamAttrValue *value_out)
{ SIM_ENTER(); return stream_attr(hStream, true, attr, value_out, false); }
SIM_EXPORT CUresult cuStreamSetAttribute(CUstream hStream, CUstreamAttrID attr, const CUstreamAttrValue *value)
{ SIM_ENTER(); return stream_attr(hStream, false, attr, (CUstreamAttrValue *)(uintptr_t)value, true); }
SIM_EXPORT CUresult cuStreamSetAttribute_ptsz(CUstream hStream, CUstreamAttrID attr, const CUstreamAttrValue *value)
{ SIM_ENTER(); return stream_attr(hStream, true, attr, (CUstreamAttrValue *)(uintptr_t)value, true); }

static CUresult copy_attrs(CUstream dst, CUstream src, bool ptsz)
{
    struct CUstream_st *d, *s;
    CUresult r = sim_stream_resolve(dst, ptsz, &d);
    if (r == CUDA_SUCCESS) r = sim_stream_resolve(src, ptsz, &s);
    if (r != CUDA_SUCCESS) return r;
    d->priority = s->priority;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuStreamCopyAttributes(CUstream dst, CUstream src)
{ SIM_ENTER(); return copy_attrs(dst, src, false); }
SIM_EXPORT CUresult cuStreamCopyAttributes_ptsz(CUstream dst, CUstream src)
{ SIM_ENTER(); return copy_attrs(dst, src, true); }
