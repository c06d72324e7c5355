/* launch.c — what a launch may touch, and making it resident first: kernel launches
 * (cuLaunchKernel, cuLaunchKernelEx, cuLaunchCooperativeKernel and their _ptsz variants) and
 * graph launches (a snapshot taken at instantiate, refreshed by exec updates).
 *
 * A launch's parameter bytes are scanned for 8-byte values at every 4-byte offset (positions
 * in the packed parameter buffer): a pointer inside a by-value struct may sit at a 4-byte
 * aligned offset (#pragma pack(4), a struct of ints and pointers). Every value inside a
 * managed allocation is a reference; a false one only faults in more, a missed one lets
 * the kernel touch an evicted chunk. kernelParams are first laid out as the packed buffer
 * (each at its offset), so a pointer passed as two adjacent 32-bit parameters is seen too. The layout
 * comes from cuFuncGetParamInfo (cuKernelGetParamInfo for library kernels), cached per
 * function in a fixed open-addressing table whose entries are immutable once published, so
 * the launch path reads it without a lock. With `extra`, the packed buffer and its size say
 * everything. Unknown layout -> safe mode: everything managed is brought in (counted).
 * Limit: pointers stored in device memory (arrays of pointers, structs in global memory) are
 * invisible to a scan; see RESIDENCY.md. */
#include <stdlib.h>
#include <string.h>
#include "residency.h"

/* A stream argument of 0 means the per-thread default stream in _ptsz/_ptds variants. */
#define HMT_STREAM(real, ptsz_name, s) \
    (((s) == NULL && (void *)(real) == (void *)hmt_real.ptsz_name) ? CU_STREAM_PER_THREAD : (s))

/* ---- parameter layouts --------------------------------------------------------------- */

struct layout {
    CUfunction f;
    int known;
    uint32_t n;
    struct { uint32_t off, size; } p[];
};

#define LAYOUT_SLOTS 8192u   /* power of two */
#define LAYOUT_PROBE 32u
static _Atomic(struct layout *) layouts[LAYOUT_SLOTS];
static pthread_mutex_t layout_lock = PTHREAD_MUTEX_INITIALIZER;  /* leaf: inserts only */

static size_t slot_of(const void *f)
{
    return (size_t)((((uintptr_t)f >> 4) * 0x9E3779B97F4A7C15ull) >> 40) & (LAYOUT_SLOTS - 1);
}

/* Counts parameters with getter; -1 when the driver cannot say. */
static long count_params(CUresult (*get)(void *, size_t, size_t *, size_t *), void *f,
                         struct layout *out, uint32_t cap)
{
    if (!get) return -1;
    for (uint32_t i = 0;; i++) {
        size_t off = 0, size = 0;
        CUresult r = get(f, i, &off, &size);
        if (r == CUDA_ERROR_INVALID_VALUE) return i;   /* past the last parameter */
        if (r != CUDA_SUCCESS) return -1;
        if (out && i < cap) { out->p[i].off = (uint32_t)off; out->p[i].size = (uint32_t)size; }
        if (i > 8192) return -1;
    }
}

static struct layout *build_layout(CUfunction f)
{
    CUresult (*fget)(void *, size_t, size_t *, size_t *) = (void *)hmt_real.cuFuncGetParamInfo;
    CUresult (*kget)(void *, size_t, size_t *, size_t *) = (void *)hmt_real.cuKernelGetParamInfo;
    CUresult (*get)(void *, size_t, size_t *, size_t *) = fget;
    long n = count_params(get, f, NULL, 0);
    if (n < 0) {
        /* Maybe a CUkernel cast to CUfunction. A kernel getter that answers "no parameter 0"
         * may just not know the handle: only a positive count is believed. */
        get = kget;
        n = count_params(get, f, NULL, 0);
        if (n == 0) n = -1;
    }
    struct layout *l = calloc(1, sizeof(*l) + (size_t)(n > 0 ? n : 0) * sizeof(l->p[0]));
    if (!l) return NULL;
    l->f = f;
    if (n >= 0 && count_params(get, f, l, (uint32_t)n) == n) { l->known = 1; l->n = (uint32_t)n; }
    return l;
}

/* The cached layout of f (never freed: a function handle lives as long as its module;
 * *owned = 1 when the table was full and the caller must free it). */
