/* res_free_evicted — cuMemFree releases a managed allocation whatever tier its chunks are in
 * (all evicted, partly evicted, resident): the sim's device bytes return to zero, addresses
 * are released, and a pointer inside an allocation is refused as the driver refuses it. */
#include "res_common.h"

static int body(void)
{
    res_init();
    float *m = malloc(8 * MIB);
    CUdeviceptr a, b, c, d, e;
    CK(cuMemAlloc(&a, 8 * MIB));
    res_put(a, 8 * MIB, 1, m);
    CK(cuMemAlloc(&b, 8 * MIB));            /* budget 8M: all of a is evicted */
    if (res_sim_bytes() > 8 * MIB) FAIL("device bytes %zu above the budget", res_sim_bytes());
    if (cuMemFree(a + MIB) != CUDA_ERROR_INVALID_VALUE) FAIL("interior pointer not refused");
    CK(cuMemFree(a));                       /* fully evicted */
    if (res_sim_bytes() != 8 * MIB) FAIL("after freeing evicted a: %zu device bytes", res_sim_bytes());
    res_put(b, 8 * MIB, 2, m);
    CK(cuMemAlloc(&d, 6 * MIB));            /* evicts 3 of b's 4 chunks */
    CK(cuMemFree(b));                       /* partly evicted */
    CK(cuMemAlloc(&e, 4 * MIB));            /* evicts part of d */
    CK(cuMemAlloc(&c, 2 * MIB));
    CK(cuMemFree(d));
    CK(cuMemFree(e));
    CK(cuMemFree(c));
    if (res_sim_bytes() != 0) FAIL("%zu device bytes left after freeing everything", res_sim_bytes());
    /* the pool and the address space are reusable */
    for (int i = 0; i < 8; i++) {
        CK(cuMemAlloc(&a, 6 * MIB));
        res_put(a, 6 * MIB, 3, m);
        CK(cuMemAlloc(&b, 6 * MIB));
        res_expect(a, m, 6 * MIB, "a after eviction");
        CK(cuMemFree(a));
        CK(cuMemFree(b));
    }
    if (res_sim_bytes() != 0) FAIL("leak: %zu device bytes", res_sim_bytes());
    printf("free of evicted, partly evicted and resident memory: ok\n");
    return 0;
}

int main(int argc, char **argv) { return res_main_with_hmt(argc, argv, "8M", body); }
