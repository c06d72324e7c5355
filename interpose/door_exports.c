/* door_exports.c — door 1: every hooks.def row as an exported function of the same name.
 *
 * Programs linked against libcuda bind to these (LD_PRELOAD puts us first in the global
 * scope); doors 2 and 3 hand out the same functions. Each wrapper is a hidden function
 * hmt_w_<name> with the exported name as an alias, so that our own tables point at *this*
 * copy's code even when another object (a second copy of libhmt, the program itself)
 * defines the same name first.
 *
 * Fast path, per call: one thread-local counter increment, one acquire load of the "driver
 * resolved" flag, one NULL test of the real entry, then a tail call into the handler or
 * the driver. Nothing allocates except the first call on a new thread (its counter block).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

__thread struct hmt_calls_block *hmt_tls_calls __attribute__((tls_model("initial-exec")));
static struct hmt_calls_block *_Atomic calls_blocks;

struct hmt_calls_block *hmt_calls_block_new(void)
{
    struct hmt_calls_block *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->next = atomic_load_explicit(&calls_blocks, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&calls_blocks, &b->next, b,
                                                  memory_order_release, memory_order_relaxed))
        ;
    hmt_tls_calls = b;
    return b;
}

uint64_t hmt_calls_total(enum hmt_hook_id id)
{
    uint64_t n = 0;
    for (struct hmt_calls_block *b = atomic_load_explicit(&calls_blocks, memory_order_acquire);
         b; b = b->next)
        n += atomic_load_explicit(&b->calls[id], memory_order_relaxed);
    return n;
}

/* Only the owning thread writes its block, so load+store (no locked RMW) is exact. */
static inline void count_call(enum hmt_hook_id id)
{
    struct hmt_calls_block *b = hmt_tls_calls;
    if (HMT_UNLIKELY(!b) && !(b = hmt_calls_block_new()))
        return;
    atomic_store_explicit(&b->calls[id],
                          atomic_load_explicit(&b->calls[id], memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* The driver does not export this entry (or no driver loads): answer as a driver does for
 * an operation it cannot perform, and say so once per function. */
__attribute__((noinline, cold)) static CUresult missing(enum hmt_hook_id id)
{
    static atomic_uchar said[HMT_HOOK__COUNT];
    if (!atomic_exchange_explicit(&said[id], 1, memory_order_relaxed))
        HMT_WARN("%s: the CUDA driver does not provide it; returning CUDA_ERROR_NOT_SUPPORTED",
                 hmt_hook_names[id]);
    return CUDA_ERROR_NOT_SUPPORTED;
}

#define HMT_CALL_(h, real, ...) h(real, ##__VA_ARGS__)
#define HMT_CALL(h, real, ...) HMT_CALL_(h, real, __VA_ARGS__)

#define HMT_HOOK(name, handler, params, args)                                               \
    __attribute__((visibility("hidden"))) CUresult hmt_w_##name params;                    \
    CUresult hmt_w_##name params                                                            \
    {                                                                                       \
        count_call(HMT_HOOK_ID_##name);                                                     \
        if (HMT_UNLIKELY(!atomic_load_explicit(&hmt_driver_ready, memory_order_acquire)))   \
            hmt_driver_init();                                                              \
        __typeof__(hmt_real.name) real_ = hmt_real.name;                                    \
        if (HMT_UNLIKELY(!real_))                                                           \
            return missing(HMT_HOOK_ID_##name);                                             \
        return HMT_CALL(handler, real_, HMT_PP_UNPAREN args);                               \
    }                                                                                       \
    extern __typeof__(hmt_w_##name) name                                                    \
        __attribute__((alias("hmt_w_" #name), visibility("default")));
#include "hooks.def"
#undef HMT_HOOK

void *const hmt_wrappers[HMT_HOOK__COUNT] = {
#define HMT_HOOK(name, handler, params, args) (void *)hmt_w_##name,
#include "hooks.def"
#undef HMT_HOOK
};

/* Row indices sorted by name, built once by the constructor (or the first lookup). */
static unsigned short by_name[HMT_HOOK__COUNT];
static atomic_int by_name_ready;

static int cmp_row_name(const void *a, const void *b)
{
    return strcmp(hmt_hook_names[*(const unsigned short *)a],
                  hmt_hook_names[*(const unsigned short *)b]);
}

/* by_name_state: 0 unsorted, 2 being sorted by one thread, 1 sorted (release). */
__attribute__((constructor(101))) static void sort_names(void)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong_explicit(&by_name_ready, &expected, 2,
                                                 memory_order_acq_rel, memory_order_acquire))
        return;
    for (unsigned i = 0; i < HMT_HOOK__COUNT; i++)
        by_name[i] = (unsigned short)i;
    /* Insertion sort: no allocation, safe to run from inside dlsym before constructors. */
    for (unsigned i = 1; i < HMT_HOOK__COUNT; i++)
        for (unsigned j = i; j > 0 && cmp_row_name(&by_name[j - 1], &by_name[j]) > 0; j--) {
            unsigned short t = by_name[j];
            by_name[j] = by_name[j - 1];
            by_name[j - 1] = t;
        }
    atomic_store_explicit(&by_name_ready, 1, memory_order_release);
}

int hmt_hook_find(const char *name)
{
    int state = atomic_load_explicit(&by_name_ready, memory_order_acquire);
    if (HMT_UNLIKELY(state != 1)) {
        if (state == 0)
            sort_names();
        if (atomic_load_explicit(&by_name_ready, memory_order_acquire) != 1) {
            /* Another thread is sorting right now: look it up the slow way. */
            for (unsigned i = 0; i < HMT_HOOK__COUNT; i++)
                if (strcmp(hmt_hook_names[i], name) == 0)
                    return (int)i;
            return -1;
        }
    }
    size_t lo = 0, hi = HMT_HOOK__COUNT;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(hmt_hook_names[by_name[mid]], name);
        if (c == 0)
            return by_name[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}