static const struct layout *layout_of(CUfunction f, int *owned)
{
    size_t h = slot_of(f);
    *owned = 0;
    for (unsigned i = 0; i < LAYOUT_PROBE; i++) {
        struct layout *l = atomic_load_explicit(&layouts[(h + i) & (LAYOUT_SLOTS - 1)], memory_order_acquire);
        if (!l) break;
        if (l->f == f) return l;
    }
    struct layout *l = build_layout(f);
    if (!l) return NULL;
    pthread_mutex_lock(&layout_lock);
    for (unsigned i = 0; i < LAYOUT_PROBE; i++) {
        _Atomic(struct layout *) *slot = &layouts[(h + i) & (LAYOUT_SLOTS - 1)];
        struct layout *cur = atomic_load_explicit(slot, memory_order_relaxed);
        if (cur && cur->f == f) { pthread_mutex_unlock(&layout_lock); free(l); return cur; }
        if (!cur) {
            atomic_store_explicit(slot, l, memory_order_release);
            pthread_mutex_unlock(&layout_lock);
            return l;
        }
    }
    pthread_mutex_unlock(&layout_lock);
    *owned = 1;
    return l;
}

/* ---- the scan ------------------------------------------------------------------------- */

/* Scans bytes [off, off+size) of the packed parameter buffer, whose bytes start at p:
 * 8-byte values at every 4-byte aligned position. */
static void scan_bytes(struct hmt_op *op, const unsigned char *p, size_t off, size_t size)
{
    for (size_t pos = (off + 3) & ~(size_t)3; pos + 8 <= off + size; pos += 4) {
        uint64_t v;
        memcpy(&v, p + (pos - off), 8);
        if (hmt_space_maybe((CUdeviceptr)v)) hmt_op_add_ref(op, (CUdeviceptr)v);
    }
}

/* Rebuilds the packed parameter buffer from kernelParams (each parameter at its offset, gaps
 * zero) so the scan also sees a pointer passed as two adjacent 32-bit parameters. Returns the
 * buffer (stack or heap: free when != stack) and its size in *ext; NULL when out of memory. */
static unsigned char *pack_params(const struct layout *l, void **params, unsigned char *stack,
                                  size_t stack_size, size_t *ext)
{
    size_t e = 0;
    for (uint32_t i = 0; i < l->n; i++)
        if ((size_t)l->p[i].off + l->p[i].size > e) e = (size_t)l->p[i].off + l->p[i].size;
    unsigned char *buf = e <= stack_size ? stack : malloc(e);
    if (!buf) return NULL;
    memset(buf, 0, e);
    for (uint32_t i = 0; i < l->n; i++)
        if (params[i]) memcpy(buf + l->p[i].off, params[i], l->p[i].size);
    *ext = e;
    return buf;
}

static void safe_mode(struct hmt_op *op)
{
    op->all = 1;
    HMT_STAT_ADD(safe_mode_launches, 1);
}

/* Collects what a launch of f with these arguments may touch into op. */
static void scan_launch(struct hmt_op *op, CUfunction f, void **params, void **extra)
{
    if (!hmt_space_maybe_any()) return;
    HMT_STAT_ADD(launches_scanned, 1);
    if (extra) {
        const unsigned char *buf = NULL;
        size_t size = 0;
        int have_size = 0;
        for (int i = 0; extra[i] != CU_LAUNCH_PARAM_END && i < 64; i += 2) {
            if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER) buf = extra[i + 1];
            else if (extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE && extra[i + 1]) {
                size = *(size_t *)extra[i + 1];
                have_size = 1;
            }
        }
        if (buf && have_size) scan_bytes(op, buf, 0, size);
        else if (buf) safe_mode(op);
        return;
    }
    if (!params) {
        int owned;
        const struct layout *l = layout_of(f, &owned);
        if (l && l->known && l->n == 0) { if (owned) free((void *)l); return; }
        if (owned) free((void *)l);
        safe_mode(op);   /* parameters without a way to read them */
        return;
    }
    int owned = 0;
    const struct layout *l = layout_of(f, &owned);
    if (!l || !l->known) {
        safe_mode(op);
    } else {
        unsigned char stack[512];
        size_t ext = 0;
        unsigned char *buf = pack_params(l, params, stack, sizeof stack, &ext);
        if (buf) scan_bytes(op, buf, 0, ext);
        else
            for (uint32_t i = 0; i < l->n; i++)
                if (params[i]) scan_bytes(op, params[i], l->p[i].off, l->p[i].size);
        if (buf && buf != stack) free(buf);
    }
    if (owned) free((void *)l);
}

