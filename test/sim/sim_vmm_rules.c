/* sim_vmm_rules: the VMM API's rules and their error codes — granularity 2 MiB, map only
 * onto reserved unmapped VA with offset 0, unmap whole mappings only, no access until
 * cuMemSetAccess, release while mapped keeps memory until unmap, one handle mapped at two
 * VAs shares bytes, retain/properties from a handle, host-located handles not counted as
 * device bytes. */
#include "sim_test.h"

#define G (2u << 20)

static CUmemAllocationProp dev_prop(void)
{
    return (CUmemAllocationProp){.type = CU_MEM_ALLOCATION_TYPE_PINNED,
                                 .location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0}};
}

static void set_rw(CUdeviceptr va, size_t sz)
{
    CUmemAccessDesc ad = {.location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0},
                          .flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
    CK(cuMemSetAccess(va, sz, &ad, 1));
}

int main(void)
{
    sim_test_ctx();
    size_t (*dev_bytes)(void) = (size_t (*)(void))sim_test_hook("hmt_sim_device_bytes");
    CUmemAllocationProp prop = dev_prop();
    size_t gran;
    CK(cuMemGetAllocationGranularity(&gran, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
    CHECK(gran == G);
    CK(cuMemGetAllocationGranularity(&gran, &prop, CU_MEM_ALLOC_GRANULARITY_RECOMMENDED));
    CHECK(gran % G == 0);

    CUdeviceptr va;
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuMemAddressReserve(&va, G + 4096, 0, 0, 0));
    CK(cuMemAddressReserve(&va, 4 * (size_t)G, 0, 0, 0));
    CHECK(va % G == 0);

    CUmemGenericAllocationHandle h, h2;
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuMemCreate(&h, G / 2, &prop, 0));
    CUmemAllocationProp bad = prop;
    bad.location.id = 3;
    EXPECT(CUDA_ERROR_INVALID_DEVICE, cuMemCreate(&h, G, &bad, 0));
    bad = prop;
    bad.location.type = CU_MEM_LOCATION_TYPE_HOST_NUMA_CURRENT;
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuMemCreate(&h, G, &bad, 0));
    CUdeviceptr stray;
    CK(cuMemAlloc(&stray, 4096));
    size_t before = dev_bytes();
    CK(cuMemCreate(&h, 2 * (size_t)G, &prop, 0));
    CHECK(dev_bytes() == before + 2 * (size_t)G);
    CK(cuMemCreate(&h2, G, &prop, 0));

    /* Map rules. */
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuMemMap(va, 2 * (size_t)G, G, h, 0));      /* offset */
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuMemMap(va + 4096, G, 0, h, 0));          /* unaligned */
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuMemMap(va, 4 * (size_t)G, 0, h, 0));     /* > handle */
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuMemMap(va + 3 * (size_t)G, 2 * (size_t)G, 0, h, 0)); /* past reservation */
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuMemMap(stray & ~(CUdeviceptr)(G - 1), G, 0, h2, 0)); /* not reserved */
    CK(cuMemMap(va, 2 * (size_t)G, 0, h, 0));
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuMemMap(va + G, G, 0, h2, 0));            /* already mapped */
    CK(cuMemMap(va + 2 * (size_t)G, G, 0, h2, 0));

    /* No access until cuMemSetAccess. */
    unsigned long long fl = 99;
    CUmemLocation loc = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0};
    CK(cuMemGetAccess(&fl, &loc, va));
    CHECK(fl == CU_MEM_ACCESS_FLAGS_PROT_NONE);
    uint32_t x = 42, y = 0;
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuMemSetAccess(va + 3 * (size_t)G, G, &(CUmemAccessDesc){.location = loc, .flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE}, 1)); /* unmapped */
    set_rw(va, 3 * (size_t)G);
    CK(cuMemGetAccess(&fl, &loc, va + G));
    CHECK(fl == CU_MEM_ACCESS_FLAGS_PROT_READWRITE);
    CK(cuMemcpyHtoD(va + G + 8, &x, 4));
    CK(cuMemcpyDtoH(&y, va + G + 8, 4));
    CHECK(y == 42);

    /* Retain and properties. */
    CUmemGenericAllocationHandle r;
    CK(cuMemRetainAllocationHandle(&r, (void *)(uintptr_t)(va + G + 100)));
    CHECK(r == h);
    CK(cuMemRelease(r));
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuMemRetainAllocationHandle(&r, (void *)(uintptr_t)(va + 3 * (size_t)G)));
    CUmemAllocationProp got;
    CK(cuMemGetAllocationPropertiesFromHandle(&got, h));
    CHECK(got.location.type == CU_MEM_LOCATION_TYPE_DEVICE && got.type == CU_MEM_ALLOCATION_TYPE_PINNED);

    /* Unmap whole mappings only. */
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuMemUnmap(va, G));                         /* part of one */
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuMemUnmap(va + 3 * (size_t)G, G));         /* nothing there */
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuMemAddressFree(va, 4 * (size_t)G));        /* still mapped */

    /* Release while mapped: bytes stay until unmapped; the handle itself is gone (a
     * second release or a new mapping of it is an error), until retained again from the
     * mapping. */
    CK(cuMemRelease(h));
    CHECK(dev_bytes() >= before + 3 * (size_t)G);
    CK(cuMemcpyDtoH(&y, va + G + 8, 4));
    CHECK(y == 42);
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuMemRelease(h));
    CUdeviceptr va3;
    CK(cuMemAddressReserve(&va3, 2 * (size_t)G, 0, 0, 0));
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuMemMap(va3, 2 * (size_t)G, 0, h, 0));
    CK(cuMemAddressFree(va3, 2 * (size_t)G));
    CK(cuMemcpyDtoH(&y, va + G + 8, 4)); /* still mapped, still there */
    CHECK(y == 42);
    CK(cuMemRetainAllocationHandle(&r, (void *)(uintptr_t)va));
    CHECK(r == h);
    CK(cuMemRelease(r));

    /* One handle at two VAs shares its bytes. */
    CUdeviceptr va2;
    CK(cuMemAddressReserve(&va2, G, 0, 0, 0));
    CK(cuMemMap(va2, G, 0, h2, 0));
    set_rw(va2, G);
    x = 7;
    CK(cuMemcpyHtoD(va + 2 * (size_t)G, &x, 4));
    CK(cuMemcpyDtoH(&y, va2, 4));
    CHECK(y == 7);
    CK(cuMemUnmap(va2, G));
    CK(cuMemAddressFree(va2, G));

    /* Unmapping two whole mappings at once is fine; afterwards the VA is a reservation. */
    CK(cuMemUnmap(va, 3 * (size_t)G));
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuMemGetAccess(&fl, &loc, va));
    CHECK(dev_bytes() == before + G); /* h freed (released + unmapped); h2 still held */
    CK(cuMemRelease(h2));
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuMemRelease(h2));
    CHECK(dev_bytes() == before);
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuMemAddressFree(va, G)); /* not the whole reservation */
    CK(cuMemAddressFree(va, 4 * (size_t)G));

    /* Host-located physical memory is not device memory. */
    CUmemAllocationProp hp = {.type = CU_MEM_ALLOCATION_TYPE_PINNED,
                              .location = {.type = CU_MEM_LOCATION_TYPE_HOST_NUMA, .id = 0}};
    CUmemGenericAllocationHandle hh;
    CK(cuMemCreate(&hh, G, &hp, 0));
    hp.location.type = CU_MEM_LOCATION_TYPE_HOST;
    CUmemGenericAllocationHandle hh2;
    CK(cuMemCreate(&hh2, G, &hp, 0));
    CHECK(dev_bytes() == before);
    CK(cuMemAddressReserve(&va, G, 0, 0, 0));
    CK(cuMemMap(va, G, 0, hh, 0));
    set_rw(va, G);
    CK(cuMemsetD32(va, 0xabcd, G / 4));
    CK(cuMemcpyDtoH(&y, va + 64, 4));
    CHECK(y == 0xabcd);
    CK(cuMemGetAllocationPropertiesFromHandle(&got, hh));
    CHECK(got.location.type == CU_MEM_LOCATION_TYPE_HOST_NUMA);
    CK(cuMemUnmap(va, G));
    CK(cuMemRelease(hh));
    CK(cuMemRelease(hh2));
    CK(cuMemAddressFree(va, G));
    CK(cuMemFree(stray));
    return 0;
}
