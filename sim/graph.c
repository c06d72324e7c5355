/* sim/graph.c — CUDA graphs and stream capture.
 *
 * A graph is a list of nodes with dependency lists; a node holds the same work item a
 * stream would run (kernel, copy, memset, host function) or a child graph (an owned
 * clone, as cuGraphAddChildGraphNode makes). Instantiation orders the nodes
 * topologically and deep-copies them into an exec; each cuGraphLaunch runs a private
 * copy of the exec as one item on the stream, node by node in that order — a valid
 * serialisation of the graph, so later exec parameter updates never race a launch in
 * flight. Stream capture turns work submitted to a capturing stream into nodes that
 * depend on the stream's current capture dependencies; events recorded while capturing
 * carry those dependencies to other streams (fork/join), as in CUDA.
 * All graph and capture state is under g_sim.q_mu (capture happens inside submit).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define SIM_MAGIC_GRAPH 0x4752415048u
#define SIM_MAGIC_NODE 0x4e4f4445u
#define SIM_MAGIC_EXEC 0x4558454355u

struct CUgraph_st {
    uint64_t magic;
    struct CUgraphNode_st **nodes;
    size_t n, cap;
};

struct CUgraphNode_st {
    uint64_t magic;
    CUgraph graph;
    CUgraphNodeType type;
    sim_work w;                 /* KERNEL / MEMCPY / MEMSET / HOST; W_NOP for EMPTY */
    CUgraph child;              /* GRAPH: owned */
    struct CUgraphNode_st **deps;
    size_t ndeps;
    void **kparams;             /* KERNEL: pointers into w.kern.buf, for GetParams */
    CUDA_MEMCPY3D copy;         /* MEMCPY: as given */
    CUDA_MEMSET_NODE_PARAMS set;
    CUcontext ctx;
};

typedef struct exec_node {
    struct CUgraphNode_st *orig;   /* compared, never dereferenced: the graph may be gone */
    CUgraphNodeType type;
    size_t ndeps;
    sim_work w;
    struct sim_exec *child;
} exec_node;

struct sim_exec {
    uint64_t magic;
    atomic_int refs;
    exec_node *v;
    size_t n;
    unsigned long long flags;
};

/* Captures are kept after they end (g_captures) because events recorded during one still
 * point at it; an ended capture gives them no meaning (q_mu). */
struct sim_capture {
    struct sim_capture *next;
    bool ended;
    pthread_t owner;           /* the thread that began it */
    CUgraph graph;
    CUstreamCaptureStatus status;
    CUstreamCaptureMode mode;
    unsigned long long id;
    struct CUstream_st *origin;
};

static CUgraph graph_check(CUgraph g) { return g && g->magic == SIM_MAGIC_GRAPH ? g : NULL; }
static CUgraphNode node_check(CUgraphNode n) { return n && n->magic == SIM_MAGIC_NODE ? n : NULL; }
static struct sim_exec *exec_check(CUgraphExec x)
{
    struct sim_exec *e = (struct sim_exec *)(void *)x;
    return e && e->magic == SIM_MAGIC_EXEC ? e : NULL;
}

/* ---- node storage (q_mu held) ------------------------------------------------------- */

static void node_free(CUgraphNode n);

static void graph_free(CUgraph g)
{
    if (!g) return;
    for (size_t i = 0; i < g->n; i++) node_free(g->nodes[i]);
    free(g->nodes);
    g->magic = 0;
    free(g);
}

static void node_free(CUgraphNode n)
{
    /* Graph work never holds events or execs, so fini takes no lock. */
    if (n->w.kind == W_COPY) free(n->w.copy.stage);
    if (n->w.kind == W_KERNEL) free(n->w.kern.buf);
    graph_free(n->child);
    free(n->deps);
    free(n->kparams);
    n->magic = 0;
    free(n);
}

static CUgraph graph_new(void)
{
    CUgraph g = calloc(1, sizeof *g);
    if (g) g->magic = SIM_MAGIC_GRAPH;
    return g;
}

static void set_kparams(CUgraphNode n)
{
    free(n->kparams);
    n->kparams = NULL;
    if (n->w.kind != W_KERNEL) return;
    const sim_func *d = n->w.kern.f;
    n->kparams = calloc(d->nparams ? d->nparams : 1, sizeof(void *));
    if (!n->kparams) return;
    for (unsigned i = 0; i < d->nparams; i++) n->kparams[i] = n->w.kern.buf + d->params[i].offset;
}

/* Adds a node taking ownership of *w (and child). */
static CUresult node_add(CUgraph g, CUgraphNodeType type, sim_work *w, CUgraph child,
                         const CUgraphNode *deps, size_t ndeps, CUgraphNode *out)
{
    for (size_t i = 0; i < ndeps; i++)
        if (!node_check(deps[i]) || deps[i]->graph != g) return CUDA_ERROR_INVALID_VALUE;
    CUgraphNode n = calloc(1, sizeof *n);
    if (!n) return CUDA_ERROR_OUT_OF_MEMORY;
    if (ndeps) {
        n->deps = malloc(ndeps * sizeof *n->deps);
        if (!n->deps) {
            free(n);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        memcpy(n->deps, deps, ndeps * sizeof *deps);
    }
    if (g->n == g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 16;
        CUgraphNode *v = realloc(g->nodes, nc * sizeof *v);
        if (!v) {
            free(n->deps);
            free(n);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        g->nodes = v;
        g->cap = nc;
    }
    n->magic = SIM_MAGIC_NODE;
    n->graph = g;
    n->type = type;
    n->ndeps = ndeps;
    if (w) n->w = *w;
    else n->w.kind = W_NOP;
    n->child = child;
    set_kparams(n);
    g->nodes[g->n++] = n;
    if (out) *out = n;
    return CUDA_SUCCESS;
}

static CUgraph graph_clone(CUgraph src, CUgraphNode *map_from, CUgraphNode *map_to);

/* Size of a staged (packed) copy source. */
static size_t copy_bytes(const sim_work *w)
{
    return w->copy.width * w->copy.height * (w->copy.depth ? w->copy.depth : 1);
}

static int work_copy(sim_work *dst, const sim_work *src)
{
    *dst = *src;
    if (src->kind == W_KERNEL) {
        dst->kern.buf = malloc(src->kern.bufsize ? src->kern.bufsize : 1);
        if (!dst->kern.buf) return -1;
        memcpy(dst->kern.buf, src->kern.buf, src->kern.bufsize);
    } else if (src->kind == W_COPY && src->copy.stage) {
        size_t n = copy_bytes(src);
        dst->copy.stage = malloc(n ? n : 1);
        if (!dst->copy.stage) return -1;
        memcpy(dst->copy.stage, src->copy.stage, n);
        dst->copy.src = dst->copy.stage;
    }
    return 0;
}

static CUgraph graph_clone(CUgraph src, CUgraphNode *map_from, CUgraphNode *map_to)
{
    CUgraph g = graph_new();
    if (!g) return NULL;
    /* Nodes first, then edges: an edge added later (cuGraphAddDependencies) may point at a
     * node that comes after it in the array. */
    for (size_t i = 0; i < src->n; i++) {
        CUgraphNode s = src->nodes[i];
        sim_work w;
        if (work_copy(&w, &s->w)) goto fail;
        CUgraph child = s->child ? graph_clone(s->child, NULL, NULL) : NULL;
        if (s->child && !child) {
            if (w.kind == W_KERNEL) free(w.kern.buf);
            if (w.kind == W_COPY) free(w.copy.stage);
            goto fail;
        }
        CUgraphNode n;
        if (node_add(g, s->type, &w, child, NULL, 0, &n) != CUDA_SUCCESS) goto fail;
        n->copy = s->copy;
        n->set = s->set;
        n->ctx = s->ctx;
        if (map_from && map_to) for (size_t k = 0; map_from[k]; k++)
            if (map_from[k] == s) map_to[k] = n;
    }
    for (size_t i = 0; i < src->n; i++) {
        CUgraphNode s = src->nodes[i], n = g->nodes[i];
        if (!s->ndeps) continue;
        n->deps = malloc(s->ndeps * sizeof *n->deps);
        if (!n->deps) goto fail;
        for (size_t d = 0; d < s->ndeps; d++) {
            size_t k = 0;
            while (src->nodes[k] != s->deps[d]) k++;
            n->deps[d] = g->nodes[k];
        }
        n->ndeps = s->ndeps;
    }
    return g;
fail:
    graph_free(g);
    return NULL;
}

/* ---- exec ----------------------------------------------------------------------------- */

void sim_exec_unref(struct sim_exec *x)
{
    if (!x || atomic_fetch_sub(&x->refs, 1) != 1) return;
    for (size_t i = 0; i < x->n; i++) {
        if (x->v[i].w.kind == W_KERNEL) free(x->v[i].w.kern.buf);
        if (x->v[i].w.kind == W_COPY) free(x->v[i].w.copy.stage);
        sim_exec_unref(x->v[i].child);
    }
    free(x->v);
    x->magic = 0;
    free(x);
}

/* Topological order (Kahn; ties in insertion order). */
static struct sim_exec *exec_build(CUgraph g)
{
    struct sim_exec *x = calloc(1, sizeof *x);
    size_t *indeg = calloc(g->n ? g->n : 1, sizeof *indeg);
    bool *done = calloc(g->n ? g->n : 1, sizeof *done);
    if (!x || !indeg || !done) goto fail;
    x->magic = SIM_MAGIC_EXEC;
    atomic_init(&x->refs, 1);
    x->v = calloc(g->n ? g->n : 1, sizeof *x->v);
    if (!x->v) goto fail;
    for (size_t k = 0; k < g->n; k++) {
        size_t pick = g->n;
        for (size_t i = 0; i < g->n && pick == g->n; i++) {
            if (done[i]) continue;
            bool ready = true;
            for (size_t d = 0; d < g->nodes[i]->ndeps && ready; d++)
                for (size_t j = 0; j < g->n; j++)
                    if (g->nodes[j] == g->nodes[i]->deps[d] && !done[j]) ready = false;
            if (ready) pick = i;
        }
        if (pick == g->n) goto fail; /* cycle */
        done[pick] = true;
        CUgraphNode s = g->nodes[pick];
        exec_node *e = &x->v[x->n];
        e->orig = s;
        e->type = s->type;
        e->ndeps = s->ndeps;
        if (work_copy(&e->w, &s->w)) goto fail;
        x->n++;
        if (s->child && !(e->child = exec_build(s->child))) goto fail;
    }
    free(indeg);
    free(done);
    return x;
fail:
    free(indeg);
    free(done);
    if (x) {
        atomic_init(&x->refs, 1);
        sim_exec_unref(x);
    }
    return NULL;
}

static struct sim_exec *exec_clone(struct sim_exec *src)
{
    struct sim_exec *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->magic = SIM_MAGIC_EXEC;
    atomic_init(&x->refs, 1);
    x->v = calloc(src->n ? src->n : 1, sizeof *x->v);
    if (!x->v) {
        free(x);
        return NULL;
    }
    for (size_t i = 0; i < src->n; i++) {
        x->v[i].orig = src->v[i].orig;
        x->v[i].type = src->v[i].type;
        x->v[i].ndeps = src->v[i].ndeps;
        if (work_copy(&x->v[i].w, &src->v[i].w)) break;
        x->n++;
        if (src->v[i].child && !(x->v[i].child = exec_clone(src->v[i].child))) break;
    }
    if (x->n != src->n) {
        sim_exec_unref(x);
        return NULL;
    }
    return x;
}

void sim_exec_run(struct sim_exec *x, struct CUstream_st *s)
{
    for (size_t i = 0; i < x->n; i++) {
        if (x->v[i].child) sim_exec_run(x->v[i].child, s);
        else sim_work_run(&x->v[i].w, s);
    }
}

/* ---- graph API ------------------------------------------------------------------------ */

#define LOCK() pthread_mutex_lock(&g_sim.q_mu)
#define UNLOCK() pthread_mutex_unlock(&g_sim.q_mu)

SIM_EXPORT CUresult cuGraphCreate(CUgraph *phGraph, unsigned int flags)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!phGraph || flags != 0) return CUDA_ERROR_INVALID_VALUE;
    CUgraph g = graph_new();
    if (!g) return CUDA_ERROR_OUT_OF_MEMORY;
    *phGraph = g;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuGraphDestroy(CUgraph hGraph)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    LOCK();
    CUgraph g = graph_check(hGraph);
    if (g) graph_free(g);
    UNLOCK();
    return g ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

SIM_EXPORT CUresult cuGraphClone(CUgraph *phGraphClone, CUgraph originalGraph)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!phGraphClone) return CUDA_ERROR_INVALID_VALUE;
    LOCK();
    CUgraph g = graph_check(originalGraph);
    CUgraph c = g ? graph_clone(g, NULL, NULL) : NULL;
    UNLOCK();
    if (!g) return CUDA_ERROR_INVALID_VALUE;
    if (!c) return CUDA_ERROR_OUT_OF_MEMORY;
    *phGraphClone = c;
    return CUDA_SUCCESS;
}

