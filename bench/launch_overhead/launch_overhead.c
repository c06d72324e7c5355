/* launch_overhead.c — what hmt adds to a kernel launch that it has nothing to do for.
 *
 * One process, four ways to reach cuLaunchKernel, timed in interleaved batches of the same
 * kernel (noop8: 8 pointer parameters, touches nothing) on the same stream:
 *   driver  the driver's own cuLaunchKernel (libc's dlsym on the libcuda handle: never hmt)
 *   door1   the exported symbol the program is linked against (hmt's, when preloaded)
 *   door2   dlsym(dlopen("libcuda.so.1"), "cuLaunchKernel")
 *   door3   cuGetProcAddress_v2("cuLaunchKernel", 12000, 0)
 * Each batch synchronises first, then times `iters` launches of every way in turn (rotating
 * who goes first); "median ns" is the median over batches of ns per launch, and "added" the
 * median over batches of the difference from `driver` in the same batch. Without LD_PRELOAD all four are the driver's and "added" shows the noise floor
 * (launch_overhead.sh runs both). A ratio against a baseline measured in the same process,
 * not an absolute time: the sim's launch is host code, a GPU driver's is not.
 *
 * Usage: launch_overhead KERNELS.so [iters=2000] [batches=101]
 */
#define _GNU_SOURCE
#include <cuda.h>
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef CUresult (*launch_fn)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                              unsigned, unsigned, CUstream, void **, void **);

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static const char *object_of(const void *p)
{
    Dl_info info;
    if (!p || !dladdr(p, &info) || !info.dli_fname)
        return "?";
    const char *s = strrchr(info.dli_fname, '/');
    return s ? s + 1 : info.dli_fname;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s KERNELS.so [iters] [batches]\n", argv[0]);
        return 2;
    }
    int iters = argc > 2 ? atoi(argv[2]) : 2000, batches = argc > 3 ? atoi(argv[3]) : 101;
    CUdevice dev;
    CUcontext ctx;
    CUmodule mod;
    CUfunction f;
    if (cuInit(0) || cuDeviceGet(&dev, 0) || cuDevicePrimaryCtxRetain(&ctx, dev) ||
        cuCtxSetCurrent(ctx) || cuModuleLoad(&mod, argv[1]) ||
        cuModuleGetFunction(&f, mod, "noop8")) {
        fprintf(stderr, "launch_overhead: cannot set up a context and load noop8 from %s\n", argv[1]);
        return 1;
    }
    void *drv = dlopen("libcuda.so.1", RTLD_NOW);
    void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    void *(*libc_dlsym)(void *, const char *) =
        (void *(*)(void *, const char *))dlvsym(libc, "dlsym", "GLIBC_2.34");
    void *p3 = NULL;
    cuGetProcAddress_v2("cuLaunchKernel", &p3, 12000, 0, NULL);
    struct { const char *name; launch_fn fn; double *ns; } way[] = {
        { "driver", (launch_fn)libc_dlsym(drv, "cuLaunchKernel"), NULL },
        { "door1", cuLaunchKernel, NULL },
        { "door2", (launch_fn)dlsym(drv, "cuLaunchKernel"), NULL },
        { "door3", (launch_fn)p3, NULL },
    };
    enum { NWAYS = sizeof way / sizeof way[0] };
    CUdeviceptr args[8] = { 0 };
    void *params[8];
    for (int i = 0; i < 8; i++)
        params[i] = &args[i];
    for (int w = 0; w < NWAYS; w++) {
        if (!way[w].fn) {
            fprintf(stderr, "launch_overhead: no %s cuLaunchKernel\n", way[w].name);
            return 1;
        }
        way[w].ns = calloc((size_t)batches, sizeof(double));
        for (int i = 0; i < iters / 10 + 1; i++)   /* warm up every path */
            way[w].fn(f, 1, 1, 1, 1, 1, 1, 0, NULL, params, NULL);
    }
    cuCtxSynchronize();
    for (int b = 0; b < batches; b++) {
        for (int k = 0; k < NWAYS; k++) {
            int w = (b + k) % NWAYS;               /* rotate who goes first */
            cuCtxSynchronize();
            double t0 = now_ns();
            for (int i = 0; i < iters; i++)
                way[w].fn(f, 1, 1, 1, 1, 1, 1, 0, NULL, params, NULL);
            way[w].ns[b] = (now_ns() - t0) / iters;
        }
    }
    cuCtxSynchronize();
    /* "added": median over batches of (this way - driver) within the same batch, which
     * cancels the drift a shared machine adds between batches. */
    double med[NWAYS], added[NWAYS], *diff = calloc((size_t)batches, sizeof(double));
    for (int w = 0; w < NWAYS; w++) {
        for (int b = 0; b < batches; b++)
            diff[b] = way[w].ns[b] - way[0].ns[b];
        qsort(diff, (size_t)batches, sizeof(double), cmp_double);
        added[w] = diff[batches / 2];
    }
    for (int w = 0; w < NWAYS; w++) {
        qsort(way[w].ns, (size_t)batches, sizeof(double), cmp_double);
        med[w] = way[w].ns[batches / 2];
    }
    printf("cuLaunchKernel, 8 pointer params, %d x %d launches per way\n", batches, iters);
    printf("%-7s %-22s %12s %12s\n", "way", "function in", "median ns", "added ns");
    for (int w = 0; w < NWAYS; w++)
        printf("%-7s %-22s %12.1f %12.1f\n", way[w].name, object_of((void *)way[w].fn), med[w],
               added[w]);
    return 0;
}
