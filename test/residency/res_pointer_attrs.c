/* res_pointer_attrs — cuPointerGetAttribute(s) and cuMemGetAddressRange_v2 answer for a
 * managed allocation as the driver answers for cuMemAlloc memory (one range of the size
 * asked for), also while its chunks are evicted. "compare": the same questions asked without
 * hmt and with hmt (pointer evicted) must get the same answers. */
#include "res_common.h"

static int body(void)
{
    res_init();
    CUdeviceptr a, b;
    CK(cuMemAlloc(&a, 3 * MIB + 100));
    CK(cuMemAlloc(&b, 4 * MIB));            /* budget 4M: a is evicted */
    CUdeviceptr start = 0, base = 0;
    size_t size = 0, rs = 0;
    unsigned int type = 0;
    for (int k = 0; k < 2; k++) {
        CUdeviceptr p = a + (k ? 3 * MIB : 12345);
        CK(cuPointerGetAttribute(&start, CU_POINTER_ATTRIBUTE_RANGE_START_ADDR, p));
        CK(cuPointerGetAttribute(&size, CU_POINTER_ATTRIBUTE_RANGE_SIZE, p));
        CK(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, p));
        CK(cuMemGetAddressRange(&base, &rs, p));
        if (start != a || size != 3 * MIB + 100) FAIL("range %llx+%zu, want %llx+%zu",
                                                      (unsigned long long)start, size, (unsigned long long)a, (size_t)(3 * MIB + 100));
        if (type != CU_MEMORYTYPE_DEVICE) FAIL("memory type %u", type);
        if (base != a || rs != 3 * MIB + 100) FAIL("cuMemGetAddressRange %zu", rs);
    }
    CUpointer_attribute at[3] = { CU_POINTER_ATTRIBUTE_RANGE_START_ADDR, CU_POINTER_ATTRIBUTE_RANGE_SIZE,
                                  CU_POINTER_ATTRIBUTE_DEVICE_POINTER };
    CUdeviceptr s2 = 0, dp = 0;
    size_t z2 = 0;
    void *data[3] = { &s2, &z2, &dp };
    CK(cuPointerGetAttributes(3, at, data, b + 5));
    if (s2 != b || z2 != 4 * MIB || dp != b + 5) FAIL("cuPointerGetAttributes");
    printf("pointer attributes of managed memory (evicted too): ok\n");
    return 0;
}

/* What a program can learn about its pointers, relative to the allocation (addresses
 * differ between runs): printed by the child, compared between runs with and without hmt. */
static int probe(void)
{
    CUcontext ctx = res_init();
    CUdeviceptr a;
    CK(cuMemAlloc(&a, 3 * MIB + 100));
    if (getenv("HMT_HBM_LIMIT")) {
        CUdeviceptr b;
        CK(cuMemAlloc(&b, 4 * MIB));          /* a is evicted */
    }
    CUdeviceptr p = a + 2 * MIB + 8, start = 0, dp = 0, base = 0;
    size_t size = 0, rs = 0;
    unsigned type = 0, managed = 9, mapped = 9;
    int ord = -1;
    CUcontext pc = NULL;
    CK(cuPointerGetAttribute(&start, CU_POINTER_ATTRIBUTE_RANGE_START_ADDR, p));
    CK(cuPointerGetAttribute(&size, CU_POINTER_ATTRIBUTE_RANGE_SIZE, p));
    CK(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, p));
    CK(cuPointerGetAttribute(&dp, CU_POINTER_ATTRIBUTE_DEVICE_POINTER, p));
    CK(cuPointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, p));
    CK(cuPointerGetAttribute(&ord, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, p));
    CK(cuPointerGetAttribute(&pc, CU_POINTER_ATTRIBUTE_CONTEXT, p));
    CUresult rm = cuPointerGetAttribute(&mapped, CU_POINTER_ATTRIBUTE_MAPPED, p);
    void *hp = NULL;
    CUresult rh = cuPointerGetAttribute(&hp, CU_POINTER_ATTRIBUTE_HOST_POINTER, p);
    CK(cuMemGetAddressRange(&base, &rs, p));
    printf("start=%lld size=%zu type=%u dp=%lld managed=%u ord=%d ctx=%d mapped=%d/%u host=%d range=%lld/%zu\n",
           (long long)(start - a), size, type, (long long)(dp - p), managed, ord, pc == ctx,
           (int)rm, rm == CUDA_SUCCESS ? mapped : 0, (int)rh, (long long)(base - a), rs);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "compare")) {
        /* the same questions, without hmt and with hmt (evicted): the same answers */
        char o0[512], o1[512];
        const char *budget[] = { "HMT_HBM_LIMIT=4M", NULL };
        char *self = argv[0];   /* res_run_child runs "<self> child probe" */
        if (res_run_child(self, "probe", 0, NULL, o0, sizeof o0)) FAIL("without hmt: %s", o0);
        if (res_run_child(self, "probe", 1, budget, o1, sizeof o1)) FAIL("with hmt: %s", o1);
        printf("without hmt: %swith hmt:    %s", o0, o1);
        if (strcmp(o0, o1)) FAIL("pointer attributes differ with hmt");
        return 0;
    }
    if (argc >= 3 && !strcmp(argv[1], "child") && !strcmp(argv[2], "probe")) return probe();
    return res_main_with_hmt(argc, argv, "4M", body);
}
