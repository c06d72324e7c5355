/* sim_basic: init, the device's identity and attributes, a context, cuMemAlloc, copies
 * both ways and a kernel from the test module — the path every other test builds on. */
#include "sim_test.h"

int main(void)
{
    unsetenv("HMT_SIM_MEMORY"); /* this test checks the documented default */
    int v;
    CK(cuDriverGetVersion(&v));
    CHECK(v == 13000);
    EXPECT(CUDA_ERROR_NOT_INITIALIZED, cuDeviceGetCount(&v));
    CK(cuInit(0));
    CK(cuDeviceGetCount(&v));
    CHECK(v == 1);
    CUdevice dev;
    CK(cuDeviceGet(&dev, 0));
    EXPECT(CUDA_ERROR_INVALID_DEVICE, cuDeviceGet(&dev, 1));
    char name[64];
    CK(cuDeviceGetName(name, sizeof name, dev));
    CHECK(strstr(name, "hmt-sim") != NULL);
    int maj, min, sms, ua, vmm, hnuma, hvmm;
    CK(cuDeviceGetAttribute(&maj, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev));
    CK(cuDeviceGetAttribute(&min, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev));
    CK(cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev));
    CK(cuDeviceGetAttribute(&ua, CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING, dev));
    CK(cuDeviceGetAttribute(&vmm, CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, dev));
    CK(cuDeviceGetAttribute(&hnuma, CU_DEVICE_ATTRIBUTE_HOST_NUMA_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, dev));
    CK(cuDeviceGetAttribute(&hvmm, CU_DEVICE_ATTRIBUTE_HOST_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, dev));
    CHECK(maj == 9 && min == 0 && sms == 132 && ua == 1 && vmm == 1 && hnuma == 1 && hvmm == 1);
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MAX, dev));
    CUuuid u;
    CK(cuDeviceGetUuid_v2(&u, dev));
    size_t total;
    CK(cuDeviceTotalMem(&total, dev));
    CHECK(total == (size_t)8 << 30); /* default HMT_SIM_MEMORY */

    /* No context yet. */
    CUdeviceptr d;
    EXPECT(CUDA_ERROR_INVALID_CONTEXT, cuMemAlloc(&d, 16));
    CUcontext ctx;
    CK(cuCtxCreate(&ctx, NULL, 0, dev));
    CUcontext cur;
    CK(cuCtxGetCurrent(&cur));
    CHECK(cur == ctx);
    CUdevice cd;
    CK(cuCtxGetDevice(&cd));
    CHECK(cd == 0);

    size_t n = 1000;
    CK(cuMemAlloc(&d, n * 4));
    CHECK(d % 256 == 0);
    size_t fr, tot;
    CK(cuMemGetInfo(&fr, &tot));
    CHECK(tot == total && fr <= tot - n * 4);
    uint32_t *h = malloc(n * 4);
    for (size_t i = 0; i < n; i++) h[i] = (uint32_t)i;
    CK(cuMemcpyHtoD(d, h, n * 4));
    memset(h, 0, n * 4);
    CK(cuMemcpyDtoH(h, d, n * 4));
    for (size_t i = 0; i < n; i++) CHECK(h[i] == i);

    CUmodule m = sim_test_kernels();
    CUfunction fill = sim_test_fn(m, "fill_u32");
    uint32_t val = 7;
    uint64_t cnt = n;
    KERNEL_LAUNCH(fill, NULL, &d, &val, &cnt);
    CK(cuCtxSynchronize());
    CK(cuMemcpyDtoH(h, d, n * 4));
    for (size_t i = 0; i < n; i++) CHECK(h[i] == 7);
    CUfunction nf;
    EXPECT(CUDA_ERROR_NOT_FOUND, cuModuleGetFunction(&nf, m, "no_such_kernel"));

    CUdeviceptr base;
    size_t sz;
    CK(cuMemGetAddressRange(&base, &sz, d + 100));
    CHECK(base == d && sz == n * 4);
    CK(cuMemFree(d));
    EXPECT(CUDA_ERROR_NOT_FOUND, cuMemGetAddressRange(&base, &sz, d));
    CK(cuModuleUnload(m));
    CK(cuCtxDestroy(ctx));
    const char *s;
    CK(cuGetErrorName(CUDA_ERROR_ILLEGAL_ADDRESS, &s));
    CHECK(strcmp(s, "CUDA_ERROR_ILLEGAL_ADDRESS") == 0);
    CK(cuGetErrorString(CUDA_ERROR_OUT_OF_MEMORY, &s));
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuGetErrorName((CUresult)12345, &s));
    free(h);
    return 0;
}
