/* internal.h — what the files of libhmt.so share. Nothing here is public (include/hmt/ is).
 *
 * Tables, each an X-macro list so that one row declares a thing everywhere it is needed:
 *   hooks.def    HMT_HOOK(name, handler, params, args)
 *                Every driver function hmt wraps, under its real exported name (cuMemAlloc_v2,
 *                cuLaunchKernel_ptsz, ...). All return CUresult. `handler` is FWD (count and
 *                forward) or the name of a function `CUresult handler(PFN real, <params>)`
 *                that receives the real driver entry of *this* exported variant first, then
 *                the caller's arguments; families (_v2/_ptds/_ptsz) share one handler.
 *   driver.def   HMT_DRV(name, params)
 *                Driver functions hmt calls itself but does not wrap.
 *   options.def  HMT_OPT(id, env, type, default, unit, help)   -> hmt_opt.<id>
 *   stats.def    HMT_STAT(id, json_name, help)                 -> HMT_STAT_ADD(id, n)
 *                HMT_GAUGE(id, json_name, help)                -> HMT_GAUGE_MAX(id, v), _SET
 *
 * Lock order (outermost first; each lock's owner documents what it protects):
 *   1. hmt_init_lock      (driver.c)   one-time resolution of the real driver
 *   2. residency locks    (residency.c documents its own order, all below 1)
 *   (log.c takes no lock: each line is one write(2), so it is safe after fork)
 * No lock is held across a driver call that can block on the GPU.
 */
#ifndef HMT_INTERPOSE_INTERNAL_H
#define HMT_INTERPOSE_INTERNAL_H

#include <cuda.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>

/* In interpose/ a driver name always means the exported symbol of that name. cuda.h maps these
 * base names to their newest ABI (cuMemAdvise -> cuMemAdvise_v2, cuGetProcAddress ->
 * cuGetProcAddress_v2, ...), but hooks.def also wraps the older exported symbols of the same
 * name, so the mapping is undone here. (Nothing in interpose/ calls the driver by name: all
 * calls go through hmt_real.) */
#undef cuGetProcAddress
#undef cuMemcpyBatchAsync
#undef cuMemcpy3DBatchAsync
#undef cuStreamWriteValue32
#undef cuStreamWriteValue64
#undef cuStreamWaitValue32
#undef cuStreamWaitValue64
#undef cuStreamBatchMemOp
#undef cuMemPrefetchAsync
#undef cuMemAdvise
#undef cuGraphInstantiate
#undef cuGraphExecUpdate
#undef cuGraphExecKernelNodeSetParams

#define HMT_EXPORT __attribute__((visibility("default")))
#define HMT_LIKELY(x)   __builtin_expect(!!(x), 1)
#define HMT_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ---- the real driver (driver.c) ------------------------------------------------------- */
struct hmt_real {
#define HMT_HOOK(name, handler, params, args) CUresult (*name) params;
#include "hooks.def"
#undef HMT_HOOK
#define HMT_DRV(name, params) CUresult (*name) params;
#include "driver.def"
#undef HMT_DRV
};
extern struct hmt_real hmt_real;

/* Resolves every entry of hmt_real from libcuda.so.1 exactly once (thread-safe; callable
 * from any door, before or after cuInit). Returns 0, or -ENOENT when no driver loads.
 * An entry the driver does not export stays NULL; its wrapper then returns
 * CUDA_ERROR_NOT_SUPPORTED (a program could not have called it without hmt). */
int hmt_driver_init(void);
/* Same, but only if the program has loaded libcuda.so.1 already (never loads it): for dlsym,
 * where a program without CUDA may probe for cuInit. 0, or -ENOENT (try again later). */
int hmt_driver_init_if_loaded(void);
/* 1 once hmt_driver_init() has finished (acquire); wrappers test it before reading hmt_real. */
extern atomic_int hmt_driver_ready;
/* The handle dlopen("libcuda.so.1") gives (NULL before init or when no driver loads). */
extern void *hmt_driver_handle;

