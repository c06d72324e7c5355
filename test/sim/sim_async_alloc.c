/* sim_async_alloc: cuMemAllocAsync memory is usable in stream order; cuMemFreeAsync frees
 * only when the stream reaches it (a kernel queued before the free still runs fine), and
 * the bytes come back once it has. Pageable-source async copies are staged at the call.
 * Memory pools: default and explicit pools, their attributes and usage counters. */
#include "sim_test.h"

int main(void)
{
    sim_test_ctx();
    size_t (*dev_bytes)(void) = (size_t (*)(void))sim_test_hook("hmt_sim_device_bytes");
    int (*illegal)(void) = (int (*)(void))sim_test_hook("hmt_sim_illegal_address");
    CUmodule m = sim_test_kernels();
    CUfunction sleep_k = sim_test_fn(m, "sleep_us"), fill = sim_test_fn(m, "fill_u32");
    CUstream s;
    CK(cuStreamCreate(&s, 0));
    size_t base = dev_bytes();
    CUdeviceptr d;
    CK(cuMemAllocAsync(&d, 1 << 20, s));
    CHECK(dev_bytes() >= base + (1 << 20));
    uint32_t us = 30000, v = 9;
    uint64_t n = (1 << 20) / 4;
    KERNEL_LAUNCH(sleep_k, s, &us);
    KERNEL_LAUNCH(fill, s, &d, &v, &n);
    uint32_t *pinned;
    CK(cuMemAllocHost((void **)&pinned, 8));
    CK(cuMemcpyDtoHAsync(pinned, d + 4, 4, s));
    CK(cuMemFreeAsync(d, s));
    CK(cuStreamSynchronize(s));
    CHECK(pinned[0] == 9);
    CHECK(!illegal());
    CHECK(dev_bytes() == base);
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuMemFreeAsync(d, s)); /* already freed */

    /* Pageable source: the call may return before the copy ran; changing the source
     * afterwards must not change what arrives. */
    CK(cuMemAllocAsync(&d, 4096, s));
    sim_gate gate = gate_new();
    gate_hold(&gate, s); /* the copy cannot run before src changes */
    uint32_t src[4] = {1, 2, 3, 4};
    CK(cuMemcpyHtoDAsync(d, src, sizeof src, s));
    src[0] = 100;
    gate_open(&gate);
    uint32_t back[4];
    CK(cuMemcpyDtoHAsync(back, d, sizeof back, s)); /* pageable destination: synchronous */
    CHECK(back[0] == 1 && back[3] == 4);
    CK(cuMemFreeAsync(d, s));
    CK(cuStreamSynchronize(s));

    /* Pools: the default pool counts what stream-ordered allocation takes; an explicit
     * pool does the same and names itself in the pointer's attributes. */
    CUmemoryPool defp, cur, mine;
    CK(cuDeviceGetDefaultMemPool(&defp, 0));
    CK(cuDeviceGetMemPool(&cur, 0));
    CHECK(defp == cur);
    cuuint64_t used0, used, thr = 1 << 30;
    CK(cuMemPoolGetAttribute(defp, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &used0));
    CK(cuMemAllocAsync(&d, 3 << 20, s));
    CK(cuMemPoolGetAttribute(defp, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &used));
    CHECK(used == used0 + (3 << 20));
    CK(cuMemPoolSetAttribute(defp, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &thr));
    thr = 0;
    CK(cuMemPoolGetAttribute(defp, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &thr));
    CHECK(thr == 1 << 30);
    CUmemPoolProps pp = {.allocType = CU_MEM_ALLOCATION_TYPE_PINNED,
                         .location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0}};
    CK(cuMemPoolCreate(&mine, &pp));
    CUdeviceptr e;
    CK(cuMemAllocFromPoolAsync(&e, 4096, mine, s));
    CUmemoryPool owner;
    CK(cuPointerGetAttribute(&owner, CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE, e));
    CHECK(owner == mine);
    CK(cuMemPoolGetAttribute(mine, CU_MEMPOOL_ATTR_USED_MEM_HIGH, &used));
    CHECK(used == 4096);
    CK(cuMemFreeAsync(e, s));
    CK(cuMemFreeAsync(d, s));
    CK(cuStreamSynchronize(s));
    CK(cuMemPoolGetAttribute(mine, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &used));
    CHECK(used == 0);
    CK(cuMemPoolTrimTo(mine, 0));
    CK(cuMemPoolDestroy(mine));
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuMemAllocFromPoolAsync(&e, 4096, mine, s));
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuMemPoolDestroy(defp)); /* the default pool stays */
    CHECK(dev_bytes() == base);
    CK(cuMemFreeHost(pinned));
    CK(cuMemFreeHost((void *)(uintptr_t)gate.word));
    CK(cuStreamDestroy(s));
    return 0;
}