/* Runs `call` with op prepared and finished around it. */
#define RUN_LAUNCH(stream, f, params, extra, call) do {                                  \
        if (!hmt_engaged) return call;                                                   \
        HMT_STAT_ADD(launches, 1);                                                       \
        struct hmt_op op_;                                                               \
        hmt_op_init(&op_, (stream), 1);                                                  \
        scan_launch(&op_, (f), (params), (extra));                                       \
        if (!op_.nranges && !op_.all) { hmt_op_free(&op_); return call; }                \
        CUresult r_ = hmt_op_prepare(&op_);                                              \
        if (r_ == CUDA_SUCCESS) r_ = call;                                               \
        hmt_op_finish(&op_, r_ == CUDA_SUCCESS);                                         \
        hmt_op_free(&op_);                                                               \
        return r_;                                                                       \
    } while (0)

typedef CUresult (*pfn_launch)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                               unsigned, unsigned, CUstream, void **, void **);
typedef CUresult (*pfn_launch_ex)(const CUlaunchConfig *, CUfunction, void **, void **);
typedef CUresult (*pfn_launch_coop)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                                    unsigned, unsigned, CUstream, void **);

CUresult hmt_h_launch_kernel(pfn_launch real, CUfunction f, unsigned gx, unsigned gy, unsigned gz,
                             unsigned bx, unsigned by, unsigned bz, unsigned shmem, CUstream s,
                             void **params, void **extra)
{
    RUN_LAUNCH(HMT_STREAM(real, cuLaunchKernel_ptsz, s), f, params, extra,
               real(f, gx, gy, gz, bx, by, bz, shmem, s, params, extra));
}

CUresult hmt_h_launch_kernel_ex(pfn_launch_ex real, const CUlaunchConfig *cfg, CUfunction f,
                                void **params, void **extra)
{
    if (!cfg) return real(cfg, f, params, extra);
    RUN_LAUNCH(HMT_STREAM(real, cuLaunchKernelEx_ptsz, cfg->hStream), f, params, extra,
               real(cfg, f, params, extra));
}

CUresult hmt_h_launch_cooperative(pfn_launch_coop real, CUfunction f, unsigned gx, unsigned gy,
                                  unsigned gz, unsigned bx, unsigned by, unsigned bz,
                                  unsigned shmem, CUstream s, void **params)
{
    RUN_LAUNCH(HMT_STREAM(real, cuLaunchCooperativeKernel_ptsz, s), f, params, NULL,
               real(f, gx, gy, gz, bx, by, bz, shmem, s, params));
}

/* ---- graphs ---------------------------------------------------------------------------- */

/* What an instantiated graph may touch: references (len 0: the allocation or hinted tensor
 * they point into) and byte ranges (copies, memsets), each with the top-level node it came
 * from, so that an exec node update replaces that node's references instead of adding to
 * them (a union would keep the old target resident and can fail with OOM spuriously). */
struct snap_ref { CUdeviceptr addr; size_t len; CUgraphNode node; };
struct snap {
    CUgraphExec exec;
    int all;
    CUgraphNode node;         /* the top-level node being scanned: tag of pushed refs */
    size_t n, cap;
    struct snap_ref *refs;
    struct snap *next;
};

#define SNAP_BUCKETS 256u
static struct snap *snaps[SNAP_BUCKETS];
static pthread_mutex_t snap_lock = PTHREAD_MUTEX_INITIALIZER;   /* leaf */

static size_t snap_bucket(CUgraphExec e) { return slot_of(e) & (SNAP_BUCKETS - 1); }

static void snap_push(struct snap *s, CUdeviceptr addr, size_t len)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->refs[i].addr == addr && s->refs[i].len == len && s->refs[i].node == s->node) return;
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 16;
        struct snap_ref *nr = realloc(s->refs, nc * sizeof(*nr));
        if (!nr) { s->all = 1; return; }
        s->refs = nr; s->cap = nc;
    }
    s->refs[s->n].addr = addr;
    s->refs[s->n].len = len;
    s->refs[s->n].node = s->node;
    s->n++;
}

