/* res_novmm — a device without virtual memory management (cuMemGetAllocationGranularity
 * fails): hmt says so once and manages nothing; allocations behave as the driver's own
 * (not VMM-backed, not limited by the budget), and nothing fails that would not without hmt. */
#include "res_common.h"

static int body(void)
{
    res_init();
    res_sim_fail_nth("cuMemGetAllocationGranularity", 1, CUDA_ERROR_NOT_SUPPORTED);
    CUdeviceptr a, b;
    CK(cuMemAlloc(&a, 6 * MIB));
    CK(cuMemAlloc(&b, 6 * MIB));               /* 12M > the 8M budget: not managed, so fine */
    CUmemGenericAllocationHandle h;
    if (cuMemRetainAllocationHandle(&h, (void *)(uintptr_t)a) == CUDA_SUCCESS)
        FAIL("allocation is VMM-backed: hmt managed it without VMM support");
    if (res_sim_bytes() < 12 * MIB) FAIL("device bytes %zu: allocations not made by the driver", res_sim_bytes());
    float *m = malloc(6 * MIB);
    res_put(a, 6 * MIB, 91, m);
    res_expect(a, m, 6 * MIB, "a");
    CK(cuMemFree(a));
    CK(cuMemFree(b));
    printf("no VMM: pass-through: ok\n");
    return 0;
}

int main(int argc, char **argv) { return res_main_with_hmt(argc, argv, "8M", body); }
