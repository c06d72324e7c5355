/* sim_async_alloc: cuMemAllocAsync memory is usable in stream order; cuMemFreeAsync frees
 * only when the stream reaches it (a kernel queued before the free still runs fine), and
 * the bytes come back once it has. Pageable-source async copies are staged at the call. */
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
    KERNEL_LAUNCH(sleep_k, s, &us);
    uint32_t src[4] = {1, 2, 3, 4};
    CK(cuMemcpyHtoDAsync(d, src, sizeof src, s));
    src[0] = 100;
    uint32_t back[4];
    CK(cuMemcpyDtoHAsync(back, d, sizeof back, s)); /* pageable destination: synchronous */
    CHECK(back[0] == 1 && back[3] == 4);
    CK(cuMemFreeAsync(d, s));
    CK(cuStreamSynchronize(s));
    CK(cuMemFreeHost(pinned));
    CK(cuStreamDestroy(s));
    return 0;
}
