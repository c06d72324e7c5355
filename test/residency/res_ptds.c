/* res_ptds — the per-thread default stream variants of copies and fills (cuMemcpyHtoD_v2_ptds,
 * cuMemcpyDtoH_v2_ptds, cuMemsetD32_v2_ptds, cuMemcpyAsync_ptsz with a NULL stream), as a
 * program compiled with per-thread default streams gets them from cuGetProcAddress, on
 * evicted memory: hmt orders its fault-in before them and fences them on that stream. */
#include "res_common.h"

typedef CUresult (*htod_fn)(CUdeviceptr, const void *, size_t);
typedef CUresult (*dtoh_fn)(void *, CUdeviceptr, size_t);
typedef CUresult (*memset32_fn)(CUdeviceptr, unsigned int, size_t);
typedef CUresult (*memcpy_async_fn)(CUdeviceptr, CUdeviceptr, size_t, CUstream);

static void *proc(const char *name)
{
    void *p = NULL;
    CUdriverProcAddressQueryResult q;
    CK(cuGetProcAddress(name, &p, 12000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, &q));
    if (!p) FAIL("no per-thread %s", name);
    return p;
}

static int body(void)
{
    res_init();
    htod_fn htod = (htod_fn)proc("cuMemcpyHtoD");
    dtoh_fn dtoh = (dtoh_fn)proc("cuMemcpyDtoH");
    memset32_fn set32 = (memset32_fn)proc("cuMemsetD32");
    memcpy_async_fn cpy = (memcpy_async_fn)proc("cuMemcpyAsync");
    float *m = malloc(4 * MIB), *back = malloc(4 * MIB);
    CUdeviceptr a, b, z;
    CK(cuMemAlloc(&a, 4 * MIB));
    CK(cuMemAlloc(&b, 4 * MIB));
    CK(cuMemAlloc(&z, 8 * MIB));               /* budget 8M: a and b leave */
    CK(cuMemsetD8(z, 0, 8 * MIB));
    res_pattern(m, MIB, 101);
    CK(htod(a, m, 4 * MIB));                   /* a faulted in on the per-thread stream */
    CK(cuMemsetD8(z, 0, 8 * MIB));
    CK(set32(a + MIB, 0x40400000u, MIB / 4));   /* 3.0f into evicted a */
    for (size_t i = 0; i < MIB / 4; i++) m[MIB / 4 + i] = 3.0f;
    CK(cuMemsetD8(z, 0, 8 * MIB));
    CK(cpy(b, a, 4 * MIB, NULL));              /* NULL = per-thread stream in _ptsz */
    CK(cuMemsetD8(z, 0, 8 * MIB));
    CK(dtoh(back, b, 4 * MIB));
    CK(cuCtxSynchronize());
    if (res_sim_illegal()) FAIL("illegal address");
    if (memcmp(back, m, 4 * MIB)) FAIL("per-thread stream copies lost bytes");
    printf("per-thread default stream copies and fills on evicted memory: ok\n");
    return 0;
}

int main(int argc, char **argv) { return res_main_with_hmt(argc, argv, "8M", body); }
