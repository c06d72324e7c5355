/* driver.c — finds the real CUDA driver and fills hmt_real, once.
 *
 * Any door may come first (the CUDA runtime calls cuGetProcAddress before cuInit; a
 * library's constructor may call a driver function before ours has run), so resolution is
 * lazy and guarded by pthread_once; wrappers test one acquire flag on the fast path.
 *
 * The driver is the libcuda.so.1 the program has loaded (RTLD_NOLOAD: take a reference on it,
 * never promote it to the global scope); only if none is loaded is it dlopened RTLD_LOCAL.
 * Our reference keeps it mapped if the program later dlcloses libcuda, so hmt_real's
 * pointers never dangle. Names are resolved with libc's dlsym (our own would answer with
 * our wrappers). hmt never calls cuGetExportTable.
 */
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct hmt_real hmt_real;
atomic_int hmt_driver_ready;
void *hmt_driver_handle;
int hmt_engaged;

const char *const hmt_hook_names[HMT_HOOK__COUNT] = {
#define HMT_HOOK(name, handler, params, args) #name,
#include "hooks.def"
#undef HMT_HOOK
};

/* Sorted (real pointer -> wrapper) pairs for cuGetProcAddress and dlsym answers. */
struct hmt_ptr_pair { const void *real; void *wrapper; };
static struct hmt_ptr_pair ptr_table[HMT_HOOK__COUNT];
static size_t ptr_count;
static int driver_status = -ENOENT;
static pthread_once_t driver_once = PTHREAD_ONCE_INIT;

static int cmp_ptr_pair(const void *a, const void *b)
{
    const struct hmt_ptr_pair *x = a, *y = b;
    if (x->real != y->real)
        return (uintptr_t)x->real < (uintptr_t)y->real ? -1 : 1;
    /* Equal pointers (a driver aliasing two exports): keep table order, so the choice is
     * stable; both wrappers forward to the same function, so either is ABI-correct. */
    return x->wrapper < y->wrapper ? -1 : x->wrapper > y->wrapper;
}

static void driver_init_once(void)
{
    hmt_options_init();
    void *h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD);
    if (!h)
        h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        HMT_WARN("cannot load the CUDA driver libcuda.so.1 (%s); every driver call fails with "
                 "CUDA_ERROR_NOT_SUPPORTED", dlerror());
        atomic_store_explicit(&hmt_driver_ready, 1, memory_order_release);
        return;
    }
    int i = 0;
#define HMT_HOOK(name, handler, params, args)                                           \
    hmt_real.name = (__typeof__(hmt_real.name))hmt_libc_dlsym(h, #name);                \
    if (hmt_real.name)                                                                  \
        ptr_table[ptr_count++] = (struct hmt_ptr_pair){ (const void *)hmt_real.name,    \
                                                        hmt_wrappers[i] };              \
    i++;
#include "hooks.def"
#undef HMT_HOOK
#define HMT_DRV(name, params) hmt_real.name = (__typeof__(hmt_real.name))hmt_libc_dlsym(h, #name);
#include "driver.def"
#undef HMT_DRV
    (void)i;
    qsort(ptr_table, ptr_count, sizeof ptr_table[0], cmp_ptr_pair);
    hmt_driver_handle = h;
    driver_status = 0;
    HMT_DEBUG("driver resolved: %zu of %d wrapped entry points exported", ptr_count,
              (int)HMT_HOOK__COUNT);
    atomic_store_explicit(&hmt_driver_ready, 1, memory_order_release);
}

int hmt_driver_init(void)
{
    if (!atomic_load_explicit(&hmt_driver_ready, memory_order_acquire))
        pthread_once(&driver_once, driver_init_once);
    return driver_status;
}

int hmt_driver_init_if_loaded(void)
{
    if (atomic_load_explicit(&hmt_driver_ready, memory_order_acquire))
        return driver_status;
    void *h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD);
    if (!h)
        return -ENOENT;   /* not loaded: nothing of the driver's can be found yet; retry later */
    dlclose(h);
    return hmt_driver_init();
}

void *hmt_wrapper_for(const void *real)
{
    size_t lo = 0, hi = ptr_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((uintptr_t)ptr_table[mid].real < (uintptr_t)real)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ptr_count && ptr_table[lo].real == real ? ptr_table[lo].wrapper : NULL;
}
