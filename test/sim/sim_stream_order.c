/* sim_stream_order: work on one stream runs in order; events, cuStreamWaitEvent, host
 * functions and the legacy default stream order work across streams as CUDA does.
 * A host function that calls the driver gets CUDA_ERROR_NOT_PERMITTED.
 * Each check is set up so that ignoring the ordering would give a wrong value: the
 * producer's stream is held by a gate (a stream wait on a pinned word) until the consumer
 * has been queued, so no result depends on timing. */
#include "sim_test.h"

#include <stdatomic.h>

static atomic_int host_seen = -1, host_api = -1;
static void host_fn(void *p)
{
    atomic_store(&host_seen, (int)*(volatile uint32_t *)p);
    CUcontext c; /* a host function may make no CUDA call */
    atomic_store(&host_api, (int)cuCtxGetCurrent(&c));
}

int main(void)
{
    sim_test_ctx();
    CUmodule m = sim_test_kernels();
    CUfunction sleep_k = sim_test_fn(m, "sleep_us"), fill = sim_test_fn(m, "fill_u32"),
               copy = sim_test_fn(m, "copy_u32"), inc = sim_test_fn(m, "inc_u32");
    CUstream a, b, nb;
    CK(cuStreamCreate(&a, 0));
    CK(cuStreamCreateWithPriority(&b, 0, -1));
    CK(cuStreamCreate(&nb, CU_STREAM_NON_BLOCKING));
    int prio;
    CK(cuStreamGetPriority(b, &prio));
    CHECK(prio == -1);
    CUstreamAttrValue av = {.priority = -3};
    CK(cuStreamSetAttribute(b, CU_LAUNCH_ATTRIBUTE_PRIORITY, &av));
    av.priority = 0;
    CK(cuStreamGetAttribute(b, CU_LAUNCH_ATTRIBUTE_PRIORITY, &av));
    CHECK(av.priority == -3);
    CUdeviceptr x, y;
    CK(cuMemAlloc(&x, 4));
    CK(cuMemAlloc(&y, 4));
    CK(cuMemsetD32(x, 0, 1));
    CK(cuMemsetD32(y, 0, 1));
    uint32_t us = 50000, one = 1, two = 2;
    uint64_t n1 = 1;

    /* 1. Event + wait: b copies x only after a wrote it. */
    CUevent ev, t0, t1;
    CK(cuEventCreate(&ev, CU_EVENT_DISABLE_TIMING));
    CK(cuEventCreate(&t0, 0));
    CK(cuEventCreate(&t1, 0));
    sim_gate gate = gate_new();
    CK(cuEventRecord(t0, a));
    gate_hold(&gate, a); /* a cannot finish before we look */
    KERNEL_LAUNCH(sleep_k, a, &us);
    KERNEL_LAUNCH(fill, a, &x, &one, &n1);
    CK(cuEventRecord(ev, a));
    CK(cuEventRecord(t1, a));
    EXPECT(CUDA_ERROR_NOT_READY, cuEventQuery(ev));
    EXPECT(CUDA_ERROR_NOT_READY, cuStreamQuery(a));
    CK(cuStreamWaitEvent(b, ev, 0));
    KERNEL_LAUNCH(copy, b, &y, &x, &n1);
    EXPECT(CUDA_ERROR_NOT_READY, cuStreamQuery(b));
    gate_open(&gate);
    CK(cuStreamSynchronize(b));
    uint32_t v;
    CK(cuMemcpyDtoH(&v, y, 4));
    CHECK(v == 1);
    CK(cuEventSynchronize(t1));
    float ms;
    CK(cuEventElapsedTime(&ms, t0, t1));
    CHECK(ms >= 45.0f);
    EXPECT(CUDA_ERROR_INVALID_HANDLE, cuEventElapsedTime(&ms, t0, ev)); /* timing disabled */

    /* 2. Legacy default stream waits for blocking streams, and they wait for it. */
    gate_hold(&gate, a);
    KERNEL_LAUNCH(fill, a, &x, &two, &n1);
    KERNEL_LAUNCH(copy, NULL, &y, &x, &n1);      /* legacy: after a's work */
    gate_open(&gate);
    CK(cuMemcpyDtoH(&v, y, 4));
    CHECK(v == 2);
    gate_hold(&gate, NULL);
    KERNEL_LAUNCH(fill, NULL, &x, &one, &n1);
    KERNEL_LAUNCH(copy, b, &y, &x, &n1);         /* blocking stream: after legacy work */
    gate_open(&gate);
    CK(cuStreamSynchronize(b));
    CK(cuMemcpyDtoH(&v, y, 4));
    CHECK(v == 1);

    /* 3. Host function runs after earlier work on its stream and before later work. */
    uint32_t *pinned;
    CK(cuMemAllocHost((void **)&pinned, 4));
    *pinned = 0;
    CUdeviceptr pd;
    CK(cuMemHostGetDevicePointer(&pd, pinned, 0));
    gate_hold(&gate, nb);
    KERNEL_LAUNCH(inc, nb, &pd);
    CK(cuLaunchHostFunc(nb, host_fn, pinned));
    KERNEL_LAUNCH(inc, nb, &pd);
    CHECK(atomic_load(&host_seen) == -1);
    gate_open(&gate);
    CK(cuStreamSynchronize(nb));
    CHECK(atomic_load(&host_seen) == 1);
    CHECK(atomic_load(&host_api) == CUDA_ERROR_NOT_PERMITTED);
    CHECK(*pinned == 2);

    /* 4. A never-recorded event is complete; waiting on it does not block. */
    CUevent fresh;
    CK(cuEventCreate(&fresh, 0));
    CK(cuEventQuery(fresh));
    CK(cuStreamWaitEvent(a, fresh, 0));
    CK(cuStreamSynchronize(a));

    /* 5. Destroying a stream with queued work lets the work finish. */
    CUstream tmp;
    CK(cuStreamCreate(&tmp, 0));
    gate_hold(&gate, tmp);
    KERNEL_LAUNCH(fill, tmp, &x, &two, &n1);
    CK(cuEventRecord(ev, tmp));
    CK(cuStreamDestroy(tmp));
    gate_open(&gate);
    CK(cuEventSynchronize(ev));
    CK(cuMemcpyDtoH(&v, x, 4));
    CHECK(v == 2);
    EXPECT(CUDA_ERROR_INVALID_HANDLE, cuStreamQuery(tmp));

    CK(cuEventDestroy(ev));
    CK(cuEventDestroy(t0));
    CK(cuEventDestroy(t1));
    CK(cuEventDestroy(fresh));
    CK(cuMemFreeHost(pinned));
    CK(cuMemFreeHost((void *)(uintptr_t)gate.word));
    CK(cuStreamDestroy(a));
    CK(cuStreamDestroy(b));
    CK(cuStreamDestroy(nb));
    CK(cuMemFree(x));
    CK(cuMemFree(y));
    return 0;
}