static void snap_scan_bytes(struct snap *s, const unsigned char *p, size_t off, size_t size)
{
    for (size_t pos = (off + 3) & ~(size_t)3; pos + 8 <= off + size; pos += 4) {   /* as scan_bytes */
        uint64_t v;
        memcpy(&v, p + (pos - off), 8);
        if (hmt_space_maybe((CUdeviceptr)v)) snap_push(s, (CUdeviceptr)v, 0);
    }
}

static void snap_kernel(struct snap *s, const CUDA_KERNEL_NODE_PARAMS *kp)
{
    CUfunction f = kp->func ? kp->func : (CUfunction)kp->kern;
    if (kp->extra) {
        const unsigned char *buf = NULL;
        size_t size = 0;
        int have = 0;
        for (int i = 0; kp->extra[i] != CU_LAUNCH_PARAM_END && i < 64; i += 2) {
            if (kp->extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER) buf = kp->extra[i + 1];
            else if (kp->extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE && kp->extra[i + 1]) {
                size = *(size_t *)kp->extra[i + 1]; have = 1;
            }
        }
        if (buf && have) snap_scan_bytes(s, buf, 0, size); else if (buf) s->all = 1;
        return;
    }
    if (!kp->kernelParams) return;
    int owned = 0;
    const struct layout *l = layout_of(f, &owned);
    if (!l || !l->known) s->all = 1;
    else {
        unsigned char stack[512];
        size_t ext = 0;
        unsigned char *buf = pack_params(l, kp->kernelParams, stack, sizeof stack, &ext);
        if (buf) snap_scan_bytes(s, buf, 0, ext);
        else
            for (uint32_t i = 0; i < l->n; i++)
                if (kp->kernelParams[i]) snap_scan_bytes(s, kp->kernelParams[i], l->p[i].off, l->p[i].size);
        if (buf && buf != stack) free(buf);
    }
    if (owned) free((void *)l);
}

/* Byte extent of one side of a 3D copy (device or unified memory only). */
static void snap_copy_side(struct snap *s, CUmemorytype type, CUdeviceptr dev, size_t x, size_t y,
                           size_t z, size_t pitch, size_t height, const CUDA_MEMCPY3D *c)
{
    if (type != CU_MEMORYTYPE_DEVICE && type != CU_MEMORYTYPE_UNIFIED) return;
    if (!c->WidthInBytes || !c->Height || !c->Depth) return;
    size_t p = pitch ? pitch : c->WidthInBytes;
    size_t h = height ? height : c->Height;
    CUdeviceptr start = dev + (z * h + y) * p + x;
    size_t len = ((c->Depth - 1) * h + (c->Height - 1)) * p + c->WidthInBytes;
    if (hmt_space_maybe(start)) snap_push(s, start, len);
}

static void snap_memcpy(struct snap *s, const CUDA_MEMCPY3D *c)
{
    snap_copy_side(s, c->srcMemoryType, c->srcDevice, c->srcXInBytes, c->srcY, c->srcZ,
                   c->srcPitch, c->srcHeight, c);
    snap_copy_side(s, c->dstMemoryType, c->dstDevice, c->dstXInBytes, c->dstY, c->dstZ,
                   c->dstPitch, c->dstHeight, c);
}

static void snap_memset(struct snap *s, const CUDA_MEMSET_NODE_PARAMS *m)
{
    if (!m->width || !m->height) return;
    size_t row = m->width * m->elementSize;
    size_t len = (m->height - 1) * (m->height > 1 ? m->pitch : 0) + row;
    if (hmt_space_maybe(m->dst)) snap_push(s, m->dst, len);
}