static CUresult kernel_work(CUfunction func, CUkernel kern, unsigned gx, unsigned gy, unsigned gz,
                            unsigned bx, unsigned by, unsigned bz, unsigned shmem,
                            void **kp, void **extra, sim_work *w)
{
    sim_func *f = sim_func_check(func ? func : (CUfunction)(void *)kern);
    if (!f) return CUDA_ERROR_INVALID_VALUE;
    if (!gx || !gy || !gz || !bx || !by || !bz) return CUDA_ERROR_INVALID_VALUE;
    if ((unsigned long long)bx * by * bz > 1024) return CUDA_ERROR_INVALID_VALUE;
    *w = (sim_work){.kind = W_KERNEL};
    CUresult r = sim_pack_params(f, kp, extra, &w->kern.buf, &w->kern.bufsize);
    if (r != CUDA_SUCCESS) return r;
    w->kern.f = f;
    w->kern.launch = (hmt_sim_launch){{gx, gy, gz}, {bx, by, bz}, shmem, NULL};
    return CUDA_SUCCESS;
}

/* kernel_work for the parameter structs the kernel-node Add/SetParams entry points take:
 * CUDA_KERNEL_NODE_PARAMS (v2: func or kern) and its v1 (func only). */
static CUresult kernel_node_work(const CUDA_KERNEL_NODE_PARAMS *p, sim_work *w)
{
    if (!p) return CUDA_ERROR_INVALID_VALUE;
    return kernel_work(p->func, p->kern, p->gridDimX, p->gridDimY, p->gridDimZ, p->blockDimX,
                       p->blockDimY, p->blockDimZ, p->sharedMemBytes, p->kernelParams, p->extra, w);
}

static CUresult kernel_node_work_v1(const CUDA_KERNEL_NODE_PARAMS_v1 *p, sim_work *w)
{
    if (!p) return CUDA_ERROR_INVALID_VALUE;
    return kernel_work(p->func, NULL, p->gridDimX, p->gridDimY, p->gridDimZ, p->blockDimX,
                       p->blockDimY, p->blockDimZ, p->sharedMemBytes, p->kernelParams, p->extra, w);
}

static CUresult add_node(CUgraphNode *ph, CUgraph hg, const CUgraphNode *deps, size_t ndeps,
                         CUgraphNodeType type, sim_work *w, CUgraph child, CUgraphNode *made)
{
    if (!ph || (ndeps && !deps)) {
        if (w && w->kind == W_KERNEL) free(w->kern.buf);
        graph_free(child);
        return CUDA_ERROR_INVALID_VALUE;
    }
    LOCK();
    CUgraph g = graph_check(hg);
    CUresult r = g ? node_add(g, type, w, child, deps, ndeps, ph) : CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS && made) *made = *ph;
    UNLOCK();
    if (r != CUDA_SUCCESS) {
        if (w && w->kind == W_KERNEL) free(w->kern.buf);
        graph_free(child);
    }
    return r;
}

SIM_EXPORT CUresult cuGraphAddKernelNode_v2(CUgraphNode *phGraphNode, CUgraph hGraph,
                                            const CUgraphNode *dependencies, size_t numDependencies,
                                            const CUDA_KERNEL_NODE_PARAMS *p)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    sim_work w;
    CUresult r = kernel_node_work(p, &w);
    if (r != CUDA_SUCCESS) return r;
    return add_node(phGraphNode, hGraph, dependencies, numDependencies, CU_GRAPH_NODE_TYPE_KERNEL,
                    &w, NULL, NULL);
}

SIM_EXPORT CUresult cuGraphAddKernelNode(CUgraphNode *phGraphNode, CUgraph hGraph,
                                         const CUgraphNode *dependencies, size_t numDependencies,
                                         const CUDA_KERNEL_NODE_PARAMS_v1 *p)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    sim_work w;
    CUresult r = kernel_node_work_v1(p, &w);
    if (r != CUDA_SUCCESS) return r;
    return add_node(phGraphNode, hGraph, dependencies, numDependencies, CU_GRAPH_NODE_TYPE_KERNEL,
                    &w, NULL, NULL);
}

CUresult sim_copy3d_work(const CUDA_MEMCPY3D *c, sim_work *w);

SIM_EXPORT CUresult cuGraphAddMemcpyNode(CUgraphNode *phGraphNode, CUgraph hGraph,
                                         const CUgraphNode *dependencies, size_t numDependencies,
                                         const CUDA_MEMCPY3D *copyParams, CUcontext ctx)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    sim_work w;
    CUresult r = sim_copy3d_work(copyParams, &w);
    if (r != CUDA_SUCCESS) return r;
    w.copy.dir = sim_in_device_range((uintptr_t)w.copy.dst, 1)
                     ? (sim_in_device_range((uintptr_t)w.copy.src, 1) ? DIR_DD : DIR_HD)
                     : (sim_in_device_range((uintptr_t)w.copy.src, 1) ? DIR_DH : DIR_HH);
    CUgraphNode n = NULL;
    r = add_node(phGraphNode, hGraph, dependencies, numDependencies, CU_GRAPH_NODE_TYPE_MEMCPY, &w,
                 NULL, &n);
    if (r == CUDA_SUCCESS) {
        n->copy = *copyParams;
        n->ctx = ctx;
    }
    return r;
}

