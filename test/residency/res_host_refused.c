/* res_host_refused — invariant 4: when pinned host memory is refused, the chunk stays where it
 * was (resident, bytes intact), the allocation that needed the room fails with out-of-memory
 * as it would on a full device, and once the host recovers eviction works again. */
#include "res_common.h"

static int body(void)
{
    res_init();
    float *m = malloc(4 * MIB);
    CUdeviceptr a, b;
    CK(cuMemAlloc(&a, 4 * MIB));
    res_put(a, 4 * MIB, 31, m);
    res_sim_fail_nth("cuMemHostAlloc", 1, CUDA_ERROR_OUT_OF_MEMORY);
    CUresult r = cuMemAlloc(&b, 2 * MIB);
    if (r != CUDA_ERROR_OUT_OF_MEMORY) FAIL("allocation while pinned memory is refused gave %d", (int)r);
    res_expect(a, m, 4 * MIB, "a after a refused eviction");
    CK(cuMemAlloc(&b, 2 * MIB));           /* the next cuMemHostAlloc succeeds */
    CK(cuMemsetD8(b, 3, 2 * MIB));
    res_expect(a, m, 4 * MIB, "a after eviction and fault-in");
    if (res_sim_peak() > 4 * MIB) FAIL("sim peak above the budget");
    printf("pinned memory refused: chunk stayed, OOM, then recovered: ok\n");
    return 0;
}

int main(int argc, char **argv) { return res_main_with_hmt(argc, argv, "4M", body); }