/* ---- the hook table (hooks.def) ------------------------------------------------------------ */
enum hmt_hook_id {
#define HMT_HOOK(name, handler, params, args) HMT_HOOK_ID_##name,
#include "hooks.def"
#undef HMT_HOOK
    HMT_HOOK__COUNT
};
/* Exported name of each row, in hooks.def order. */
extern const char *const hmt_hook_names[HMT_HOOK__COUNT];

/* Set by the residency engine when it manages memory; 0 (the default) means every handler
 * must forward at once. Never 1 when hmt_passthrough() is. */
extern int hmt_engaged;
/* 1 when hmt must only forward: HMT_MODE=off, or this is a second copy of libhmt.so in the
 * process (the first copy does the work). Valid after hmt_options_init(). */
int hmt_passthrough(void);
/* 1 in a second copy of libhmt.so (it forwards, and writes no HMT_STATS report). */
int hmt_is_duplicate(void);

/* Handler prototypes, from the table: CUresult handler(<type of hmt_real.name> real, params).
 * Rows of one family share a handler; a row whose ABI differs from its family's handler is a
 * compile error here ("conflicting types"), which is the point. FWD rows declare nothing. */
#define HMT_PP_CAT_(a, b) a##b
#define HMT_PP_CAT(a, b) HMT_PP_CAT_(a, b)
#define HMT_PP_2ND_(a, b, ...) b
#define HMT_PP_2ND(...) HMT_PP_2ND_(__VA_ARGS__, 0, ~)
#define HMT_PP_PROBE_FWD ~, 1
#define HMT_PP_IS_FWD(h) HMT_PP_2ND(HMT_PP_PROBE_##h)
#define HMT_PP_UNPAREN(...) __VA_ARGS__
#define HMT_PP_DECL_(handler, type, ...) CUresult handler(type real, ##__VA_ARGS__);
#define HMT_PP_DECL(handler, type, ...) HMT_PP_DECL_(handler, type, __VA_ARGS__)
#define HMT_PP_DECLARE_1(name, handler, params)
#define HMT_PP_DECLARE_0(name, handler, params) \
    HMT_PP_DECL(handler, __typeof__(((struct hmt_real *)0)->name), HMT_PP_UNPAREN params)
#define HMT_HOOK(name, handler, params, args) \
    HMT_PP_CAT(HMT_PP_DECLARE_, HMT_PP_IS_FWD(handler))(name, handler, params)
#include "hooks.def"
#undef HMT_HOOK
/* FWD as a call: the generated wrapper writes handler(real, args...); for FWD rows that is
 * the driver call itself. */
#define FWD(real, ...) real(__VA_ARGS__)

/* Per-function call counters. Each thread counts into its own block (no shared cache line
 * on the launch path); blocks are never freed, so counts of exited threads survive. */
struct hmt_calls_block {
    struct hmt_calls_block *next;
    _Atomic uint64_t calls[HMT_HOOK__COUNT];
};
extern __thread struct hmt_calls_block *hmt_tls_calls __attribute__((tls_model("initial-exec")));
struct hmt_calls_block *hmt_calls_block_new(void);
/* Sum over all threads of calls to hook `id`. */
uint64_t hmt_calls_total(enum hmt_hook_id id);

/* ---- doors (door_*.c) ---------------------------------------------------------------------- */
/* The wrapper hmt exports for a real driver entry point, or NULL when `real` is not the
 * driver's pointer of a hooks.def row. Lock-free; valid once hmt_driver_ready. */
void *hmt_wrapper_for(const void *real);
/* Our wrapper of row `id` (its address inside this copy of libhmt.so). */
extern void *const hmt_wrappers[HMT_HOOK__COUNT];
/* Index of `name` among hooks.def rows, or -1 (exact match; binary search, no allocation). */
int hmt_hook_find(const char *name);
/* libc's own dlsym (never ours, never another copy's). */
void *hmt_libc_dlsym(void *handle, const char *name);

/* ---- options (options.c) --------------------------------------------------------------- */
typedef enum { HMT_OPT_BOOL, HMT_OPT_INT, HMT_OPT_SIZE, HMT_OPT_SIZE_PCT, HMT_OPT_STR } hmt_opt_type;