SIM_EXPORT CUresult cuGraphAddMemsetNode(CUgraphNode *phGraphNode, CUgraph hGraph,
                                         const CUgraphNode *dependencies, size_t numDependencies,
                                         const CUDA_MEMSET_NODE_PARAMS *p, CUcontext ctx)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!p || !p->dst || (p->elementSize != 1 && p->elementSize != 2 && p->elementSize != 4) ||
        (p->height > 1 && p->pitch < p->width * p->elementSize))
        return CUDA_ERROR_INVALID_VALUE;
    sim_work w = {.kind = W_SET,
                  .set = {.dst = (char *)(uintptr_t)p->dst,
                          .pitch = p->height > 1 ? p->pitch : p->width * p->elementSize,
                          .width = p->width, .height = p->height ? p->height : 1,
                          .elem = p->elementSize, .value = p->value}};
    CUgraphNode n = NULL;
    CUresult r = add_node(phGraphNode, hGraph, dependencies, numDependencies,
                          CU_GRAPH_NODE_TYPE_MEMSET, &w, NULL, &n);
    if (r == CUDA_SUCCESS) {
        n->set = *p;
        n->ctx = ctx;
    }
    return r;
}

SIM_EXPORT CUresult cuGraphAddHostNode(CUgraphNode *phGraphNode, CUgraph hGraph,
                                       const CUgraphNode *dependencies, size_t numDependencies,
                                       const CUDA_HOST_NODE_PARAMS *p)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!p || !p->fn) return CUDA_ERROR_INVALID_VALUE;
    sim_work w = {.kind = W_HOST, .host = {p->fn, p->userData}};
    return add_node(phGraphNode, hGraph, dependencies, numDependencies, CU_GRAPH_NODE_TYPE_HOST,
                    &w, NULL, NULL);
}

SIM_EXPORT CUresult cuGraphAddEmptyNode(CUgraphNode *phGraphNode, CUgraph hGraph,
                                        const CUgraphNode *dependencies, size_t numDependencies)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    return add_node(phGraphNode, hGraph, dependencies, numDependencies, CU_GRAPH_NODE_TYPE_EMPTY,
                    NULL, NULL, NULL);
}

SIM_EXPORT CUresult cuGraphAddChildGraphNode(CUgraphNode *phGraphNode, CUgraph hGraph,
                                             const CUgraphNode *dependencies,
                                             size_t numDependencies, CUgraph childGraph)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    LOCK();
    CUgraph c = graph_check(childGraph);
    CUgraph clone = c ? graph_clone(c, NULL, NULL) : NULL;
    UNLOCK();
    if (!c) return CUDA_ERROR_INVALID_VALUE;
    if (!clone) return CUDA_ERROR_OUT_OF_MEMORY;
    return add_node(phGraphNode, hGraph, dependencies, numDependencies, CU_GRAPH_NODE_TYPE_GRAPH,
                    NULL, clone, NULL);
}

SIM_EXPORT CUresult cuGraphChildGraphNodeGetGraph(CUgraphNode hNode, CUgraph *phGraph)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!phGraph) return CUDA_ERROR_INVALID_VALUE;
    LOCK();
    CUgraphNode n = node_check(hNode);
    CUresult r = n && n->type == CU_GRAPH_NODE_TYPE_GRAPH ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS) *phGraph = n->child;
    UNLOCK();
    return r;
}

SIM_EXPORT CUresult cuGraphGetNodes(CUgraph hGraph, CUgraphNode *nodes, size_t *numNodes)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!numNodes) return CUDA_ERROR_INVALID_VALUE;
    LOCK();
    CUgraph g = graph_check(hGraph);
    if (g) {
        if (nodes) {
            for (size_t i = 0; i < *numNodes; i++) nodes[i] = i < g->n ? g->nodes[i] : NULL;
            if (*numNodes > g->n) *numNodes = g->n;
        } else {
            *numNodes = g->n;
        }
    }
    UNLOCK();
    return g ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

SIM_EXPORT CUresult cuGraphGetRootNodes(CUgraph hGraph, CUgraphNode *rootNodes, size_t *numRootNodes)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!numRootNodes) return CUDA_ERROR_INVALID_VALUE;
    LOCK();
    CUgraph g = graph_check(hGraph);
    if (g) {
        size_t k = 0;
        for (size_t i = 0; i < g->n; i++)
            if (!g->nodes[i]->ndeps) {
                if (rootNodes && k < *numRootNodes) rootNodes[k] = g->nodes[i];
                k++;
            }
        if (!rootNodes || k < *numRootNodes) *numRootNodes = k;
    }
    UNLOCK();
    return g ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

SIM_EXPORT CUresult cuGraphNodeGetType(CUgraphNode hNode, CUgraphNodeType *type)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!type) return CUDA_ERROR_INVALID_VALUE;
    LOCK();
    CUgraphNode n = node_check(hNode);
    if (n) *type = n->type;
    UNLOCK();
    return n ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

static CUresult node_deps(CUgraphNode hNode, CUgraphNode *deps, CUgraphEdgeData *edges, size_t *num)
{
    SIM_NEED_INIT();
    if (!num) return CUDA_ERROR_INVALID_VALUE;
    LOCK();
    CUgraphNode n = node_check(hNode);
    if (n) {
        if (deps) {
            for (size_t i = 0; i < *num; i++) {
                deps[i] = i < n->ndeps ? n->deps[i] : NULL;
                if (edges) memset(&edges[i], 0, sizeof edges[i]);
            }
            if (*num > n->ndeps) *num = n->ndeps;
        } else {
            *num = n->ndeps;
        }
    }
    UNLOCK();
    return n ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

SIM_EXPORT CUresult cuGraphNodeGetDependencies(CUgraphNode hNode, CUgraphNode *dependencies,
                                               size_t *numDependencies)
{
    SIM_ENTER();
    return node_deps(hNode, dependencies, NULL, numDependencies);
}

SIM_EXPORT CUresult cuGraphNodeGetDependencies_v2(CUgraphNode hNode, CUgraphNode *dependencies,
                                                  CUgraphEdgeData *edgeData, size_t *numDependencies)
{
    SIM_ENTER();
    return node_deps(hNode, dependencies, edgeData, numDependencies);
}

static void fill_kparams(CUgraphNode n, CUfunction *func, unsigned *dims, unsigned *shmem,
                         void ***kp, void ***extra)
{
    *func = (CUfunction)(void *)n->w.kern.f;
    const hmt_sim_launch *l = &n->w.kern.launch;
    unsigned v[6] = {l->grid.x, l->grid.y, l->grid.z, l->block.x, l->block.y, l->block.z};
    memcpy(dims, v, sizeof v);
    *shmem = l->shared_bytes;
    *kp = n->kparams;
    *extra = NULL;
}

SIM_EXPORT CUresult cuGraphKernelNodeGetParams_v2(CUgraphNode hNode, CUDA_KERNEL_NODE_PARAMS *p)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!p) return CUDA_ERROR_INVALID_VALUE;
    LOCK();
    CUgraphNode n = node_check(hNode);
    CUresult r = n && n->type == CU_GRAPH_NODE_TYPE_KERNEL ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS) {
        unsigned d[6];
        memset(p, 0, sizeof *p);
        fill_kparams(n, &p->func, d, &p->sharedMemBytes, &p->kernelParams, &p->extra);
        p->gridDimX = d[0], p->gridDimY = d[1], p->gridDimZ = d[2];
        p->blockDimX = d[3], p->blockDimY = d[4], p->blockDimZ = d[5];
        p->ctx = n->ctx;
    }
    UNLOCK();
    return r;
}

SIM_EXPORT CUresult cuGraphKernelNodeGetParams(CUgraphNode hNode, CUDA_KERNEL_NODE_PARAMS_v1 *p)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!p) return CUDA_ERROR_INVALID_VALUE;
    LOCK();
    CUgraphNode n = node_check(hNode);
    CUresult r = n && n->type == CU_GRAPH_NODE_TYPE_KERNEL ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS) {
        unsigned d[6];
        fill_kparams(n, &p->func, d, &p->sharedMemBytes, &p->kernelParams, &p->extra);
        p->gridDimX = d[0], p->gridDimY = d[1], p->gridDimZ = d[2];
        p->blockDimX = d[3], p->blockDimY = d[4], p->blockDimZ = d[5];
    }
    UNLOCK();
    return r;
}

static CUresult node_set_kernel(CUgraphNode hNode, sim_work *w)
{
    LOCK();
    CUgraphNode n = node_check(hNode);
    CUresult r = n && n->type == CU_GRAPH_NODE_TYPE_KERNEL ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS) {
        free(n->w.kern.buf);
        n->w = *w;
        set_kparams(n);
    }
    UNLOCK();
    if (r != CUDA_SUCCESS) free(w->kern.buf);
    return r;
}

SIM_EXPORT CUresult cuGraphKernelNodeSetParams_v2(CUgraphNode hNode, const CUDA_KERNEL_NODE_PARAMS *p)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    sim_work w;
    CUresult r = kernel_node_work(p, &w);
    return r != CUDA_SUCCESS ? r : node_set_kernel(hNode, &w);
}

SIM_EXPORT CUresult cuGraphKernelNodeSetParams(CUgraphNode hNode, const CUDA_KERNEL_NODE_PARAMS_v1 *p)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    sim_work w;
    CUresult r = kernel_node_work_v1(p, &w);
    return r != CUDA_SUCCESS ? r : node_set_kernel(hNode, &w);
}