static void snap_graph(struct snap *s, CUgraph g, int depth)
{
    size_t n = 0;
    if (depth > 16 || hmt_real.cuGraphGetNodes(g, NULL, &n) != CUDA_SUCCESS) { s->all = 1; return; }
    if (!n) return;
    CUgraphNode *nodes = calloc(n, sizeof(*nodes));
    if (!nodes || hmt_real.cuGraphGetNodes(g, nodes, &n) != CUDA_SUCCESS) { free(nodes); s->all = 1; return; }
    for (size_t i = 0; i < n; i++) {
        CUgraphNodeType t;
        if (!depth) s->node = nodes[i];   /* nested nodes count as their top-level child node */
        if (hmt_real.cuGraphNodeGetType(nodes[i], &t) != CUDA_SUCCESS) { s->all = 1; continue; }
        if (t == CU_GRAPH_NODE_TYPE_KERNEL) {
            CUDA_KERNEL_NODE_PARAMS kp;
            memset(&kp, 0, sizeof(kp));
            if (hmt_real.cuGraphKernelNodeGetParams_v2(nodes[i], &kp) == CUDA_SUCCESS) snap_kernel(s, &kp);
            else s->all = 1;
        } else if (t == CU_GRAPH_NODE_TYPE_GRAPH) {
            CUgraph child;
            if (hmt_real.cuGraphChildGraphNodeGetGraph(nodes[i], &child) == CUDA_SUCCESS) snap_graph(s, child, depth + 1);
            else s->all = 1;
        } else if (t == CU_GRAPH_NODE_TYPE_MEMCPY) {
            CUDA_MEMCPY3D c;
            memset(&c, 0, sizeof(c));
            if (hmt_real.cuGraphMemcpyNodeGetParams(nodes[i], &c) == CUDA_SUCCESS) snap_memcpy(s, &c);
            else s->all = 1;
        } else if (t == CU_GRAPH_NODE_TYPE_MEMSET) {
            CUDA_MEMSET_NODE_PARAMS m;
            memset(&m, 0, sizeof(m));
            if (hmt_real.cuGraphMemsetNodeGetParams(nodes[i], &m) == CUDA_SUCCESS) snap_memset(s, &m);
            else s->all = 1;
        } else if (t == CU_GRAPH_NODE_TYPE_CONDITIONAL || t == CU_GRAPH_NODE_TYPE_BATCH_MEM_OP) {
            s->all = 1;   /* not read here (conditional bodies, memop addresses): everything */
        }
    }
    free(nodes);
}

/* Replaces (replace=1) the snapshot of exec, or replaces the references of one node
 * (replace=0: the delta's refs all carry that node); the new snapshot is built outside the
 * lock and swapped in. */
static void snap_store(CUgraphExec exec, struct snap *fresh_or_delta, int replace)
{
    size_t b = snap_bucket(exec);
    pthread_mutex_lock(&snap_lock);
    struct snap **pp = &snaps[b];
    while (*pp && (*pp)->exec != exec) pp = &(*pp)->next;
    if (*pp && !replace) {
        struct snap *cur = *pp;
        cur->all |= fresh_or_delta->all;   /* "everything" is not per node: it stays */
        size_t k = 0;
        for (size_t i = 0; i < cur->n; i++)
            if (cur->refs[i].node != fresh_or_delta->node) cur->refs[k++] = cur->refs[i];
        cur->n = k;
        cur->node = fresh_or_delta->node;
        for (size_t i = 0; i < fresh_or_delta->n; i++)
            snap_push(cur, fresh_or_delta->refs[i].addr, fresh_or_delta->refs[i].len);
        pthread_mutex_unlock(&snap_lock);
        free(fresh_or_delta->refs);
        free(fresh_or_delta);
        return;
    }
    struct snap *old = *pp;
    fresh_or_delta->exec = exec;
    if (old) { fresh_or_delta->next = old->next; *pp = fresh_or_delta; }
    else { fresh_or_delta->next = snaps[b]; snaps[b] = fresh_or_delta; }
    pthread_mutex_unlock(&snap_lock);
    if (old) { free(old->refs); free(old); }
}

static void snap_drop(CUgraphExec exec)
{
    size_t b = snap_bucket(exec);
    pthread_mutex_lock(&snap_lock);
    struct snap **pp = &snaps[b];
    while (*pp && (*pp)->exec != exec) pp = &(*pp)->next;
    struct snap *s = *pp;
    if (s) *pp = s->next;
    pthread_mutex_unlock(&snap_lock);
    if (s) { free(s->refs); free(s); }
}

static void snapshot(CUgraphExec exec, CUgraph g)
{
    struct snap *s = calloc(1, sizeof(*s));
    if (!s) return;
    snap_graph(s, g, 0);
    snap_store(exec, s, 1);
}

