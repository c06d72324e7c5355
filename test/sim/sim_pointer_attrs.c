/* sim_pointer_attrs: cuPointerGetAttribute(s) and cuMemGetAddressRange tell device memory
 * (cuMemAlloc and VMM), pinned host memory and unknown pointers apart as the driver does. */
#include "sim_test.h"

int main(void)
{
    CUcontext ctx = sim_test_ctx();
    CUdeviceptr d;
    CK(cuMemAlloc(&d, 1000));
    unsigned mt;
    CK(cuPointerGetAttribute(&mt, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, d + 10));
    CHECK(mt == CU_MEMORYTYPE_DEVICE);
    CUcontext pc;
    CK(cuPointerGetAttribute(&pc, CU_POINTER_ATTRIBUTE_CONTEXT, d));
    CHECK(pc == ctx);
    CUdeviceptr start;
    size_t size;
    CK(cuPointerGetAttribute(&start, CU_POINTER_ATTRIBUTE_RANGE_START_ADDR, d + 999));
    CK(cuPointerGetAttribute(&size, CU_POINTER_ATTRIBUTE_RANGE_SIZE, d + 999));
    CHECK(start == d && size == 1000);
    int ord;
    CK(cuPointerGetAttribute(&ord, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, d));
    CHECK(ord == 0);
    void *hp;
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuPointerGetAttribute(&hp, CU_POINTER_ATTRIBUTE_HOST_POINTER, d));
    unsigned long long id1, id2;
    CK(cuPointerGetAttribute(&id1, CU_POINTER_ATTRIBUTE_BUFFER_ID, d));
    CUdeviceptr d2;
    CK(cuMemAlloc(&d2, 64));
    CK(cuPointerGetAttribute(&id2, CU_POINTER_ATTRIBUTE_BUFFER_ID, d2));
    CHECK(id1 != id2);

    int managed = 7;
    CK(cuPointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, d));
    CHECK(managed == 0);
    CUdeviceptr mm;
    CK(cuMemAllocManaged(&mm, 4096, CU_MEM_ATTACH_GLOBAL));
    CK(cuPointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, mm));
    CHECK(managed == 1);
    CK(cuMemFree(mm));

    /* Pinned host memory. */
    void *p;
    CK(cuMemHostAlloc(&p, 5000, CU_MEMHOSTALLOC_DEVICEMAP));
    CK(cuPointerGetAttribute(&mt, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, (CUdeviceptr)(uintptr_t)p + 4));
    CHECK(mt == CU_MEMORYTYPE_HOST);
    CK(cuPointerGetAttribute(&hp, CU_POINTER_ATTRIBUTE_HOST_POINTER, (CUdeviceptr)(uintptr_t)p));
    CHECK(hp == p);
    CUdeviceptr dp;
    CK(cuMemHostGetDevicePointer(&dp, p, 0));
    CHECK(dp == (CUdeviceptr)(uintptr_t)p);
    static char reg[8192];
    CK(cuMemHostRegister(reg, sizeof reg, 0));
    EXPECT(CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED, cuMemHostRegister(reg + 100, 10, 0));
    CK(cuPointerGetAttribute(&mt, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, (CUdeviceptr)(uintptr_t)reg));
    CHECK(mt == CU_MEMORYTYPE_HOST);
    CK(cuMemHostUnregister(reg));
    EXPECT(CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED, cuMemHostUnregister(reg));

    /* Unknown pointer: an error from the single getter, zeros from the plural one. */
    int local;
    EXPECT(CUDA_ERROR_INVALID_VALUE,
           cuPointerGetAttribute(&mt, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, (CUdeviceptr)(uintptr_t)&local));
    CUpointer_attribute at[2] = {CU_POINTER_ATTRIBUTE_MEMORY_TYPE, CU_POINTER_ATTRIBUTE_CONTEXT};
    mt = 77;
    pc = ctx;
    void *data[2] = {&mt, &pc};
    CK(cuPointerGetAttributes(2, at, data, (CUdeviceptr)(uintptr_t)&local));
    CHECK(mt == 0 && pc == NULL);
    data[0] = &mt;
    CK(cuPointerGetAttributes(2, at, data, d));
    CHECK(mt == CU_MEMORYTYPE_DEVICE && pc == ctx);

    /* VMM: mapped is device memory with its mapping as the range; unmapped is unknown. */
    CUmemAllocationProp prop = {.type = CU_MEM_ALLOCATION_TYPE_PINNED,
                                .location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0}};
    CUdeviceptr va;
    CUmemGenericAllocationHandle h;
    CK(cuMemAddressReserve(&va, 4 << 20, 0, 0, 0));
    CK(cuMemCreate(&h, 2 << 20, &prop, 0));
    CK(cuMemMap(va + (2 << 20), 2 << 20, 0, h, 0));
    CK(cuPointerGetAttribute(&mt, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, va + (2 << 20) + 5));
    CHECK(mt == CU_MEMORYTYPE_DEVICE);
    unsigned acc;
    CK(cuPointerGetAttribute(&acc, CU_POINTER_ATTRIBUTE_ACCESS_FLAGS, va + (2 << 20)));
    CHECK(acc == CU_POINTER_ATTRIBUTE_ACCESS_FLAG_NONE);
    CK(cuMemGetAddressRange(&start, &size, va + (2 << 20) + 5));
    CHECK(start == va + (2 << 20) && size == 2 << 20);
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuPointerGetAttribute(&mt, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, va));
    EXPECT(CUDA_ERROR_NOT_FOUND, cuMemGetAddressRange(&start, &size, va));
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuMemFree(va + (2 << 20)));
    CK(cuMemUnmap(va + (2 << 20), 2 << 20));
    CK(cuMemRelease(h));
    CK(cuMemAddressFree(va, 4 << 20));
    CK(cuMemFreeHost(p));
    CK(cuMemFree(d));
    CK(cuMemFree(d2));
    return 0;
}