SIM_EXPORT CUresult cuGraphMemcpyNodeGetParams(CUgraphNode hNode, CUDA_MEMCPY3D *nodeParams)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!nodeParams) return CUDA_ERROR_INVALID_VALUE;
    LOCK();
    CUgraphNode n = node_check(hNode);
    CUresult r = n && n->type == CU_GRAPH_NODE_TYPE_MEMCPY ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS) *nodeParams = n->copy;
    UNLOCK();
    return r;
}

SIM_EXPORT CUresult cuGraphMemsetNodeGetParams(CUgraphNode hNode, CUDA_MEMSET_NODE_PARAMS *nodeParams)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!nodeParams) return CUDA_ERROR_INVALID_VALUE;
    LOCK();
    CUgraphNode n = node_check(hNode);
    CUresult r = n && n->type == CU_GRAPH_NODE_TYPE_MEMSET ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS) *nodeParams = n->set;
    UNLOCK();
    return r;
}

SIM_EXPORT CUresult cuGraphHostNodeGetParams(CUgraphNode hNode, CUDA_HOST_NODE_PARAMS *nodeParams)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!nodeParams) return CUDA_ERROR_INVALID_VALUE;
    LOCK();
    CUgraphNode n = node_check(hNode);
    CUresult r = n && n->type == CU_GRAPH_NODE_TYPE_HOST ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS) {
        nodeParams->fn = n->w.host.fn;
        nodeParams->userData = n->w.host.data;
    }
    UNLOCK();
    return r;
}

/* ---- instantiate / launch ------------------------------------------------------------- */

static CUresult instantiate(CUgraphExec *ph, CUgraph hg, unsigned long long flags)
{
    SIM_NEED_INIT();
    if (!ph) return CUDA_ERROR_INVALID_VALUE;
    LOCK();
    CUgraph g = graph_check(hg);
    struct sim_exec *x = g ? exec_build(g) : NULL;
    UNLOCK();
    if (!g) return CUDA_ERROR_INVALID_VALUE;
    if (!x) return CUDA_ERROR_INVALID_VALUE; /* cycle or no memory */
    x->flags = flags;
    *ph = (CUgraphExec)(void *)x;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuGraphInstantiateWithFlags(CUgraphExec *phGraphExec, CUgraph hGraph,
                                                unsigned long long flags)
{
    SIM_ENTER();
    return instantiate(phGraphExec, hGraph, flags);
}

SIM_EXPORT CUresult cuGraphInstantiate_v2(CUgraphExec *phGraphExec, CUgraph hGraph,
                                          CUgraphNode *phErrorNode, char *logBuffer, size_t bufferSize)
{
    SIM_ENTER();
    if (phErrorNode) *phErrorNode = NULL;
    if (logBuffer && bufferSize) logBuffer[0] = 0;
    return instantiate(phGraphExec, hGraph, 0);
}

SIM_EXPORT CUresult cuGraphInstantiate(CUgraphExec *phGraphExec, CUgraph hGraph,
                                       CUgraphNode *phErrorNode, char *logBuffer, size_t bufferSize)
{
    SIM_ENTER();
    if (phErrorNode) *phErrorNode = NULL;
    if (logBuffer && bufferSize) logBuffer[0] = 0;
    return instantiate(phGraphExec, hGraph, 0);
}

static CUresult inst_params(CUgraphExec *ph, CUgraph hg, CUDA_GRAPH_INSTANTIATE_PARAMS *p)
{
    if (!p) return CUDA_ERROR_INVALID_VALUE;
    CUresult r = instantiate(ph, hg, p->flags);
    p->hErrNode_out = NULL;
    p->result_out = r == CUDA_SUCCESS ? CUDA_GRAPH_INSTANTIATE_SUCCESS : CUDA_GRAPH_INSTANTIATE_ERROR;
    return r;
}

SIM_EXPORT CUresult cuGraphInstantiateWithParams(CUgraphExec *phGraphExec, CUgraph hGraph,
                                                 CUDA_GRAPH_INSTANTIATE_PARAMS *p)
{
    SIM_ENTER();
    return inst_params(phGraphExec, hGraph, p);
}

SIM_EXPORT CUresult cuGraphInstantiateWithParams_ptsz(CUgraphExec *phGraphExec, CUgraph hGraph,
                                                      CUDA_GRAPH_INSTANTIATE_PARAMS *p)
{
    SIM_ENTER();
    return inst_params(phGraphExec, hGraph, p);
}

SIM_EXPORT CUresult cuGraphExecGetFlags(CUgraphExec hGraphExec, cuuint64_t *flags)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    struct sim_exec *x = exec_check(hGraphExec);
    if (!x) return CUDA_ERROR_INVALID_VALUE;
    if (!flags) return CUDA_ERROR_INVALID_VALUE;
    *flags = x->flags;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuGraphExecDestroy(CUgraphExec hGraphExec)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    LOCK();
    struct sim_exec *x = exec_check(hGraphExec);
    if (x) x->magic = 0; /* launches run private copies, so this is the last reference */
    UNLOCK();
    if (!x) return CUDA_ERROR_INVALID_VALUE;
    sim_exec_unref(x);
    return CUDA_SUCCESS;
}

static CUresult graph_launch(CUgraphExec hx, CUstream h, bool ptsz)
{
    struct CUstream_st *s;
    CUresult r = sim_stream_resolve(h, ptsz, &s);
    if (r != CUDA_SUCCESS) return r;
    LOCK();
    struct sim_exec *x = exec_check(hx);
    struct sim_exec *inst = x ? exec_clone(x) : NULL;
    UNLOCK();
    if (!x) return CUDA_ERROR_INVALID_VALUE;
    if (!inst) return CUDA_ERROR_OUT_OF_MEMORY;
    sim_work w = {.kind = W_GRAPH, .graph = {inst}};
    return sim_submit(s, &w);
}

SIM_EXPORT CUresult cuGraphLaunch(CUgraphExec hGraphExec, CUstream hStream)
{
    SIM_ENTER();
    return graph_launch(hGraphExec, hStream, false);
}

SIM_EXPORT CUresult cuGraphLaunch_ptsz(CUgraphExec hGraphExec, CUstream hStream)
{
    SIM_ENTER();
    return graph_launch(hGraphExec, hStream, true);
}

static CUresult upload(CUgraphExec hx, CUstream h, bool ptsz)
{
    struct CUstream_st *s;
    CUresult r = sim_stream_resolve(h, ptsz, &s);
    if (r != CUDA_SUCCESS) return r;
    return exec_check(hx) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

SIM_EXPORT CUresult cuGraphUpload(CUgraphExec hGraphExec, CUstream hStream)
{
    SIM_ENTER();
    return upload(hGraphExec, hStream, false);
}

SIM_EXPORT CUresult cuGraphUpload_ptsz(CUgraphExec hGraphExec, CUstream hStream)
{
    SIM_ENTER();
    return upload(hGraphExec, hStream, true);
}

static exec_node *exec_find(struct sim_exec *x, CUgraphNode n)
{
    for (size_t i = 0; i < x->n; i++) {
        if (x->v[i].orig == n) return &x->v[i];
        if (x->v[i].child) {
            exec_node *e = exec_find(x->v[i].child, n);
            if (e) return e;
        }
    }
    return NULL;
}

static CUresult exec_set_kernel(CUgraphExec hx, CUgraphNode hn, sim_work *w)
{
    LOCK();
    struct sim_exec *x = exec_check(hx);
    exec_node *e = x ? exec_find(x, hn) : NULL;
    CUresult r = e && e->w.kind == W_KERNEL ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS) {
        free(e->w.kern.buf);
        e->w = *w;
    }
    UNLOCK();
    if (r != CUDA_SUCCESS) free(w->kern.buf);
    return r;
}

SIM_EXPORT CUresult cuGraphExecKernelNodeSetParams_v2(CUgraphExec hGraphExec, CUgraphNode hNode,
                                                      const CUDA_KERNEL_NODE_PARAMS *p)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    sim_work w;
    CUresult r = kernel_node_work(p, &w);
    return r != CUDA_SUCCESS ? r : exec_set_kernel(hGraphExec, hNode, &w);
}

SIM_EXPORT CUresult cuGraphExecKernelNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode,
                                                   const CUDA_KERNEL_NODE_PARAMS_v1 *p)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    sim_work w;
    CUresult r = kernel_node_work_v1(p, &w);
    return r != CUDA_SUCCESS ? r : exec_set_kernel(hGraphExec, hNode, &w);
}

/* ---- stream capture ------------------------------------------------------------------- */

static atomic_ullong g_capture_id = 1;
static struct sim_capture *g_captures;

static int set_deps(struct CUstream_st *s, CUgraphNode *v, size_t n)
{
    if (n > s->cap_deps_cap) {
        CUgraphNode *nv = realloc(s->cap_deps, n * sizeof *nv);
        if (!nv) return -1;
        s->cap_deps = nv;
        s->cap_deps_cap = n;
    }
    if (n) memmove(s->cap_deps, v, n * sizeof *v);
    s->ncap_deps = n;
    return 0;
}

