/* sim/internal.h — shared state of the simulated CUDA driver (libcuda.so.1).
 *
 * The sim is a handful of subsystems, one file each: options (environment), space (device
 * VA range, memfd-backed physical memory, address maps), fault (SIGSEGV/SIGBUS guard that
 * turns a touch of unmapped device memory into CUDA_ERROR_ILLEGAL_ADDRESS), context
 * (device, contexts), stream (worker threads, events, ordering), memory/vmm/copy/pool/
 * memops (the memory API), module (modules and launches), graph (graphs + stream capture),
 * occupancy, stats (call counts, fault injection, JSON), errors.
 *
 * We compile with __CUDA_API_VERSION_INTERNAL so that cuda.h declares every ABI variant
 * under its real exported name (cuMemAlloc_v2, cuMemcpy_ptds, cuMemcpyAsync_ptsz, ...),
 * and each exported function is written out under its exact exported name.
 *
 * Lock order (outer to inner); nothing waits for stream progress while holding mem_mu:
 *   g_sim.ctx_mu   contexts and their stream lists, the primary context, the module list
 *   g_sim.mem_mu   address maps, arenas, VMM handles, pinned host regions, byte counters,
 *                  memory pools
 *   g_sim.q_mu     every stream queue, stream seq numbers, event generations and refs,
 *                  graphs, execs' node parameters, captures; workers drop it while running
 *                  an operation. Never held while taking mem_mu or ctx_mu.
 *   g_sim.stat_mu  call-count registry and fault-injection rules (leaf)
 * A thread holds at most ctx_mu then q_mu (submit, end of capture) and never mem_mu with
 * either. Work items never run with a lock held, so a faulting kernel releases nothing.
 */
#ifndef HMT_SIM_INTERNAL_H
#define HMT_SIM_INTERNAL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* memfd_create, dlinfo, MAP_* extensions */
#endif
#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hmt_sim.h"

#define SIM_EXPORT __attribute__((visibility("default")))
#define SIM_GRANULARITY (2u << 20) /* VMM granularity, as on current GPUs */
#define SIM_PAGE 4096u
#define SIM_DRIVER_VERSION 13000

/* ---- options (options.c) ------------------------------------------------------------ */
typedef struct sim_options {
    size_t memory;        /* HMT_SIM_MEMORY: device bytes (default 8 GiB) */
    size_t va_size;       /* HMT_SIM_VA: reserved device VA bytes (default 1 TiB) */
    double pcie_gbps;     /* HMT_SIM_PCIE_GBPS: host<->device copy rate, 0 = unthrottled */
    const char *stats;    /* HMT_SIM_STATS: JSON path written at exit, NULL = none */
    int verbose;          /* HMT_SIM_VERBOSE: print options and warnings */
} sim_options;
extern sim_options g_opt;
void sim_options_load(void);
int sim_parse_size(const char *s, size_t *out); /* K/M/G/T suffixes; 0 or -EINVAL */
void sim_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- address maps and arenas (space.c) ---------------------------------------------- */
typedef struct sim_ent { uintptr_t start; size_t size; void *obj; } sim_ent;
typedef struct sim_map { sim_ent *v; size_t n, cap; } sim_map;
int sim_map_insert(sim_map *m, uintptr_t start, size_t size, void *obj);
void *sim_map_remove(sim_map *m, uintptr_t start);
sim_ent *sim_map_find(sim_map *m, uintptr_t addr);          /* entry containing addr */
size_t sim_map_lower(sim_map *m, uintptr_t addr);           /* first index with end > addr */

typedef struct sim_arena { sim_ent *v; size_t n, cap; } sim_arena; /* free extents */
int sim_arena_init(sim_arena *a, uintptr_t start, size_t size);
int sim_arena_alloc(sim_arena *a, size_t size, size_t align, uintptr_t *out);
int sim_arena_take(sim_arena *a, uintptr_t start, size_t size); /* fixed; -EEXIST if busy */
void sim_arena_free(sim_arena *a, uintptr_t start, size_t size);

