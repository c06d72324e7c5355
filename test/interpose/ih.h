/* ih.h — helpers shared by the interpose_* tests.
 *
 * The tests run on the sim with libhmt.so preloaded (ctest sets LD_PRELOAD and HMT_TEST_LIB to
 * its path). They judge hmt with tools hmt does not provide: libc's own dlsym (taken with
 * dlvsym, so our dlsym is never asked) gives the driver's real entry points, and dladdr1
 * names the object and symbol a pointer belongs to. "The driver's answer" is always obtained
 * by calling the driver's own function in the same process.
 */
#ifndef HMT_TEST_IH_H
#define HMT_TEST_IH_H

#define _GNU_SOURCE
#include <cuda.h>
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#undef cuGetProcAddress   /* the 4-argument v1 export is a hooks.def row of its own */
CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags);

static int ih_failures;
#define CHECK(cond, ...)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                          \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fputc('\n', stderr);                                                          \
            ih_failures++;                                                                \
        }                                                                                 \
    } while (0)
#define IH_DONE() (ih_failures ? (fprintf(stderr, "%d failure(s)\n", ih_failures), 1) : 0)

typedef void *(*ih_dlsym_fn)(void *, const char *);

/* libc's dlsym (never the preloaded one). */
static __attribute__((unused)) void *ih_libc_dlsym(void *handle, const char *name)
{
    static ih_dlsym_fn f;
    if (!f) {
        void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
        void *p = libc ? dlvsym(libc, "dlsym", "GLIBC_2.34") : NULL;
        if (!p)
            p = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5");
        memcpy(&f, &p, sizeof f);
    }
    return f(handle, name);
}

static __attribute__((unused)) void *ih_driver(void)
{
    void *h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD);
    if (!h) {
        fprintf(stderr, "FAIL: libcuda.so.1 (the sim) is not loaded\n");
        exit(1);
    }
    return h;
}

/* The preloaded libhmt.so; a test that expects it and does not find it fails. */
static __attribute__((unused)) void *ih_hmt(void)
{
    const char *path = getenv("HMT_TEST_LIB");
    void *h = path ? dlopen(path, RTLD_LAZY | RTLD_NOLOAD) : NULL;
    if (!h) {
        fprintf(stderr, "FAIL: libhmt.so is not preloaded (HMT_TEST_LIB=%s)\n", path ? path : "");
        exit(1);
    }
    return h;
}

/* The driver's own definition of an exported name. */
static __attribute__((unused)) void *ih_raw(const char *name) { return ih_libc_dlsym(ih_driver(), name); }

/* The object (link map) holding p, or NULL. */
static __attribute__((unused)) struct link_map *ih_object_of(const void *p)
{
    Dl_info info;
    struct link_map *lm = NULL;
    if (!p || !dladdr1(p, &info, (void **)&lm, RTLD_DL_LINKMAP))
        return NULL;
    return lm;
}
static __attribute__((unused)) int ih_in(const void *p, void *handle) { return p && ih_object_of(p) == (struct link_map *)handle; }

/* The exported symbol at exactly p, or "?". */
static __attribute__((unused)) const char *ih_name_of(const void *p)
{
    Dl_info info;
    if (!p || !dladdr(p, &info) || !info.dli_sname || info.dli_saddr != p)
        return "?";
    return info.dli_sname;
}

/* p is libhmt's wrapper of the exported `name`: libhmt's own definition of that name. */
static __attribute__((unused)) int ih_is_wrapper(const void *p, const char *name)
{
    return p && ih_in(p, ih_hmt()) && p == ih_libc_dlsym(ih_hmt(), name);
}

/* cuInit + primary context of device 0 made current; exits 1 on failure. */
static __attribute__((unused)) CUcontext ih_context(void)
{
    CUdevice dev;
    CUcontext ctx;
    if (cuInit(0) || cuDeviceGet(&dev, 0) || cuDevicePrimaryCtxRetain(&ctx, dev) ||
        cuCtxSetCurrent(ctx)) {
        fprintf(stderr, "FAIL: no context on the sim\n");
        exit(1);
    }
    return ctx;
}

/* A kernel from the test kernels .so (HMT_TEST_KERNELS). */
static __attribute__((unused)) CUfunction ih_kernel(const char *name)
{
    const char *path = getenv("HMT_TEST_KERNELS");
    CUmodule mod;
    CUfunction f;
    if (!path || cuModuleLoad(&mod, path) || cuModuleGetFunction(&f, mod, name)) {
        fprintf(stderr, "FAIL: cannot load kernel %s from HMT_TEST_KERNELS=%s\n", name,
                path ? path : "");
        exit(1);
    }
    return f;
}

#endif