CUresult sim_capture_add(struct CUstream_st *s, sim_work *w)
{
    struct sim_capture *c = s->cap;
    if (c->status != CU_STREAM_CAPTURE_STATUS_ACTIVE) return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    CUgraphNodeType t;
    switch (w->kind) {
    case W_KERNEL: t = CU_GRAPH_NODE_TYPE_KERNEL; break;
    case W_COPY: t = CU_GRAPH_NODE_TYPE_MEMCPY; break;
    case W_SET: t = CU_GRAPH_NODE_TYPE_MEMSET; break;
    case W_HOST: t = CU_GRAPH_NODE_TYPE_HOST; break;
    default:
        c->status = CU_STREAM_CAPTURE_STATUS_INVALIDATED;
        return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    }
    CUgraphNode n;
    CUresult r = node_add(c->graph, t, w, NULL, s->cap_deps, s->ncap_deps, &n);
    if (r != CUDA_SUCCESS) return r;
    n->ctx = s->ctx;
    if (t == CU_GRAPH_NODE_TYPE_MEMCPY) {
        /* Describe the captured copy as a 3D copy of unified pointers. */
        memset(&n->copy, 0, sizeof n->copy);
        n->copy.srcMemoryType = n->copy.dstMemoryType = CU_MEMORYTYPE_UNIFIED;
        n->copy.srcDevice = (CUdeviceptr)(uintptr_t)w->copy.src;
        n->copy.dstDevice = (CUdeviceptr)(uintptr_t)w->copy.dst;
        n->copy.srcPitch = w->copy.spitch, n->copy.dstPitch = w->copy.dpitch;
        n->copy.WidthInBytes = w->copy.width, n->copy.Height = w->copy.height;
        n->copy.Depth = w->copy.depth ? w->copy.depth : 1;
    } else if (t == CU_GRAPH_NODE_TYPE_MEMSET) {
        n->set = (CUDA_MEMSET_NODE_PARAMS){.dst = (CUdeviceptr)(uintptr_t)w->set.dst,
                                           .pitch = w->set.pitch, .value = w->set.value,
                                           .elementSize = w->set.elem, .width = w->set.width,
                                           .height = w->set.height};
    }
    set_deps(s, &n, 1);
    return CUDA_SUCCESS;
}

CUresult sim_capture_invalidate_locked(struct CUstream_st *s)
{
    s->cap->status = CU_STREAM_CAPTURE_STATUS_INVALIDATED;
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
}

CUresult sim_capture_record_locked(struct CUstream_st *s, struct CUevent_st *e)
{
    CUgraphNode *v = NULL;
    if (s->ncap_deps) {
        v = malloc(s->ncap_deps * sizeof *v);
        if (!v) return CUDA_ERROR_OUT_OF_MEMORY;
        memcpy(v, s->cap_deps, s->ncap_deps * sizeof *v);
    }
    free(e->cap_nodes);
    e->cap_nodes = v;
    e->ncap_nodes = s->ncap_deps;
    e->cap = s->cap;
    return CUDA_SUCCESS;
}

CUresult sim_capture_wait_locked(struct CUstream_st *s, struct CUevent_st *e)
{
    if (!e->cap || e->cap->ended) return CUDA_SUCCESS; /* from outside any live capture */
    if (e->cap->status != CU_STREAM_CAPTURE_STATUS_ACTIVE) return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    if (s->cap && s->cap != e->cap) return CUDA_ERROR_STREAM_CAPTURE_ISOLATION;
    if (!s->cap) { /* fork: s joins the capture */
        s->cap = e->cap;
        return set_deps(s, e->cap_nodes, e->ncap_nodes) ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_SUCCESS;
    }
    /* join: union of both dependency sets */
    CUgraphNode *v = malloc((s->ncap_deps + e->ncap_nodes + 1) * sizeof *v);
    if (!v) return CUDA_ERROR_OUT_OF_MEMORY;
    size_t n = 0;
    for (size_t i = 0; i < s->ncap_deps; i++) v[n++] = s->cap_deps[i];
    for (size_t i = 0; i < e->ncap_nodes; i++) {
        bool dup = false;
        for (size_t j = 0; j < n; j++) dup |= v[j] == e->cap_nodes[i];
        if (!dup) v[n++] = e->cap_nodes[i];
    }
    int rc = set_deps(s, v, n);
    free(v);
    return rc ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_SUCCESS;
}

static CUresult begin_capture(CUstream h, bool ptsz, CUstreamCaptureMode mode)
{
    struct CUstream_st *s;
    CUresult r = sim_stream_resolve(h, ptsz, &s);
    if (r != CUDA_SUCCESS) return r;
    if (s->kind == STREAM_LEGACY) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    if ((unsigned)mode > CU_STREAM_CAPTURE_MODE_RELAXED) return CUDA_ERROR_INVALID_VALUE;
    struct sim_capture *c = calloc(1, sizeof *c);
    CUgraph g = graph_new();
    if (!c || !g) {
        free(c);
        free(g);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    *c = (struct sim_capture){.graph = g, .status = CU_STREAM_CAPTURE_STATUS_ACTIVE, .mode = mode,
                              .id = atomic_fetch_add(&g_capture_id, 1), .origin = s,
                              .owner = pthread_self()};
    LOCK();
    if (s->cap) r = CUDA_ERROR_ILLEGAL_STATE;
    else {
        s->cap = c;
        s->ncap_deps = 0;
        c->next = g_captures;
        g_captures = c;
    }
    UNLOCK();
    if (r != CUDA_SUCCESS) {
        free(c);
        graph_free(g);
    }
    return r;
}

SIM_EXPORT CUresult cuStreamBeginCapture(CUstream hStream)
{
    SIM_ENTER();
    return begin_capture(hStream, false, CU_STREAM_CAPTURE_MODE_GLOBAL);
}

SIM_EXPORT CUresult cuStreamBeginCapture_ptsz(CUstream hStream)
{
    SIM_ENTER();
    return begin_capture(hStream, true, CU_STREAM_CAPTURE_MODE_GLOBAL);
}

SIM_EXPORT CUresult cuStreamBeginCapture_v2(CUstream hStream, CUstreamCaptureMode mode)
{
    SIM_ENTER();
    return begin_capture(hStream, false, mode);
}

SIM_EXPORT CUresult cuStreamBeginCapture_v2_ptsz(CUstream hStream, CUstreamCaptureMode mode)
{
    SIM_ENTER();
    return begin_capture(hStream, true, mode);
}

static CUresult end_capture(CUstream h, bool ptsz, CUgraph *ph)
{
    struct CUstream_st *s;
    CUresult r = sim_stream_resolve(h, ptsz, &s);
    if (r != CUDA_SUCCESS) return r;
    if (!ph) return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_sim.ctx_mu);
    LOCK();
    struct sim_capture *c = s->cap;
    if (!c) r = CUDA_ERROR_ILLEGAL_STATE;
    else if (c->origin != s) r = CUDA_ERROR_STREAM_CAPTURE_UNMATCHED;
    else {
        /* Every stream that joined must have been joined back into the origin. */
        for (struct CUstream_st *o = s->ctx->streams; o; o = o->next)
            if (o != s && o->cap == c) o->cap = NULL; /* detach (unjoined work stays in) */
        s->cap = NULL;
        s->ncap_deps = 0;
        if (c->status != CU_STREAM_CAPTURE_STATUS_ACTIVE) {
            graph_free(c->graph);
            *ph = NULL;
            r = CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
        } else {
            *ph = c->graph;
        }
        c->graph = NULL;
        c->ended = true;
    }
    UNLOCK();
    pthread_mutex_unlock(&g_sim.ctx_mu);
    return r;
}

SIM_EXPORT CUresult cuStreamEndCapture(CUstream hStream, CUgraph *phGraph)
{
    SIM_ENTER();
    return end_capture(hStream, false, phGraph);
}

SIM_EXPORT CUresult cuStreamEndCapture_ptsz(CUstream hStream, CUgraph *phGraph)
{
    SIM_ENTER();
    return end_capture(hStream, true, phGraph);
}

