/* sim_ptds: the per-thread default stream. Compiled with CUDA_API_PER_THREAD_DEFAULT_STREAM
 * so cuda.h maps calls to their _ptds/_ptsz exports, as nvcc --default-stream per-thread
 * does: NULL then means this thread's own stream, which does not wait for another
 * thread's per-thread stream, while CU_STREAM_LEGACY is still the legacy stream.
 * The other thread's stream is held by a stream wait on a flag that only the main thread
 * sets after its own work completed, so no timing is involved: were the two streams one,
 * the main thread's work could never complete (detected with a generous deadline). */
#define CUDA_API_PER_THREAD_DEFAULT_STREAM 1
#include "sim_test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

static CUcontext g_ctx;
static CUfunction g_fill;
static CUdeviceptr g_x, g_y, g_flag;
static atomic_int g_queued, g_done;

static void *other(void *arg)
{
    (void)arg;
    CK(cuCtxSetCurrent(g_ctx));
    CK(cuStreamWaitValue32(NULL, g_flag, 1, CU_STREAM_WAIT_VALUE_EQ)); /* holds this stream */
    uint32_t v = 8;
    uint64_t n = 1;
    KERNEL_LAUNCH(g_fill, NULL, &g_y, &v, &n);
    atomic_store(&g_queued, 1);
    CK(cuStreamSynchronize(NULL));
    atomic_store(&g_done, 1);
    return NULL;
}

int main(void)
{
    g_ctx = sim_test_ctx();
    CUmodule m = sim_test_kernels();
    g_fill = sim_test_fn(m, "fill_u32");
    CK(cuMemAlloc(&g_x, 4));
    CK(cuMemAlloc(&g_y, 4));
    uint32_t *flag;
    CK(cuMemAllocHost((void **)&flag, 4));
    *flag = 0;
    CK(cuMemHostGetDevicePointer(&g_flag, flag, 0));

    unsigned long long id_main, id_pt, id_legacy;
    CK(cuStreamGetId(NULL, &id_main));
    CK(cuStreamGetId(CU_STREAM_PER_THREAD, &id_pt));
    CHECK(id_main == id_pt); /* NULL is the per-thread stream here */
    CK(cuStreamGetId(CU_STREAM_LEGACY, &id_legacy));
    CHECK(id_legacy != id_pt);

    pthread_t t;
    pthread_create(&t, NULL, other, NULL);
    while (!atomic_load(&g_queued)) sched_yield();
    /* Our per-thread stream runs while the other thread's is held. */
    uint32_t v = 4;
    uint64_t n = 1;
    KERNEL_LAUNCH(g_fill, NULL, &g_x, &v, &n);
    time_t deadline = time(NULL) + 20;
    CUresult q;
    while ((q = cuStreamQuery(NULL)) == CUDA_ERROR_NOT_READY && time(NULL) < deadline) sched_yield();
    if (q != CUDA_SUCCESS) FAIL("this thread's default stream waited for another thread's");
    CHECK(!atomic_load(&g_done));
    uint32_t got;
    CK(cuMemcpyDtoH(&got, g_x, 4)); /* cuMemcpyDtoH_v2_ptds */
    CHECK(got == 4);
    __atomic_store_n(flag, 1, __ATOMIC_SEQ_CST); /* release the other thread's stream */
    pthread_join(t, NULL);
    CHECK(atomic_load(&g_done));
    CK(cuMemcpyDtoH(&got, g_y, 4));
    CHECK(got == 8);
    CK(cuMemsetD32Async(g_x, 6, 1, NULL)); /* _ptsz */
    CK(cuMemcpyDtoH(&got, g_x, 4));
    CHECK(got == 6);
    CK(cuMemFreeHost(flag));
    CK(cuMemFree(g_x));
    CK(cuMemFree(g_y));
    return 0;
}