/* A size that may be "N%" of device memory: resolve with hmt_size_pct_resolve(). */
typedef struct { uint64_t bytes; double pct; int is_pct; int set; } hmt_size_pct;

struct hmt_options {
#define HMT_OPT_CTYPE_HMT_OPT_BOOL     int
#define HMT_OPT_CTYPE_HMT_OPT_INT      long
#define HMT_OPT_CTYPE_HMT_OPT_SIZE     uint64_t
#define HMT_OPT_CTYPE_HMT_OPT_SIZE_PCT hmt_size_pct
#define HMT_OPT_CTYPE_HMT_OPT_STR      const char *
#define HMT_OPT(id, env, type, def, unit, help) HMT_OPT_CTYPE_##type id;
#include "options.def"
#undef HMT_OPT
};
/* Filled once at load (options_init) from the environment; read-only afterwards. */
extern struct hmt_options hmt_opt;
/* Parses the environment once (idempotent, thread-safe; the constructor and the first door
 * call it, whichever runs first). Bad values warn once and keep the default. */
void hmt_options_init(void);
uint64_t hmt_size_pct_resolve(const hmt_size_pct *v, uint64_t device_total);
/* Parses "123", "4K", "2.5G", "1T" (binary units) into bytes; 0 or -EINVAL. */
int hmt_parse_size(const char *s, uint64_t *out);

/* ---- logging (log.c) --------------------------------------------------------------------- */
enum { HMT_LOG_ERROR = 0, HMT_LOG_WARN, HMT_LOG_INFO, HMT_LOG_DEBUG };
extern int hmt_log_level;
/* Opens HMT_LOG_FILE if set (options.c calls it once, after parsing). */
void hmt_log_init(void);
void hmt_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define HMT_ERR(...)   hmt_log(HMT_LOG_ERROR, __VA_ARGS__)
#define HMT_WARN(...)  do { if (hmt_log_level >= HMT_LOG_WARN)  hmt_log(HMT_LOG_WARN,  __VA_ARGS__); } while (0)
#define HMT_INFO(...)  do { if (hmt_log_level >= HMT_LOG_INFO)  hmt_log(HMT_LOG_INFO,  __VA_ARGS__); } while (0)
#define HMT_DEBUG(...) do { if (hmt_log_level >= HMT_LOG_DEBUG) hmt_log(HMT_LOG_DEBUG, __VA_ARGS__); } while (0)
/* Says something once per call site (e.g. "pinned memory refused; chunk stays resident"). */
#define HMT_WARN_ONCE(...) do { static atomic_int once_; \
        if (!atomic_exchange_explicit(&once_, 1, memory_order_relaxed)) HMT_WARN(__VA_ARGS__); } while (0)

/* ---- statistics (stats.c) ------------------------------------------------------------------ */
enum hmt_stat_id {
#define HMT_STAT(id, json, help) HMT_STAT_##id,
#define HMT_GAUGE(id, json, help) HMT_STAT_##id,
#include "stats.def"
#undef HMT_STAT
#undef HMT_GAUGE
    HMT_STAT__COUNT
};
extern _Atomic uint64_t hmt_stats[HMT_STAT__COUNT];
#define HMT_STAT_ADD(id, n) atomic_fetch_add_explicit(&hmt_stats[HMT_STAT_##id], (uint64_t)(n), memory_order_relaxed)
#define HMT_GAUGE_SET(id, v) atomic_store_explicit(&hmt_stats[HMT_STAT_##id], (uint64_t)(v), memory_order_relaxed)
void hmt_gauge_max(enum hmt_stat_id id, uint64_t v);
#define HMT_GAUGE_MAX(id, v) hmt_gauge_max(HMT_STAT_##id, (uint64_t)(v))
/* Writes the HMT_STATS JSON object now (also done once at exit). `path`: a file, "-" for
 * stderr; "%p" in it becomes the process id. 0 or -errno. */
int hmt_stats_write(const char *path);

#endif
