/* sim_fault_injection: hmt_sim_fail_nth makes exactly the nth later call of a named
 * driver function fail with the given result, without running it; n = 0 clears. */
#include "sim_test.h"

int main(void)
{
    sim_test_ctx();
    int (*fail_nth)(const char *, unsigned, int) =
        (int (*)(const char *, unsigned, int))sim_test_hook("hmt_sim_fail_nth");
    size_t (*dev_bytes)(void) = (size_t (*)(void))sim_test_hook("hmt_sim_device_bytes");
    CUmemAllocationProp prop = {.type = CU_MEM_ALLOCATION_TYPE_PINNED,
                                .location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0}};
    CHECK(fail_nth("cuMemCreate", 2, CUDA_ERROR_OUT_OF_MEMORY) == 0);
    CUmemGenericAllocationHandle h1, h2, h3;
    size_t b0 = dev_bytes();
    CK(cuMemCreate(&h1, 2 << 20, &prop, 0));
    EXPECT(CUDA_ERROR_OUT_OF_MEMORY, cuMemCreate(&h2, 2 << 20, &prop, 0));
    CHECK(dev_bytes() == b0 + (2 << 20)); /* the failed call allocated nothing */
    CK(cuMemCreate(&h3, 2 << 20, &prop, 0)); /* one-shot */
    /* Exported names, so the _v2 ABI is named as such. */
    CHECK(fail_nth("cuMemAlloc_v2", 1, CUDA_ERROR_UNKNOWN) == 0);
    CUdeviceptr d;
    EXPECT(CUDA_ERROR_UNKNOWN, cuMemAlloc(&d, 64));
    CK(cuMemAlloc(&d, 64));
    /* Clearing. */
    CHECK(fail_nth("cuMemFree_v2", 1, CUDA_ERROR_UNKNOWN) == 0);
    CHECK(fail_nth("cuMemFree_v2", 0, 0) == 0);
    CK(cuMemFree(d));
    CK(cuMemRelease(h1));
    CK(cuMemRelease(h3));
    CHECK(dev_bytes() == b0);
    return 0;
}