/* Copies exec's snapshot into op (under the snapshot lock). 0 when exec has none. */
static int snap_to_op(CUgraphExec exec, struct hmt_op *op)
{
    size_t b = snap_bucket(exec);
    int found = 0;
    pthread_mutex_lock(&snap_lock);
    struct snap *s = snaps[b];
    while (s && s->exec != exec) s = s->next;
    if (s) {
        found = 1;
        if (s->all) op->all = 1;
        /* add_ref/add_range take the map lock: map lock after the snapshot lock is the
         * one nesting of a leaf lock over lock 2; nothing takes them the other way round. */
        for (size_t i = 0; i < s->n; i++) {
            if (s->refs[i].len) hmt_op_add_range(op, s->refs[i].addr, s->refs[i].len);
            else hmt_op_add_ref(op, s->refs[i].addr);
        }
    }
    pthread_mutex_unlock(&snap_lock);
    return found;
}

typedef CUresult (*pfn_inst_flags)(CUgraphExec *, CUgraph, unsigned long long);
typedef CUresult (*pfn_inst_params)(CUgraphExec *, CUgraph, CUDA_GRAPH_INSTANTIATE_PARAMS *);
typedef CUresult (*pfn_inst_legacy)(CUgraphExec *, CUgraph, CUgraphNode *, char *, size_t);

CUresult hmt_h_graph_instantiate_flags(pfn_inst_flags real, CUgraphExec *pe, CUgraph g,
                                       unsigned long long flags)
{
    CUresult r = real(pe, g, flags);
    if (hmt_engaged && r == CUDA_SUCCESS && pe) snapshot(*pe, g);
    return r;
}

CUresult hmt_h_graph_instantiate_params(pfn_inst_params real, CUgraphExec *pe, CUgraph g,
                                        CUDA_GRAPH_INSTANTIATE_PARAMS *p)
{
    CUresult r = real(pe, g, p);
    if (hmt_engaged && r == CUDA_SUCCESS && pe) snapshot(*pe, g);
    return r;
}

CUresult hmt_h_graph_instantiate_legacy(pfn_inst_legacy real, CUgraphExec *pe, CUgraph g,
                                        CUgraphNode *err, char *log, size_t logsz)
{
    CUresult r = real(pe, g, err, log, logsz);
    if (hmt_engaged && r == CUDA_SUCCESS && pe) snapshot(*pe, g);
    return r;
}

CUresult hmt_h_graph_exec_update_v2(CUresult (*real)(CUgraphExec, CUgraph, CUgraphExecUpdateResultInfo *),
                                    CUgraphExec e, CUgraph g, CUgraphExecUpdateResultInfo *info)
{
    CUresult r = real(e, g, info);
    if (hmt_engaged && r == CUDA_SUCCESS) snapshot(e, g);
    return r;
}

CUresult hmt_h_graph_exec_update(CUresult (*real)(CUgraphExec, CUgraph, CUgraphNode *, CUgraphExecUpdateResult *),
                                 CUgraphExec e, CUgraph g, CUgraphNode *en, CUgraphExecUpdateResult *res)
{
    CUresult r = real(e, g, en, res);
    if (hmt_engaged && r == CUDA_SUCCESS) snapshot(e, g);
    return r;
}

/* Node n of exec e now has the parameters arg: its references replace n's old ones. */
static void extend(CUgraphExec e, CUgraphNode n, void (*fill)(struct snap *, const void *), const void *arg)
{
    struct snap *d = calloc(1, sizeof(*d));
    if (!d) return;
    d->node = n;
    fill(d, arg);
    snap_store(e, d, 0);
}
static void fill_kernel(struct snap *s, const void *a) { snap_kernel(s, a); }
static void fill_memcpy(struct snap *s, const void *a) { snap_memcpy(s, a); }
static void fill_memset(struct snap *s, const void *a) { snap_memset(s, a); }
static void fill_child(struct snap *s, const void *a) { snap_graph(s, (CUgraph)a, 1); }  /* keeps s->node */

CUresult hmt_h_graph_exec_kernel_set(CUresult (*real)(CUgraphExec, CUgraphNode, const CUDA_KERNEL_NODE_PARAMS *),
                                     CUgraphExec e, CUgraphNode n, const CUDA_KERNEL_NODE_PARAMS *p)
{
    CUresult r = real(e, n, p);
    if (hmt_engaged && r == CUDA_SUCCESS && p) extend(e, n, fill_kernel, p);
    return r;
}

