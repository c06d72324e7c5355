/* sim_ptds: the per-thread default stream. Compiled with CUDA_API_PER_THREAD_DEFAULT_STREAM
 * so cuda.h maps calls to their _ptds/_ptsz exports, as nvcc --default-stream per-thread
 * does: NULL then means this thread's own stream, which does not wait for another
 * thread's per-thread stream, while CU_STREAM_LEGACY still orders with it. */
#define CUDA_API_PER_THREAD_DEFAULT_STREAM 1
#include "sim_test.h"

#include <pthread.h>
#include <stdatomic.h>

static CUcontext g_ctx;
static CUfunction g_sleep, g_fill;
static CUdeviceptr g_x;
static atomic_int g_other_done;

static void *other(void *arg)
{
    (void)arg;
    CK(cuCtxSetCurrent(g_ctx));
    CUstream mine;
    CK(cuStreamGetId(NULL, &(unsigned long long){0}));
    uint32_t us = 300000;
    KERNEL_LAUNCH(g_sleep, NULL, &us); /* long work on this thread's default stream */
    CK(cuStreamSynchronize(NULL));
    (void)mine;
    atomic_store(&g_other_done, 1);
    return NULL;
}

int main(void)
{
    g_ctx = sim_test_ctx();
    CUmodule m = sim_test_kernels();
    g_sleep = sim_test_fn(m, "sleep_us");
    g_fill = sim_test_fn(m, "fill_u32");
    CK(cuMemAlloc(&g_x, 4));

    unsigned long long id_main, id_pt;
    CK(cuStreamGetId(NULL, &id_main));
    CK(cuStreamGetId(CU_STREAM_PER_THREAD, &id_pt));
    CHECK(id_main == id_pt); /* NULL is the per-thread stream here */
    unsigned long long id_legacy;
    CK(cuStreamGetId(CU_STREAM_LEGACY, &id_legacy));
    CHECK(id_legacy != id_pt);

    pthread_t t;
    pthread_create(&t, NULL, other, NULL);
    /* Work on our per-thread stream completes while the other thread's is still busy. */
    uint32_t v = 4;
    uint64_t n = 1;
    KERNEL_LAUNCH(g_fill, NULL, &g_x, &v, &n);
    CK(cuStreamSynchronize(NULL));
    uint32_t got;
    CK(cuMemcpyDtoH(&got, g_x, 4)); /* cuMemcpyDtoH_v2_ptds */
    CHECK(got == 4);
    int early = atomic_load(&g_other_done);
    pthread_join(t, NULL);
    CHECK(!early);
    CK(cuMemsetD32Async(g_x, 6, 1, NULL)); /* _ptsz */
    CK(cuMemcpyDtoH(&got, g_x, 4));
    CHECK(got == 6);
    CK(cuMemFree(g_x));
    return 0;
}