static CUresult is_capturing(CUstream h, bool ptsz, CUstreamCaptureStatus *st)
{
    struct CUstream_st *s;
    CUresult r = sim_stream_resolve(h, ptsz, &s);
    if (r != CUDA_SUCCESS) return r;
    if (!st) return CUDA_ERROR_INVALID_VALUE;
    LOCK();
    *st = s->cap ? s->cap->status : CU_STREAM_CAPTURE_STATUS_NONE;
    UNLOCK();
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuStreamIsCapturing(CUstream hStream, CUstreamCaptureStatus *captureStatus)
{
    SIM_ENTER();
    return is_capturing(hStream, false, captureStatus);
}

SIM_EXPORT CUresult cuStreamIsCapturing_ptsz(CUstream hStream, CUstreamCaptureStatus *captureStatus)
{
    SIM_ENTER();
    return is_capturing(hStream, true, captureStatus);
}

static CUresult capture_info(CUstream h, bool ptsz, CUstreamCaptureStatus *st, cuuint64_t *id,
                             CUgraph *graph, const CUgraphNode **deps,
                             const CUgraphEdgeData **edges, size_t *ndeps)
{
    struct CUstream_st *s;
    CUresult r = sim_stream_resolve(h, ptsz, &s);
    if (r != CUDA_SUCCESS) return r;
    if (!st) return CUDA_ERROR_INVALID_VALUE;
    LOCK();
    struct sim_capture *c = s->cap;
    *st = c ? c->status : CU_STREAM_CAPTURE_STATUS_NONE;
    if (c) {
        if (id) *id = c->id;
        if (graph) *graph = c->graph;
        if (deps) *deps = s->cap_deps;
        if (ndeps) *ndeps = s->ncap_deps;
    }
    if (edges) *edges = NULL; /* all edges are default edges */
    UNLOCK();
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuStreamGetCaptureInfo(CUstream hStream, CUstreamCaptureStatus *captureStatus_out,
                                           cuuint64_t *id_out)
{
    SIM_ENTER();
    return capture_info(hStream, false, captureStatus_out, id_out, NULL, NULL, NULL, NULL);
}

SIM_EXPORT CUresult cuStreamGetCaptureInfo_ptsz(CUstream hStream,
                                                CUstreamCaptureStatus *captureStatus_out,
                                                cuuint64_t *id_out)
{
    SIM_ENTER();
    return capture_info(hStream, true, captureStatus_out, id_out, NULL, NULL, NULL, NULL);
}

SIM_EXPORT CUresult cuStreamGetCaptureInfo_v2(CUstream hStream, CUstreamCaptureStatus *st,
                                              cuuint64_t *id, CUgraph *graph,
                                              const CUgraphNode **deps, size_t *ndeps)
{
    SIM_ENTER();
    return capture_info(hStream, false, st, id, graph, deps, NULL, ndeps);
}

SIM_EXPORT CUresult cuStreamGetCaptureInfo_v2_ptsz(CUstream hStream, CUstreamCaptureStatus *st,
                                                   cuuint64_t *id, CUgraph *graph,
                                                   const CUgraphNode **deps, size_t *ndeps)
{
    SIM_ENTER();
    return capture_info(hStream, true, st, id, graph, deps, NULL, ndeps);
}

SIM_EXPORT CUresult cuStreamGetCaptureInfo_v3(CUstream hStream, CUstreamCaptureStatus *st,
                                              cuuint64_t *id, CUgraph *graph,
                                              const CUgraphNode **deps,
                                              const CUgraphEdgeData **edges, size_t *ndeps)
{
    SIM_ENTER();
    return capture_info(hStream, false, st, id, graph, deps, edges, ndeps);
}

SIM_EXPORT CUresult cuStreamGetCaptureInfo_v3_ptsz(CUstream hStream, CUstreamCaptureStatus *st,
                                                   cuuint64_t *id, CUgraph *graph,
                                                   const CUgraphNode **deps,
                                                   const CUgraphEdgeData **edges, size_t *ndeps)
{
    SIM_ENTER();
    return capture_info(hStream, true, st, id, graph, deps, edges, ndeps);
}

static __thread CUstreamCaptureMode tl_capture_mode; /* GLOBAL (0) unless exchanged */

/* "Potentially unsafe" calls (allocation, freeing, pinning, device-wide sync) during
 * capture, with CUDA's rules: a thread whose capture-interaction mode is not RELAXED may
 * not make them while it has its own non-relaxed capture going, nor — in GLOBAL mode —
 * while any thread has a GLOBAL capture going. A violation returns
 * CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED and invalidates those captures. */
CUresult sim_capture_unsafe_call(void)
{
    if (tl_capture_mode == CU_STREAM_CAPTURE_MODE_RELAXED) return CUDA_SUCCESS;
    CUresult r = CUDA_SUCCESS;
    LOCK();
    for (struct sim_capture *c = g_captures; c; c = c->next) {
        if (c->ended) continue;
        bool own = pthread_equal(c->owner, pthread_self()) && c->mode != CU_STREAM_CAPTURE_MODE_RELAXED;
        bool global = tl_capture_mode == CU_STREAM_CAPTURE_MODE_GLOBAL &&
                      c->mode == CU_STREAM_CAPTURE_MODE_GLOBAL;
        if (own || global) {
            c->status = CU_STREAM_CAPTURE_STATUS_INVALIDATED;
            r = CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
        }
    }
    UNLOCK();
    return r;
}

SIM_EXPORT CUresult cuThreadExchangeStreamCaptureMode(CUstreamCaptureMode *mode)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!mode || (unsigned)*mode > CU_STREAM_CAPTURE_MODE_RELAXED) return CUDA_ERROR_INVALID_VALUE;
    CUstreamCaptureMode old = tl_capture_mode;
    tl_capture_mode = *mode;
    *mode = old;
    return CUDA_SUCCESS;
}

/* ---- generic node parameters, exec updates ------------------------------------------- */

/* Work for a node described by CUgraphNodeParams (the CUDA 12.2+ generic form). */
static CUresult params_work(const CUgraphNodeParams *p, sim_work *w, CUgraph *child)
{
    *child = NULL;
    w->kind = W_NOP;
    switch (p->type) {
    case CU_GRAPH_NODE_TYPE_KERNEL: {
        const CUDA_KERNEL_NODE_PARAMS_v3 *k = &p->kernel;
        return kernel_work(k->func, k->kern, k->gridDimX, k->gridDimY, k->gridDimZ, k->blockDimX,
                           k->blockDimY, k->blockDimZ, k->sharedMemBytes, k->kernelParams, k->extra, w);
    }
    case CU_GRAPH_NODE_TYPE_MEMCPY: {
        CUresult r = sim_copy3d_work(&p->memcpy.copyParams, w);
        if (r == CUDA_SUCCESS)
            w->copy.dir = sim_in_device_range((uintptr_t)w->copy.dst, 1)
                              ? (sim_in_device_range((uintptr_t)w->copy.src, 1) ? DIR_DD : DIR_HD)
                              : (sim_in_device_range((uintptr_t)w->copy.src, 1) ? DIR_DH : DIR_HH);
        return r;
    }
    case CU_GRAPH_NODE_TYPE_MEMSET: {
        const CUDA_MEMSET_NODE_PARAMS_v2 *m = &p->memset;
        if (!m->dst || (m->elementSize != 1 && m->elementSize != 2 && m->elementSize != 4) ||
            (m->height > 1 && m->pitch < m->width * m->elementSize))
            return CUDA_ERROR_INVALID_VALUE;
        *w = (sim_work){.kind = W_SET,
                        .set = {.dst = (char *)(uintptr_t)m->dst,
                                .pitch = m->height > 1 ? m->pitch : m->width * m->elementSize,
                                .width = m->width, .height = m->height ? m->height : 1,
                                .elem = m->elementSize, .value = m->value}};
        return CUDA_SUCCESS;
    }
    case CU_GRAPH_NODE_TYPE_HOST:
        if (!p->host.fn) return CUDA_ERROR_INVALID_VALUE;
        *w = (sim_work){.kind = W_HOST, .host = {p->host.fn, p->host.userData}};
        return CUDA_SUCCESS;
    case CU_GRAPH_NODE_TYPE_EMPTY:
        return CUDA_SUCCESS;
    case CU_GRAPH_NODE_TYPE_GRAPH: {
        LOCK();
        CUgraph c = graph_check(p->graph.graph);
        *child = c ? graph_clone(c, NULL, NULL) : NULL;
        UNLOCK();
        if (!c) return CUDA_ERROR_INVALID_VALUE;
        return *child ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
    }
    default:
        return CUDA_ERROR_NOT_SUPPORTED; /* events, semaphores, mem alloc/free, conditionals */
    }
}

static CUresult add_generic(CUgraphNode *ph, CUgraph g, const CUgraphNode *deps, size_t n,
                            CUgraphNodeParams *p)
{
    SIM_NEED_INIT();
    if (!p) return CUDA_ERROR_INVALID_VALUE;
    sim_work w;
    CUgraph child;
    CUresult r = params_work(p, &w, &child);
    if (r != CUDA_SUCCESS) return r;
    CUgraphNode made = NULL;
    r = add_node(ph, g, deps, n, p->type, &w, child, &made);
    if (r == CUDA_SUCCESS) {
        if (p->type == CU_GRAPH_NODE_TYPE_MEMCPY) made->copy = p->memcpy.copyParams;
        if (p->type == CU_GRAPH_NODE_TYPE_MEMSET)
            made->set = (CUDA_MEMSET_NODE_PARAMS){p->memset.dst, p->memset.pitch, p->memset.value,
                                                  p->memset.elementSize, p->memset.width,
                                                  p->memset.height};
    }
    return r;
}

SIM_EXPORT CUresult cuGraphAddNode(CUgraphNode *phGraphNode, CUgraph hGraph,
                                   const CUgraphNode *dependencies, size_t numDependencies,
                                   CUgraphNodeParams *nodeParams)
{
    SIM_ENTER();
    return add_generic(phGraphNode, hGraph, dependencies, numDependencies, nodeParams);
}

SIM_EXPORT CUresult cuGraphAddNode_v2(CUgraphNode *phGraphNode, CUgraph hGraph,
                                      const CUgraphNode *dependencies,
                                      const CUgraphEdgeData *dependencyData, size_t numDependencies,
                                      CUgraphNodeParams *nodeParams)
{
    SIM_ENTER();
    (void)dependencyData; /* default edges only */
    return add_generic(phGraphNode, hGraph, dependencies, numDependencies, nodeParams);
}

