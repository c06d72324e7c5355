/* res_inflight — invariant 2: nothing the GPU may still touch is unmapped. A slow kernel on
 * stream A works on buffer a; meanwhile the host allocates the whole budget for b, which
 * must evict a. The eviction has to wait on a's fence (the event after the kernel); if it
 * unmapped a at once, the kernel's late writes would hit unmapped memory (illegal address)
 * or be lost. Then a is read back: every element must carry the kernel's +1.
 * "negative": the same with HMT_TEST_SKIP_FENCES=1 must fail. */
#include "res_common.h"

static int body(void)
{
    res_init();
    CUmodule m = res_module();
    CUfunction slow = res_func(m, "slow_add");
    CUstream sa;
    CK(cuStreamCreate(&sa, CU_STREAM_NON_BLOCKING));
    int n = (int)(4 * MIB / sizeof(float));
    float *h = malloc(4 * MIB), *expect = malloc(4 * MIB);
    CUdeviceptr a, b;
    CK(cuMemAlloc(&a, 4 * MIB));
    res_put(a, 4 * MIB, 21, expect);
    for (int i = 0; i < n; i++) expect[i] += 1.0f;
    float v = 1.0f;
    int ms = 300;
    void *p[4] = { &a, &v, &n, &ms };
    CK(cuLaunchKernel(slow, 1, 1, 1, 1, 1, 1, 0, sa, p, NULL));
    CK(cuMemAlloc(&b, 8 * MIB));           /* budget 8M: a must leave, after the kernel */
    CK(cuMemsetD8(b, 1, 8 * MIB));
    CK(cuMemcpyDtoH(h, a, 4 * MIB));
    if (res_sim_illegal()) FAIL("illegal address: a chunk was unmapped under a running kernel");
    if (memcmp(h, expect, 4 * MIB)) FAIL("a lost the kernel's writes");
    if (res_sim_peak() > 8 * MIB) FAIL("sim peak above the budget");
    printf("eviction waited for the running kernel: ok\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "negative")) {
        /* HMT_TEST_SKIP_FENCES=1: eviction does not wait; the test body must then fail */
        const char *env[] = { "HMT_HBM_LIMIT=8M", "HMT_TEST_SKIP_FENCES=1", NULL };
        char out[4096];
        int rc = res_run_child(argv[0], "body", 1, env, out, sizeof out);
        if (rc == 0) FAIL("eviction without fences went unnoticed: the test could not fail");
        printf("negative control: evicting without fences fails the body (rc %d)\n", rc);
        return 0;
    }
    return res_main_with_hmt(argc, argv, "8M", body);
}
