/* res_pointer_attrs — cuPointerGetAttribute(s) and cuMemGetAddressRange_v2 answer for a
 * managed allocation as the driver answers for cuMemAlloc memory (one range of the size
 * asked for), also while its chunks are evicted. */
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

int main(int argc, char **argv) { return res_main_with_hmt(argc, argv, "4M", body); }