/* Replace the work of exec node `hn` (same node type); takes ownership of *w. */
static CUresult exec_set_work(CUgraphExec hx, CUgraphNode hn, int kind, sim_work *w)
{
    LOCK();
    struct sim_exec *x = exec_check(hx);
    exec_node *e = x ? exec_find(x, hn) : NULL;
    CUresult r = e && e->w.kind == kind && !e->child ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS) {
        if (e->w.kind == W_KERNEL) free(e->w.kern.buf);
        e->w = *w;
    }
    UNLOCK();
    if (r != CUDA_SUCCESS && w->kind == W_KERNEL) free(w->kern.buf);
    return r;
}

SIM_EXPORT CUresult cuGraphExecMemcpyNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode,
                                                   const CUDA_MEMCPY3D *copyParams, CUcontext ctx)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    (void)ctx;
    CUgraphNodeParams p = {.type = CU_GRAPH_NODE_TYPE_MEMCPY};
    if (!copyParams) return CUDA_ERROR_INVALID_VALUE;
    p.memcpy.copyParams = *copyParams;
    sim_work w;
    CUgraph child;
    CUresult r = params_work(&p, &w, &child);
    return r != CUDA_SUCCESS ? r : exec_set_work(hGraphExec, hNode, W_COPY, &w);
}

SIM_EXPORT CUresult cuGraphExecMemsetNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode,
                                                   const CUDA_MEMSET_NODE_PARAMS *m, CUcontext ctx)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!m) return CUDA_ERROR_INVALID_VALUE;
    CUgraphNodeParams p = {.type = CU_GRAPH_NODE_TYPE_MEMSET};
    p.memset = (CUDA_MEMSET_NODE_PARAMS_v2){m->dst, m->pitch, m->value, m->elementSize, m->width,
                                            m->height, ctx};
    sim_work w;
    CUgraph child;
    CUresult r = params_work(&p, &w, &child);
    return r != CUDA_SUCCESS ? r : exec_set_work(hGraphExec, hNode, W_SET, &w);
}

SIM_EXPORT CUresult cuGraphExecHostNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode,
                                                 const CUDA_HOST_NODE_PARAMS *h)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!h || !h->fn) return CUDA_ERROR_INVALID_VALUE;
    sim_work w = {.kind = W_HOST, .host = {h->fn, h->userData}};
    return exec_set_work(hGraphExec, hNode, W_HOST, &w);
}

SIM_EXPORT CUresult cuGraphExecNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode,
                                             CUgraphNodeParams *nodeParams)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!nodeParams) return CUDA_ERROR_INVALID_VALUE;
    if (nodeParams->type == CU_GRAPH_NODE_TYPE_GRAPH || nodeParams->type == CU_GRAPH_NODE_TYPE_EMPTY)
        return CUDA_ERROR_INVALID_VALUE;
    sim_work w;
    CUgraph child;
    CUresult r = params_work(nodeParams, &w, &child);
    return r != CUDA_SUCCESS ? r : exec_set_work(hGraphExec, hNode, w.kind, &w);
}

/* Same shape: node count, types and dependency counts in topological order, recursively. */
static bool same_shape(struct sim_exec *a, struct sim_exec *b, CUgraphNode *err)
{
    if (a->n != b->n) {
        *err = NULL;
        return false;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (a->v[i].type != b->v[i].type || a->v[i].ndeps != b->v[i].ndeps ||
            !a->v[i].child != !b->v[i].child ||
            (a->v[i].child && !same_shape(a->v[i].child, b->v[i].child, err))) {
            if (!*err) *err = b->v[i].orig; /* b was built from a live graph */
            return false;
        }
    }
    return true;
}

static void steal_works(struct sim_exec *x, struct sim_exec *from)
{
    for (size_t i = 0; i < x->n; i++) {
        if (x->v[i].child) {
            steal_works(x->v[i].child, from->v[i].child);
            continue;
        }
        if (x->v[i].w.kind == W_KERNEL) free(x->v[i].w.kern.buf);
        if (x->v[i].w.kind == W_COPY) free(x->v[i].w.copy.stage);
        x->v[i].w = from->v[i].w;
        from->v[i].w.kind = W_NOP;
    }
}

static CUresult exec_update(CUgraphExec hx, CUgraph hg, CUgraphNode *err_node,
                            CUgraphExecUpdateResult *result)
{
    SIM_NEED_INIT();
    CUgraphNode err = NULL;
    CUgraphExecUpdateResult res = CU_GRAPH_EXEC_UPDATE_SUCCESS;
    CUresult r = CUDA_SUCCESS;
    LOCK();
    struct sim_exec *x = exec_check(hx);
    CUgraph g = graph_check(hg);
    struct sim_exec *tmp = x && g ? exec_build(g) : NULL;
    if (!x || !g) {
        r = CUDA_ERROR_INVALID_VALUE;
    } else if (!tmp) {
        r = CUDA_ERROR_OUT_OF_MEMORY;
    } else if (!same_shape(x, tmp, &err)) {
        r = CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE;
        res = err && x->n == tmp->n ? CU_GRAPH_EXEC_UPDATE_ERROR_NODE_TYPE_CHANGED
                                    : CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED;
    } else {
        steal_works(x, tmp); /* exec nodes keep answering to the original graph's nodes */
    }
    UNLOCK();
    if (tmp) sim_exec_unref(tmp);
    if (err_node) *err_node = err;
    if (result) *result = r == CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE ? res
                          : r == CUDA_SUCCESS ? CU_GRAPH_EXEC_UPDATE_SUCCESS
                                              : CU_GRAPH_EXEC_UPDATE_ERROR;
    return r;
}

SIM_EXPORT CUresult cuGraphExecUpdate_v2(CUgraphExec hGraphExec, CUgraph hGraph,
                                         CUgraphExecUpdateResultInfo *resultInfo)
{
    SIM_ENTER();
    CUgraphNode err = NULL;
    CUgraphExecUpdateResult res;
    CUresult r = exec_update(hGraphExec, hGraph, &err, &res);
    if (resultInfo) {
        resultInfo->result = res;
        resultInfo->errorNode = err;
        resultInfo->errorFromNode = NULL;
    }
    return r;
}

SIM_EXPORT CUresult cuGraphExecUpdate(CUgraphExec hGraphExec, CUgraph hGraph,
                                      CUgraphNode *hErrorNode_out,
                                      CUgraphExecUpdateResult *updateResult_out)
{
    SIM_ENTER();
    return exec_update(hGraphExec, hGraph, hErrorNode_out, updateResult_out);
}

SIM_EXPORT CUresult cuGraphExecChildGraphNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode,
                                                       CUgraph childGraph)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    CUresult r = CUDA_SUCCESS;
    CUgraphNode err = NULL;
    LOCK();
    struct sim_exec *x = exec_check(hGraphExec);
    exec_node *e = x ? exec_find(x, hNode) : NULL;
    CUgraph c = graph_check(childGraph);
    struct sim_exec *tmp = e && e->child && c ? exec_build(c) : NULL;
    if (!e || !e->child || !c) r = CUDA_ERROR_INVALID_VALUE;
    else if (!tmp) r = CUDA_ERROR_OUT_OF_MEMORY;
    else if (!same_shape(e->child, tmp, &err)) r = CUDA_ERROR_INVALID_VALUE; /* topology fixed */
    else steal_works(e->child, tmp);
    UNLOCK();
    if (tmp) sim_exec_unref(tmp);
    return r;
}

/* ---- edges ------------------------------------------------------------------------------ */