/* What a device address range is. */
enum { REG_ALLOC = 1, REG_RESERVE = 2 };
struct sim_handle;
typedef struct sim_region {
    int kind;
    uintptr_t va;
    size_t size;          /* requested size (cuMemGetAddressRange reports it) */
    size_t span;          /* VA span reserved */
    CUcontext ctx;
    unsigned long long id;
    struct sim_handle *h; /* REG_ALLOC: its backing */
    bool async;           /* from cuMemAllocAsync */
    bool managed;         /* from cuMemAllocManaged */
    struct CUmemPoolHandle_st *pool; /* stream-ordered allocations: their pool */
} sim_region;

/* A memory pool (pool.c). The sim does not cache freed memory, so "reserved" equals
 * "used"; the counters are kept for cuMemPoolGetAttribute (mem_mu). */
struct CUmemPoolHandle_st {
    uint64_t magic;
    CUmemPoolProps props;
    uint64_t release_threshold;
    int reuse[3];
    size_t used, used_high;
    struct CUmemPoolHandle_st *next;   /* every pool made (kept for late frees) */
};
struct CUmemPoolHandle_st *sim_pool_current(void);   /* the device's current pool */
bool sim_pool_valid(struct CUmemPoolHandle_st *p);

typedef struct sim_handle {
    uint64_t magic;
    uint64_t phys;        /* offset in the memfd */
    size_t size;
    int refs;             /* handle references: create + retains, minus releases */
    int maps;             /* live mappings; the memory goes when both are 0 */
    bool device;          /* counted as device bytes */
    CUmemAllocationProp prop;
    unsigned long long id;
} sim_handle;

typedef struct sim_mapping {
    uintptr_t va;
    size_t size;
    sim_handle *h;
    CUmemAccess_flags access;
    sim_region *reg;      /* owning region */
} sim_mapping;

typedef struct sim_host {
    uintptr_t p;
    size_t size;
    unsigned flags;
    bool registered;      /* cuMemHostRegister (else cuMemAllocHost/HostAlloc) */
    CUcontext ctx;
    unsigned long long id;
} sim_host;

typedef struct sim_global {
    pthread_once_t once;
    int init_rc;          /* CUresult of the one-time setup */
    atomic_int initialized; /* cuInit succeeded */
    pthread_mutex_t ctx_mu, mem_mu, q_mu, stat_mu;
    pthread_cond_t done_cv;  /* broadcast (under q_mu) when any op completes */
    uintptr_t va_base;
    size_t va_size;
    int memfd;
    sim_arena va, phys;
    sim_map regions;      /* sim_region by VA */
    sim_map mappings;     /* sim_mapping by VA (VMM and cuMemAlloc backings alike) */
    sim_map hosts;        /* sim_host by host address */
    sim_map handles;      /* sim_handle by pointer value */
    size_t device_bytes, peak_device_bytes, host_vmm_bytes, pinned_bytes;
    atomic_bool illegal_address;
    atomic_ullong copied[5];     /* bytes copied, by DIR_* (index 0 unused) */
    atomic_ullong kernels_run, graphs_run, faults;
    atomic_uintptr_t first_fault;  /* address of the first illegal access */
    atomic_ullong next_id;
} sim_global;
extern sim_global g_sim;

CUresult sim_setup(void);                 /* one-time: options, VA range, memfd, handlers */
bool sim_in_device_range(uintptr_t a, size_t n);
/* Physical memory: reserve bytes against the limit and back them; 0 or -ENOMEM. */
int sim_phys_alloc(size_t size, bool device, uint64_t *off);
void sim_phys_free(uint64_t off, size_t size, bool device);
int sim_va_map(uintptr_t va, size_t size, uint64_t off, int prot);   /* mmap MAP_FIXED */
int sim_va_unmap(uintptr_t va, size_t size);                       /* back to PROT_NONE */
/* A handle the caller still holds (refs > 0); NULL for unknown or fully released ones. */
sim_handle *sim_handle_lookup(CUmemGenericAllocationHandle h);       /* mem_mu held */
void sim_handle_unref(sim_handle *h);     /* drop a handle reference; mem_mu held */
void sim_handle_unmapped(sim_handle *h);  /* a mapping of it went away; mem_mu held */
sim_host *sim_host_find(uintptr_t p, size_t n);                      /* mem_mu held */

