/* sim_oom: HMT_SIM_MEMORY is the device's capacity — cuDeviceTotalMem and cuMemGetInfo
 * report it, cuMemAlloc and cuMemCreate share it, and past it both return
 * CUDA_ERROR_OUT_OF_MEMORY; freeing makes room again. */
#include "sim_test.h"

int main(void)
{
    setenv("HMT_SIM_MEMORY", "64M", 1);
    sim_test_ctx();
    size_t total, fr;
    CK(cuDeviceTotalMem(&total, 0));
    CHECK(total == (size_t)64 << 20);
    CUdeviceptr a[64];
    int n = 0;
    CUresult r;
    while ((r = cuMemAlloc(&a[n], 8 << 20)) == CUDA_SUCCESS) n++;
    EXPECT(CUDA_ERROR_OUT_OF_MEMORY, r);
    CHECK(n == 8);
    CK(cuMemGetInfo(&fr, &total));
    CHECK(fr == 0);
    CUmemAllocationProp prop = {.type = CU_MEM_ALLOCATION_TYPE_PINNED,
                                .location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0}};
    CUmemGenericAllocationHandle h;
    EXPECT(CUDA_ERROR_OUT_OF_MEMORY, cuMemCreate(&h, 2 << 20, &prop, 0));
    CK(cuMemFree(a[--n]));
    CK(cuMemCreate(&h, 2 << 20, &prop, 0));
    CK(cuMemAlloc(&a[n], 6 << 20));
    EXPECT(CUDA_ERROR_OUT_OF_MEMORY, cuMemAlloc(&a[n + 1], 4096));
    CK(cuMemRelease(h));
    CK(cuMemAlloc(&a[n + 1], 4096));
    /* Host-located VMM memory is not limited by the device's capacity. */
    prop.location.type = CU_MEM_LOCATION_TYPE_HOST;
    CK(cuMemCreate(&h, 8 << 20, &prop, 0));
    CK(cuMemRelease(h));
    for (int i = 0; i <= n + 1; i++) CK(cuMemFree(a[i]));
    CK(cuMemGetInfo(&fr, &total));
    CHECK(fr == total);
    return 0;
}
