/* driver.c — resolves the CUDA driver at run time (see driver.h for why). */
#define _GNU_SOURCE
#include "driver.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

struct gpt2_driver drv;

/* Looks up the first of the NULL-ended names that exists in the global scope. */
static void *lookup(const char *const *names)
{
    for (; *names; names++) {
        void *p = dlsym(RTLD_DEFAULT, *names);
        if (p)
            return p;
    }
    return NULL;
}

int gpt2_driver_load(void)
{
    /* RTLD_GLOBAL: later lookups go through the global scope, where a preloaded library
     * (libhmt.so) comes first — how a program linked against libcuda would bind. */
    if (!dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL)) {
        fprintf(stderr, "hmt-gpt2: cannot load libcuda.so.1 (%s); run under `hmt run` to use "
                        "the simulated device\n", dlerror());
        return -1;
    }
#define GPT2_RESOLVE(field, proto, ...)                                                      \
    do {                                                                                    \
        static const char *const names_[] = {__VA_ARGS__, NULL};                            \
        drv.field = (__typeof__(drv.field))lookup(names_);                                  \
        if (!drv.field) {                                                                   \
            fprintf(stderr, "hmt-gpt2: libcuda.so.1 lacks %s\n", names_[0]);                \
            return -1;                                                                      \
        }                                                                                   \
    } while (0);
    GPT2_DRIVER_FUNCS(GPT2_RESOLVE)
#undef GPT2_RESOLVE
    drv.is_sim = dlsym(RTLD_DEFAULT, "hmt_sim_device_bytes") != NULL;
    return 0;
}

size_t gpt2_alloc_bytes, gpt2_alloc_count, gpt2_alloc_chunked;

CUresult gpt2_mem_alloc(CUdeviceptr *p, size_t bytes)
{
    CUresult r = drv.MemAlloc(p, bytes);
    if (r == CUDA_SUCCESS) {
        const size_t chunk = (size_t)2 << 20;
        gpt2_alloc_bytes += bytes;
        gpt2_alloc_count++;
        gpt2_alloc_chunked += (bytes + chunk - 1) / chunk * chunk;
    }
    return r;
}

const char *gpt2_errname(CUresult r)
{
    const char *s = NULL;
    if (drv.GetErrorName && drv.GetErrorName(r, &s) == CUDA_SUCCESS && s)
        return s;
    return "unknown CUDA error";
}

void gpt2_check(CUresult r, const char *what, const char *file, int line)
{
    if (r == CUDA_SUCCESS)
        return;
    fprintf(stderr, "hmt-gpt2: %s failed: %s (%d) at %s:%d\n", what, gpt2_errname(r), (int)r,
            file, line);
    exit(1);
}