static CUresult get_edges(CUgraph hg, CUgraphNode *from, CUgraphNode *to, CUgraphEdgeData *ed,
                          size_t *num)
{
    SIM_NEED_INIT();
    if (!num || (!from) != (!to)) return CUDA_ERROR_INVALID_VALUE;
    LOCK();
    CUgraph g = graph_check(hg);
    if (g) {
        size_t k = 0;
        for (size_t i = 0; i < g->n; i++)
            for (size_t d = 0; d < g->nodes[i]->ndeps; d++, k++)
                if (from && k < *num) {
                    from[k] = g->nodes[i]->deps[d];
                    to[k] = g->nodes[i];
                    if (ed) memset(&ed[k], 0, sizeof ed[k]);
                }
        if (from) for (size_t j = k; j < *num; j++) from[j] = to[j] = NULL;
        if (!from || k < *num) *num = k;
    }
    UNLOCK();
    return g ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

SIM_EXPORT CUresult cuGraphGetEdges(CUgraph hGraph, CUgraphNode *from, CUgraphNode *to, size_t *numEdges)
{
    SIM_ENTER();
    return get_edges(hGraph, from, to, NULL, numEdges);
}

SIM_EXPORT CUresult cuGraphGetEdges_v2(CUgraph hGraph, CUgraphNode *from, CUgraphNode *to,
                                       CUgraphEdgeData *edgeData, size_t *numEdges)
{
    SIM_ENTER();
    return get_edges(hGraph, from, to, edgeData, numEdges);
}

static CUresult dependents(CUgraphNode hn, CUgraphNode *out, CUgraphEdgeData *ed, size_t *num)
{
    SIM_NEED_INIT();
    if (!num) return CUDA_ERROR_INVALID_VALUE;
    LOCK();
    CUgraphNode n = node_check(hn);
    if (n) {
        size_t k = 0;
        for (size_t i = 0; i < n->graph->n; i++) {
            CUgraphNode o = n->graph->nodes[i];
            for (size_t d = 0; d < o->ndeps; d++)
                if (o->deps[d] == n) {
                    if (out && k < *num) {
                        out[k] = o;
                        if (ed) memset(&ed[k], 0, sizeof ed[k]);
                    }
                    k++;
                }
        }
        if (out) for (size_t j = k; j < *num; j++) out[j] = NULL;
        if (!out || k < *num) *num = k;
    }
    UNLOCK();
    return n ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

SIM_EXPORT CUresult cuGraphNodeGetDependentNodes(CUgraphNode hNode, CUgraphNode *dependentNodes,
                                                 size_t *numDependentNodes)
{
    SIM_ENTER();
    return dependents(hNode, dependentNodes, NULL, numDependentNodes);
}

SIM_EXPORT CUresult cuGraphNodeGetDependentNodes_v2(CUgraphNode hNode, CUgraphNode *dependentNodes,
                                                    CUgraphEdgeData *edgeData,
                                                    size_t *numDependentNodes)
{
    SIM_ENTER();
    return dependents(hNode, dependentNodes, edgeData, numDependentNodes);
}

static CUresult add_deps(CUgraph hg, const CUgraphNode *from, const CUgraphNode *to, size_t n)
{
    SIM_NEED_INIT();
    if (n && (!from || !to)) return CUDA_ERROR_INVALID_VALUE;
    CUresult r = CUDA_SUCCESS;
    LOCK();
    CUgraph g = graph_check(hg);
    if (!g) r = CUDA_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < n && r == CUDA_SUCCESS; i++) {
        CUgraphNode f = node_check(from[i]), t = node_check(to[i]);
        if (!f || !t || f->graph != g || t->graph != g || f == t) {
            r = CUDA_ERROR_INVALID_VALUE;
            break;
        }
        for (size_t d = 0; d < t->ndeps; d++)
            if (t->deps[d] == f) r = CUDA_ERROR_INVALID_VALUE; /* already there */
        if (r != CUDA_SUCCESS) break;
        CUgraphNode *v = realloc(t->deps, (t->ndeps + 1) * sizeof *v);
        if (!v) {
            r = CUDA_ERROR_OUT_OF_MEMORY;
            break;
        }
        v[t->ndeps++] = f;
        t->deps = v;
    }
    UNLOCK();
    return r;
}

SIM_EXPORT CUresult cuGraphAddDependencies(CUgraph hGraph, const CUgraphNode *from,
                                           const CUgraphNode *to, size_t numDependencies)
{
    SIM_ENTER();
    return add_deps(hGraph, from, to, numDependencies);
}

SIM_EXPORT CUresult cuGraphAddDependencies_v2(CUgraph hGraph, const CUgraphNode *from,
                                              const CUgraphNode *to, const CUgraphEdgeData *edgeData,
                                              size_t numDependencies)
{
    SIM_ENTER();
    (void)edgeData;
    return add_deps(hGraph, from, to, numDependencies);
}

static CUresult remove_deps(CUgraph hg, const CUgraphNode *from, const CUgraphNode *to, size_t n)
{
    SIM_NEED_INIT();
    if (n && (!from || !to)) return CUDA_ERROR_INVALID_VALUE;
    CUresult r = CUDA_SUCCESS;
    LOCK();
    CUgraph g = graph_check(hg);
    if (!g) r = CUDA_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < n && r == CUDA_SUCCESS; i++) {
        CUgraphNode t = node_check(to[i]);
        bool found = false;
        for (size_t d = 0; t && d < t->ndeps && !found; d++)
            if (t->deps[d] == from[i]) {
                memmove(&t->deps[d], &t->deps[d + 1], (t->ndeps - d - 1) * sizeof *t->deps);
                t->ndeps--;
                found = true;
            }
        if (!found) r = CUDA_ERROR_INVALID_VALUE;
    }
    UNLOCK();
    return r;
}

SIM_EXPORT CUresult cuGraphRemoveDependencies(CUgraph hGraph, const CUgraphNode *from,
                                              const CUgraphNode *to, size_t numDependencies)
{
    SIM_ENTER();
    return remove_deps(hGraph, from, to, numDependencies);
}

SIM_EXPORT CUresult cuGraphRemoveDependencies_v2(CUgraph hGraph, const CUgraphNode *from,
                                                 const CUgraphNode *to,
                                                 const CUgraphEdgeData *edgeData,
                                                 size_t numDependencies)
{
    SIM_ENTER();
    (void)edgeData;
    return remove_deps(hGraph, from, to, numDependencies);
}

SIM_EXPORT CUresult cuGraphDestroyNode(CUgraphNode hNode)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    LOCK();
    CUgraphNode n = node_check(hNode);
    if (n) {
        CUgraph g = n->graph;
        for (size_t i = 0; i < g->n; i++) { /* drop edges into and out of it */
            CUgraphNode o = g->nodes[i];
            for (size_t d = 0; d < o->ndeps;)
                if (o->deps[d] == n) {
                    memmove(&o->deps[d], &o->deps[d + 1], (o->ndeps - d - 1) * sizeof *o->deps);
                    o->ndeps--;
                } else {
                    d++;
                }
        }
        for (size_t i = 0; i < g->n; i++)
            if (g->nodes[i] == n) {
                memmove(&g->nodes[i], &g->nodes[i + 1], (g->n - i - 1) * sizeof *g->nodes);
                g->n--;
                break;
            }
        node_free(n);
    }
    UNLOCK();
    return n ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* ---- capture dependencies ------------------------------------------------------------- */

static CUresult update_capture_deps(CUstream h, bool ptsz, CUgraphNode *deps, size_t n,
                                    unsigned flags)
{
    struct CUstream_st *s;
    CUresult r = sim_stream_resolve(h, ptsz, &s);
    if (r != CUDA_SUCCESS) return r;
    if (flags > CU_STREAM_SET_CAPTURE_DEPENDENCIES || (n && !deps)) return CUDA_ERROR_INVALID_VALUE;
    LOCK();
    if (!s->cap || s->cap->status != CU_STREAM_CAPTURE_STATUS_ACTIVE) {
        r = CUDA_ERROR_ILLEGAL_STATE;
    } else {
        for (size_t i = 0; i < n && r == CUDA_SUCCESS; i++)
            if (!node_check(deps[i]) || deps[i]->graph != s->cap->graph) r = CUDA_ERROR_INVALID_VALUE;
        if (r == CUDA_SUCCESS) {
            size_t base = flags == CU_STREAM_SET_CAPTURE_DEPENDENCIES ? 0 : s->ncap_deps;
            CUgraphNode *v = malloc((base + n + 1) * sizeof *v);
            if (!v) {
                r = CUDA_ERROR_OUT_OF_MEMORY;
            } else {
                size_t k = 0;
                for (size_t i = 0; i < base; i++) v[k++] = s->cap_deps[i];
                for (size_t i = 0; i < n; i++) {
                    bool dup = false;
                    for (size_t j = 0; j < k; j++) dup |= v[j] == deps[i];
                    if (!dup) v[k++] = deps[i];
                }
                if (set_deps(s, v, k)) r = CUDA_ERROR_OUT_OF_MEMORY;
                free(v);
            }
        }
    }
    UNLOCK();
    return r;
}

SIM_EXPORT CUresult cuStreamUpdateCaptureDependencies(CUstream hStream, CUgraphNode *dependencies,
                                                      size_t numDependencies, unsigned int flags)
{
    SIM_ENTER();
    return update_capture_deps(hStream, false, dependencies, numDependencies, flags);
}

SIM_EXPORT CUresult cuStreamUpdateCaptureDependencies_ptsz(CUstream hStream, CUgraphNode *dependencies,
                                                           size_t numDependencies, unsigned int flags)
{
    SIM_ENTER();
    return update_capture_deps(hStream, true, dependencies, numDependencies, flags);
}

SIM_EXPORT CUresult cuStreamUpdateCaptureDependencies_v2(CUstream hStream, CUgraphNode *dependencies,
                                                         const CUgraphEdgeData *dependencyData,
                                                         size_t numDependencies, unsigned int flags)
{
    SIM_ENTER();
    (void)dependencyData;
    return update_capture_deps(hStream, false, dependencies, numDependencies, flags);
}

SIM_EXPORT CUresult cuStreamUpdateCaptureDependencies_v2_ptsz(CUstream hStream,
                                                              CUgraphNode *dependencies,
                                                              const CUgraphEdgeData *dependencyData,
                                                              size_t numDependencies,
                                                              unsigned int flags)
{
    SIM_ENTER();
    (void)dependencyData;
    return update_capture_deps(hStream, true, dependencies, numDependencies, flags);
}

/* A device-wide synchronise cannot wait for a stream that is capturing, whatever the
 * capture mode: refused, and those captures are invalidated. */
CUresult sim_capture_ctx_sync_check(CUcontext c)
{
    CUresult r = CUDA_SUCCESS;
    pthread_mutex_lock(&g_sim.ctx_mu);
    LOCK();
    for (struct CUstream_st *s = c->streams; s; s = s->next)
        if (s->cap) r = sim_capture_invalidate_locked(s);
    UNLOCK();
    pthread_mutex_unlock(&g_sim.ctx_mu);
    return r;
}