/* ---- fault guard (fault.c) ---------------------------------------------------------- */
void sim_fault_install(void);
/* Runs fn(arg); if it touches the device range where nothing accessible is mapped,
 * returns -EFAULT with *addr the faulting address. Faults elsewhere crash as usual. */
int sim_guarded(void (*fn)(void *), void *arg, uintptr_t *addr);

/* ---- contexts and devices (context.c) ----------------------------------------------- */
#define SIM_MAGIC_CTX 0x4354585349u
#define SIM_MAGIC_STREAM 0x5354524d53u
#define SIM_MAGIC_EVENT 0x45564e5453u
struct CUctx_st {
    uint64_t magic;
    int device;
    unsigned flags;
    bool primary;
    atomic_int sticky;        /* sticky error (CUDA_ERROR_ILLEGAL_ADDRESS) */
    struct CUstream_st *legacy;
    struct CUstream_st *streams; /* list of live streams (ctx_mu) */
    unsigned long long id;
};
CUresult sim_ctx_current(CUcontext *out);       /* current ctx or INVALID_CONTEXT */
CUresult sim_ctx_check(CUcontext c);            /* sticky error of c, else SUCCESS */
void sim_ctx_set_sticky(CUcontext c, CUresult r);
CUresult sim_ctx_sync(CUcontext c);            /* wait for all its streams; sticky error */

/* ---- work, streams, events (stream.c) ----------------------------------------------- */
enum { W_NOP, W_COPY, W_SET, W_KERNEL, W_HOST, W_RECORD, W_GRAPH, W_FREE, W_WAIT, W_MEMOP };
enum { DIR_HD = 1, DIR_DH = 2, DIR_DD = 3, DIR_HH = 4 };
struct sim_func;
struct sim_exec;
typedef struct sim_work {
    int kind;
    union {
        struct {
            char *dst;
            const char *src;
            size_t width, height, depth;        /* bytes per row, rows, slices */
            size_t dpitch, spitch, dslice, sslice;
            int dir;
            void *stage;                         /* owned copy of pageable source */
        } copy;
        struct { char *dst; size_t pitch, width, height; unsigned elem; uint32_t value; } set;
        struct {
            struct sim_func *f;
            hmt_sim_launch launch;
            char *buf;                            /* packed parameters (owned) */
            size_t bufsize;
        } kern;
        struct { CUhostFn fn; void *data; } host;
        struct { struct CUevent_st *ev; uint64_t gen; } rec;
        struct { struct CUevent_st *ev; uint64_t gen; } wait;   /* graph event-wait nodes */
        struct { struct sim_exec *exec; } graph;
        struct { uintptr_t va; } free;
        struct {                                   /* cuStreamWrite/WaitValue32/64 */
            char *addr;
            uint64_t value;
            unsigned size;                         /* 4 or 8 */
            bool wait;
            unsigned cond;                         /* CU_STREAM_WAIT_VALUE_* (low bits) */
        } memop;
    };
} sim_work;
void sim_work_fini(sim_work *w);
/* Executes one work item on the calling (worker) thread; faults become sticky 700. */
void sim_work_run(sim_work *w, struct CUstream_st *s);

typedef struct sim_dep { struct CUstream_st *s; struct CUevent_st *ev; uint64_t n; } sim_dep;
typedef struct sim_op {
    struct sim_op *next;
    uint64_t seq;
    size_t ndeps;
    sim_dep *deps;
    sim_work w;
} sim_op;

enum { STREAM_USER, STREAM_LEGACY, STREAM_PER_THREAD };
struct sim_capture;
struct CUstream_st {
    uint64_t magic;
    CUcontext ctx;
    unsigned flags;
    int priority;
    int kind;
    unsigned long long id;
    pthread_t thr;
    pthread_cond_t cv;        /* new work for this stream's worker (q_mu) */
    sim_op *head, *tail;
    uint64_t submitted, completed;
    bool stop;
    struct CUstream_st *next; /* ctx list */
    /* capture (q_mu) */
    struct sim_capture *cap;
    struct CUgraphNode_st **cap_deps;
    size_t ncap_deps, cap_deps_cap;
};
struct CUevent_st {
    uint64_t magic;
    unsigned flags;
    CUcontext ctx;
    uint64_t record_gen, done_gen;
    uint64_t t_ns;
    int refs;
    /* capture: the nodes a captured record stood for (q_mu) */
    struct sim_capture *cap;
    struct CUgraphNode_st **cap_nodes;
    size_t ncap_nodes;
};

