/* sim_pcie_throttle: with HMT_SIM_PCIE_GBPS set, host<->device copies take at least
 * bytes / rate, and copies in the same direction share one link (two 16 MiB uploads on two
 * streams take at least twice as long as one). Only lower bounds are checked: the sim
 * sleeps to reach them, so they cannot flake; nothing here bounds time from above. */
#include "sim_test.h"

static double copy_ms(CUstream s1, CUstream s2, CUdeviceptr d, void *h, size_t n)
{
    CUevent a, b;
    CK(cuEventCreate(&a, 0));
    CK(cuEventCreate(&b, 0));
    CK(cuEventRecord(a, s1));
    CK(cuMemcpyHtoDAsync(d, h, n, s1));
    if (s2) {
        CK(cuStreamWaitEvent(s2, a, 0));
        CK(cuMemcpyHtoDAsync(d + n, h, n, s2));
        CUevent c;
        CK(cuEventCreate(&c, 0));
        CK(cuEventRecord(c, s2));
        CK(cuStreamWaitEvent(s1, c, 0));
        CK(cuEventDestroy(c));
    }
    CK(cuEventRecord(b, s1));
    CK(cuEventSynchronize(b));
    float ms;
    CK(cuEventElapsedTime(&ms, a, b));
    CK(cuEventDestroy(a));
    CK(cuEventDestroy(b));
    return ms;
}

int main(void)
{
    setenv("HMT_SIM_PCIE_GBPS", "2", 1);
    sim_test_ctx();
    const size_t n = 16 << 20;
    void *h;
    CK(cuMemAllocHost(&h, n));
    memset(h, 1, n);
    CUdeviceptr d;
    CK(cuMemAlloc(&d, 2 * n));
    CUstream s1, s2;
    CK(cuStreamCreate(&s1, CU_STREAM_NON_BLOCKING));
    CK(cuStreamCreate(&s2, CU_STREAM_NON_BLOCKING));
    double one = copy_ms(s1, NULL, d, h, n);
    double min_one = (double)n / 2e9 * 1e3; /* 8.4 ms */
    if (one < min_one * 0.99) FAIL("one 16 MiB copy took %.2f ms, expected >= %.2f", one, min_one);
    double two = copy_ms(s1, s2, d, h, n);
    if (two < 2 * min_one * 0.99) FAIL("two copies on one link took %.2f ms, expected >= %.2f", two, 2 * min_one);
    unsigned char back;
    CK(cuMemcpyDtoH(&back, d + n + 5, 1));
    CHECK(back == 1);
    CK(cuStreamDestroy(s1));
    CK(cuStreamDestroy(s2));
    CK(cuMemFree(d));
    CK(cuMemFreeHost(h));
    return 0;
}
