/* res_stress — 4 threads on 4 streams allocate, upload, launch, download, check and free
 * concurrently under a budget a quarter of what they use together, all reading one shared
 * buffer: allocation, eviction, fault-in, fences and free racing each other. Every result is
 * checked against the host reference; the sim must see no illegal address and never more
 * device memory than the budget. */
#include <pthread.h>
#include "res_common.h"

#define THREADS 4
#define ITERS 12
#define BUF (3u * MIB)
#define N ((int)(BUF / 4))

static CUcontext ctx;
static CUfunction axpy;
static CUdeviceptr shared;
static float *hshared;
static _Atomic int failures;

static void *work(void *arg)
{
    int id = (int)(intptr_t)arg;
    CK(cuCtxSetCurrent(ctx));
    CUstream s;
    CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    float *h = malloc(BUF), *x = malloc(BUF), *out = malloc(BUF);
    for (int it = 0; it < ITERS; it++) {
        CUdeviceptr a, b;
        CK(cuMemAlloc(&a, BUF));
        CK(cuMemAlloc(&b, BUF));
        res_pattern(h, N, (unsigned)(id * 1000 + it));
        res_pattern(x, N, (unsigned)(id * 1000 + it + 500));
        CK(cuMemcpyHtoDAsync(a, h, BUF, s));
        CK(cuMemcpyHtoDAsync(b, x, BUF, s));
        CK(res_axpy(axpy, s, a, shared, 0.5f, N));
        CK(res_axpy(axpy, s, a, b, 0.25f, N));
        CK(cuMemcpyDtoHAsync(out, a, BUF, s));
        CK(cuStreamSynchronize(s));
        res_host_axpy(h, hshared, 0.5f, N);
        res_host_axpy(h, x, 0.25f, N);
        if (memcmp(out, h, BUF)) { fprintf(stderr, "thread %d iter %d: wrong result\n", id, it); failures++; }
        CK(cuMemFree(it & 1 ? a : b));
        CK(cuMemFree(it & 1 ? b : a));
    }
    CK(cuStreamDestroy(s));
    free(h); free(x); free(out);
    return NULL;
}

static int body(void)
{
    ctx = res_init();
    axpy = res_func(res_module(), "axpy");
    hshared = malloc(BUF);
    CK(cuMemAlloc(&shared, BUF));
    res_put(shared, BUF, 7, hshared);
    res_host_kernel("axpy");   /* load the host reference once, before the threads */
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, work, (void *)(intptr_t)i);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    if (failures) FAIL("%d wrong results", (int)failures);
    if (res_sim_illegal()) FAIL("illegal address");
    if (res_sim_peak() > 8 * MIB) FAIL("sim peak %zu above the budget", res_sim_peak());
    CK(cuMemFree(shared));
    if (res_sim_bytes() != 0) FAIL("%zu device bytes left", res_sim_bytes());
    printf("stress: %d threads x %d iterations under an 8M budget: ok\n", THREADS, ITERS);
    return 0;
}

int main(int argc, char **argv) { return res_main_with_hmt(argc, argv, "8M", body); }