/* stream handle → stream; ptsz: a NULL handle means the per-thread default stream. */
CUresult sim_stream_resolve(CUstream h, bool ptsz, struct CUstream_st **out);
CUresult sim_stream_create(CUcontext c, unsigned flags, int priority, int kind,
                           struct CUstream_st **out);
void sim_stream_stop(struct CUstream_st *s);   /* drain then end worker (no wait) */
/* Enqueue (or capture) work on s. Takes ownership of *w on success and failure. */
CUresult sim_submit(struct CUstream_st *s, sim_work *w);
/* Blocks until everything submitted to s so far has completed. */
void sim_stream_wait_idle(struct CUstream_st *s);
/* Submit, then wait for it (the synchronous API calls). */
CUresult sim_submit_sync(struct CUstream_st *s, sim_work *w);
void sim_event_unref_locked(struct CUevent_st *e);
uint64_t sim_now_ns(void);

/* ---- memory (memory.c) ------------------------------------------------------------- */
/* Frees a cuMemAlloc/cuMemAllocAsync allocation at va (takes mem_mu). */
CUresult sim_mem_free(uintptr_t va);

/* ---- modules (module.c) ------------------------------------------------------------- */
#define SIM_MAGIC_FUNC 0x46554e4353u
struct sim_module;
typedef struct sim_func {
    uint64_t magic;
    struct sim_module *mod;
    const hmt_sim_kernel_desc *desc;
    unsigned nparams;             /* the layout in force: the table's, or the PTX's */
    const hmt_sim_param *params;
    size_t param_bytes;   /* end of the last parameter */
    atomic_ullong launches;
} sim_func;
struct sim_func *sim_func_check(CUfunction f);
/* Pack a launch's parameters (kernelParams or extra) into an owned buffer. */
CUresult sim_pack_params(sim_func *f, void **kernelParams, void **extra, char **buf,
                         size_t *size);

/* ---- graphs and capture (graph.c) --------------------------------------------------- */
/* stream.c calls this for work submitted to a capturing stream (q_mu held). */
CUresult sim_capture_add(struct CUstream_st *s, sim_work *w);
void sim_exec_run(struct sim_exec *x, struct CUstream_st *s);
/* Check before a "potentially unsafe" call during capture (see graph.c). */
CUresult sim_capture_unsafe_call(void);
CUresult sim_capture_ctx_sync_check(CUcontext c); /* takes ctx_mu, q_mu */
void sim_exec_unref(struct sim_exec *x);

/* ---- stats and fault injection (stats.c) -------------------------------------------- */
/* Set while a worker runs a host function or a kernel: driver calls from there are not
 * permitted (CUDA_ERROR_NOT_PERMITTED), as CUDA documents for cuLaunchHostFunc. */
extern __thread int sim_tl_no_api;

typedef struct sim_fn {
    const char *name;
    atomic_ullong calls;
    atomic_bool registered;
    struct sim_fn *next;
} sim_fn;
CUresult sim_enter(sim_fn *fn);
/* Every exported cu* function starts with SIM_ENTER(): counts the call under its exported
 * name and applies hmt_sim_fail_nth rules. */
#define SIM_ENTER()                                                                      \
    do {                                                                                 \
        static sim_fn fn__ = {.name = __func__};                                         \
        CUresult r__ = sim_enter(&fn__);                                                 \
        if (r__ != CUDA_SUCCESS) return r__;                                             \
    } while (0)
/* For calls that need cuInit first. */
#define SIM_NEED_INIT()                                                                  \
    do {                                                                                 \
        if (!atomic_load(&g_sim.initialized)) return CUDA_ERROR_NOT_INITIALIZED;         \
    } while (0)

#endif
