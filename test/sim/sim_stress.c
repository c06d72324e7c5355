/* sim_stress: 4 threads for about 2 s each allocate (cuMemAlloc and VMM), copy, launch on
 * their own streams and the shared legacy stream, capture and launch small graphs, order
 * a second stream through events, verify, and free — checking results,
 * that no illegal address was reported, and that every byte came back. Run it under
 * TSan/ASan (HMT_SANITIZE) to check the sim's locking. */
#include "sim_test.h"

#include <pthread.h>
#include <time.h>

static CUcontext g_ctx;
static CUfunction g_add, g_fill;
static int g_fail;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    CK(cuCtxSetCurrent(g_ctx));
    CUstream s, s2;
    CK(cuStreamCreate(&s, (seed & 1) ? CU_STREAM_NON_BLOCKING : 0));
    CK(cuStreamCreate(&s2, CU_STREAM_NON_BLOCKING));
    CUmemAllocationProp prop = {.type = CU_MEM_ALLOCATION_TYPE_PINNED,
                                .location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0}};
    CUmemAccessDesc ad = {.location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0},
                          .flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
    double end = now() + 2.0;
    uint32_t *h = malloc(4096 * 4);
    int iter = 0;
    while (now() < end) {
        uint64_t n = 1 + rand_r(&seed) % 4096;
        CUdeviceptr a, b, c;
        CK(cuMemAlloc(&a, n * 4));
        CK(cuMemAllocAsync(&b, n * 4, s));
        /* c: a VMM chunk */
        CUdeviceptr va;
        CUmemGenericAllocationHandle hd;
        CK(cuMemAddressReserve(&va, 2 << 20, 0, 0, 0));
        CK(cuMemCreate(&hd, 2 << 20, &prop, 0));
        CK(cuMemMap(va, 2 << 20, 0, hd, 0));
        CK(cuMemRelease(hd));
        CK(cuMemSetAccess(va, 2 << 20, &ad, 1));
        c = va;
        uint32_t x = (uint32_t)iter, y = 1000;
        void *fa[] = {&a, &x, &n}, *fb[] = {&b, &y, &n}, *ad3[] = {&c, &a, &b, &n};
        CK(cuLaunchKernel(g_fill, 1, 1, 1, 1, 1, 1, 0, s, fa, NULL));
        CK(cuLaunchKernel(g_fill, 1, 1, 1, 1, 1, 1, 0, s, fb, NULL));
        CK(cuLaunchKernel(g_add, 1, 1, 1, 1, 1, 1, 0, s, ad3, NULL));
        CK(cuMemcpyDtoHAsync(h, c, n * 4, s));
        CK(cuStreamSynchronize(s));
        for (uint64_t i = 0; i < n; i++)
            if (h[i] != (uint32_t)iter + 1000) {
                fprintf(stderr, "thread %u iter %d: h[%lu]=%u\n", seed, iter, (unsigned long)i, h[i]);
                __atomic_store_n(&g_fail, 1, __ATOMIC_RELAXED);
                break;
            }
        if (iter % 8 == 0) CK(cuMemsetD8(a, 0, n * 4)); /* legacy stream, shared */
        if (iter % 4 == 0) {
            /* Capture a fill into a graph, launch it on s, and order a second stream after
             * it through an event. */
            uint32_t z = 5 + (uint32_t)iter;
            void *fz[] = {&a, &z, &n};
            CUgraph g;
            CUgraphExec x;
            /* Captured on the non-blocking s2: other threads keep using the legacy stream,
             * which would be an implicit dependency on a blocking capturing stream. */
            CK(cuStreamBeginCapture(s2, CU_STREAM_CAPTURE_MODE_RELAXED));
            CK(cuLaunchKernel(g_fill, 1, 1, 1, 1, 1, 1, 0, s2, fz, NULL));
            CK(cuStreamEndCapture(s2, &g));
            CK(cuGraphInstantiate(&x, g, 0));
            CK(cuGraphLaunch(x, s));
            CUevent ev;
            CK(cuEventCreate(&ev, CU_EVENT_DISABLE_TIMING));
            CK(cuEventRecord(ev, s));
            CK(cuStreamWaitEvent(s2, ev, 0));
            CK(cuMemcpyDtoHAsync(h, a, 4, s2));
            CK(cuStreamSynchronize(s2));
            if (h[0] != z) {
                fprintf(stderr, "thread %u iter %d: graph wrote %u, expected %u\n", seed, iter, h[0], z);
                __atomic_store_n(&g_fail, 1, __ATOMIC_RELAXED);
            }
            CK(cuEventDestroy(ev));
            CK(cuGraphExecDestroy(x));
            CK(cuGraphDestroy(g));
        }
        CK(cuMemUnmap(va, 2 << 20));
        CK(cuMemAddressFree(va, 2 << 20));
        CK(cuMemFreeAsync(b, s));
        CK(cuMemFree(a));
        iter++;
    }
    CK(cuStreamSynchronize(s));
    CK(cuStreamDestroy(s));
    CK(cuStreamDestroy(s2));
    free(h);
    return NULL;
}

int main(void)
{
    g_ctx = sim_test_ctx();
    size_t (*dev_bytes)(void) = (size_t (*)(void))sim_test_hook("hmt_sim_device_bytes");
    int (*illegal)(void) = (int (*)(void))sim_test_hook("hmt_sim_illegal_address");
    CUmodule m = sim_test_kernels();
    g_add = sim_test_fn(m, "add_u32");
    g_fill = sim_test_fn(m, "fill_u32");
    size_t b0 = dev_bytes();
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++) pthread_create(&t[i], NULL, worker, (void *)(i + 1));
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    CK(cuCtxSynchronize());
    CHECK(!g_fail);
    CHECK(!illegal());
    CHECK(dev_bytes() == b0);
    return 0;
}
