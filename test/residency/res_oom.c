/* res_oom — an allocation larger than the budget fails with CUDA_ERROR_OUT_OF_MEMORY (as the
 * driver fails one larger than the device), and one that fits still succeeds afterwards. */
#include "res_common.h"

static int body(void)
{
    res_init();
    CUdeviceptr a;
    CUresult r = cuMemAlloc(&a, 10 * MIB);
    if (r != CUDA_ERROR_OUT_OF_MEMORY) FAIL("allocation above the budget gave %d, not OOM", (int)r);
    size_t pitch;
    r = cuMemAllocPitch(&a, &pitch, 4096, 4096, 4);  /* 16M */
    if (r != CUDA_ERROR_OUT_OF_MEMORY) FAIL("pitched allocation above the budget gave %d", (int)r);
    CK(cuMemAlloc(&a, 8 * MIB));
    CUdeviceptr b;
    CK(cuMemAlloc(&b, 8 * MIB));             /* evicts a */
    CK(cuMemFree(a));
    CK(cuMemFree(b));
    printf("budget smaller than one allocation -> OOM: ok\n");
    return 0;
}

int main(int argc, char **argv) { return res_main_with_hmt(argc, argv, "8M", body); }
