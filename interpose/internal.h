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
 *   3. log lock           (log.c)      leaf: nothing is called while holding it
 * No lock is held across a driver call that can block on the GPU.
 */
#ifndef HMT_INTERPOSE_INTERNAL_H
#define HMT_INTERPOSE_INTERNAL_H

#include <cuda.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>

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
 * from any door, before or after cuInit). Returns 0, or -ENOENT when no driver loads. */
int hmt_driver_init(void);

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
void hmt_options_init(void);
uint64_t hmt_size_pct_resolve(const hmt_size_pct *v, uint64_t device_total);
/* Parses "123", "4K", "2.5G", "1T" (binary units) into bytes; 0 or -EINVAL. */
int hmt_parse_size(const char *s, uint64_t *out);

/* ---- logging (log.c) --------------------------------------------------------------------- */
enum { HMT_LOG_ERROR = 0, HMT_LOG_WARN, HMT_LOG_INFO, HMT_LOG_DEBUG };
extern int hmt_log_level;
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

#endif