CUresult hmt_h_graph_exec_kernel_set_v1(CUresult (*real)(CUgraphExec, CUgraphNode, const CUDA_KERNEL_NODE_PARAMS_v1 *),
                                        CUgraphExec e, CUgraphNode n, const CUDA_KERNEL_NODE_PARAMS_v1 *p)
{
    CUresult r = real(e, n, p);
    if (hmt_engaged && r == CUDA_SUCCESS && p) {
        CUDA_KERNEL_NODE_PARAMS k;
        memset(&k, 0, sizeof(k));
        k.func = p->func; k.kernelParams = p->kernelParams; k.extra = p->extra;
        extend(e, n, fill_kernel, &k);
    }
    return r;
}

CUresult hmt_h_graph_exec_node_set(CUresult (*real)(CUgraphExec, CUgraphNode, CUgraphNodeParams *),
                                   CUgraphExec e, CUgraphNode n, CUgraphNodeParams *p)
{
    CUresult r = real(e, n, p);
    if (!hmt_engaged || r != CUDA_SUCCESS || !p) return r;
    if (p->type == CU_GRAPH_NODE_TYPE_KERNEL) {
        CUDA_KERNEL_NODE_PARAMS k;
        memset(&k, 0, sizeof(k));
        k.func = p->kernel.func; k.kern = p->kernel.kern;
        k.kernelParams = p->kernel.kernelParams; k.extra = p->kernel.extra;
        extend(e, n, fill_kernel, &k);
    } else if (p->type == CU_GRAPH_NODE_TYPE_MEMCPY) {
        extend(e, n, fill_memcpy, &p->memcpy.copyParams);
    } else if (p->type == CU_GRAPH_NODE_TYPE_MEMSET) {
        CUDA_MEMSET_NODE_PARAMS m;
        memset(&m, 0, sizeof(m));
        m.dst = p->memset.dst; m.pitch = p->memset.pitch; m.value = p->memset.value;
        m.elementSize = p->memset.elementSize; m.width = p->memset.width; m.height = p->memset.height;
        extend(e, n, fill_memset, &m);
    } else if (p->type == CU_GRAPH_NODE_TYPE_GRAPH) {
        extend(e, n, fill_child, p->graph.graph);
    }
    return r;
}

CUresult hmt_h_graph_exec_memcpy_set(CUresult (*real)(CUgraphExec, CUgraphNode, const CUDA_MEMCPY3D *, CUcontext),
                                     CUgraphExec e, CUgraphNode n, const CUDA_MEMCPY3D *p, CUcontext c)
{
    CUresult r = real(e, n, p, c);
    if (hmt_engaged && r == CUDA_SUCCESS && p) extend(e, n, fill_memcpy, p);
    return r;
}

CUresult hmt_h_graph_exec_memset_set(CUresult (*real)(CUgraphExec, CUgraphNode, const CUDA_MEMSET_NODE_PARAMS *, CUcontext),
                                     CUgraphExec e, CUgraphNode n, const CUDA_MEMSET_NODE_PARAMS *p, CUcontext c)
{
    CUresult r = real(e, n, p, c);
    if (hmt_engaged && r == CUDA_SUCCESS && p) extend(e, n, fill_memset, p);
    return r;
}

CUresult hmt_h_graph_exec_child_set(CUresult (*real)(CUgraphExec, CUgraphNode, CUgraph),
                                    CUgraphExec e, CUgraphNode n, CUgraph child)
{
    CUresult r = real(e, n, child);
    if (hmt_engaged && r == CUDA_SUCCESS && child) extend(e, n, fill_child, child);
    return r;
}

CUresult hmt_h_graph_launch(CUresult (*real)(CUgraphExec, CUstream), CUgraphExec e, CUstream s)
{
    if (!hmt_engaged) return real(e, s);
    struct hmt_op op;
    hmt_op_init(&op, HMT_STREAM(real, cuGraphLaunch_ptsz, s), 1);
    snap_to_op(e, &op);
    if (!op.nranges && !op.all) { hmt_op_free(&op); return real(e, s); }
    HMT_STAT_ADD(graph_launches, 1);
    CUresult r = hmt_op_prepare(&op);
    if (r == CUDA_SUCCESS) r = real(e, s);
    hmt_op_finish(&op, r == CUDA_SUCCESS);
    hmt_op_free(&op);
    return r;
}

CUresult hmt_h_graph_exec_destroy(CUresult (*real)(CUgraphExec), CUgraphExec e)
{
    if (hmt_engaged) snap_drop(e);
    return real(e);
}
