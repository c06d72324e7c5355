/* res_copies — copies and fills to and from evicted memory, every direction, sync and async,
 * 1D/2D, ranges that straddle chunk boundaries and src/dst inside one allocation. Before
 * each step a buffer the size of the whole budget is touched, so everything else is evicted
 * and the step must fault in what it touches. A copy bigger than half the budget must run
 * in pieces (it could not be resident at once). A host mirror says what every byte must be. */
#include "res_common.h"

#define B (8 * MIB)
static CUdeviceptr x, y, z;
static unsigned char *mx, *my;

static void evict_all(void)
{
    CK(cuMemsetD8(z, 0x5a, B));      /* z is the whole budget: x and y leave */
}

static void verify(const char *what)
{
    res_expect(x, mx, 6 * MIB, what);
    evict_all();
    res_expect(y, my, 6 * MIB, what);
    evict_all();
}

static int body(void)
{
    res_init();
    CUstream s;
    CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    mx = malloc(6 * MIB); my = malloc(6 * MIB);
    unsigned char *tmp = malloc(6 * MIB);
    CK(cuMemAlloc(&x, 6 * MIB));
    CK(cuMemAlloc(&y, 6 * MIB));
    CK(cuMemAlloc(&z, B));
    res_pattern((float *)mx, 6 * MIB / 4, 11);
    res_pattern((float *)my, 6 * MIB / 4, 12);

    /* host -> evicted device, sync and async */
    evict_all();
    CK(cuMemcpyHtoD(x, mx, 6 * MIB));
    evict_all();
    CK(cuMemcpyHtoDAsync(y, my, 6 * MIB, s));
    CK(cuStreamSynchronize(s));
    verify("HtoD");

    /* evicted device -> host, a range across a chunk boundary, async */
    evict_all();
    CK(cuMemcpyDtoHAsync(tmp, x + MIB + 12, 3 * MIB, s));
    CK(cuStreamSynchronize(s));
    if (memcmp(tmp, mx + MIB + 12, 3 * MIB)) FAIL("DtoHAsync across chunks");

    /* partial HtoD into an evicted range straddling chunks */
    res_pattern((float *)tmp, MIB, 13);
    evict_all();
    CK(cuMemcpyHtoD(x + 2 * MIB - 4096, tmp, 2 * MIB));
    memcpy(mx + 2 * MIB - 4096, tmp, 2 * MIB);
    verify("partial HtoD");

    /* evicted -> evicted, another allocation, sync and async */
    evict_all();
    CK(cuMemcpyDtoD(y + 3 * MIB, x + 512, 3 * MIB - 1024));
    memcpy(my + 3 * MIB, mx + 512, 3 * MIB - 1024);
    evict_all();
    CK(cuMemcpyDtoDAsync(x + 4 * MIB, y, 2 * MIB, s));
    CK(cuStreamSynchronize(s));
    memcpy(mx + 4 * MIB, my, 2 * MIB);
    verify("DtoD");

    /* a copy larger than the budget can hold at once (6M + 6M > 8M): runs in pieces */
    evict_all();
    CK(cuMemcpyDtoD(y, x, 6 * MIB));
    memcpy(my, mx, 6 * MIB);
    verify("DtoD larger than half the budget");
    res_pattern((float *)tmp, 6 * MIB / 4, 16);
    CK(cuMemcpyDtoDAsync(x, y, 6 * MIB, s));
    CK(cuMemcpyHtoDAsync(y, tmp, 6 * MIB, s));
    CK(cuStreamSynchronize(s));
    memcpy(mx, my, 6 * MIB);
    memcpy(my, tmp, 6 * MIB);
    verify("async DtoD + HtoD larger than half the budget");

    /* src and dst in the same evicted allocation, ranges next to each other across chunks */
    evict_all();
    CK(cuMemcpyDtoD(x + 3 * MIB, x + MIB, 2 * MIB));
    memmove(mx + 3 * MIB, mx + MIB, 2 * MIB);
    verify("DtoD within one allocation");

    /* unified cuMemcpy both ways */
    evict_all();
    CK(cuMemcpy((CUdeviceptr)tmp, y + 100, MIB));
    if (memcmp(tmp, my + 100, MIB)) FAIL("cuMemcpy DtoH");
    res_pattern((float *)tmp, MIB / 4, 14);
    evict_all();
    CK(cuMemcpyAsync(y + 5 * MIB, (CUdeviceptr)tmp, MIB, s));
    CK(cuStreamSynchronize(s));
    memcpy(my + 5 * MIB, tmp, MIB);
    verify("cuMemcpy");

    /* fills */
    evict_all();
    CK(cuMemsetD32(x + MIB, 0x01020304u, (2 * MIB) / 4));
    for (size_t i = 0; i < 2 * MIB; i += 4) { uint32_t v = 0x01020304u; memcpy(mx + MIB + i, &v, 4); }
    evict_all();
    CK(cuMemsetD8Async(y + 1000, 0x7e, 3 * MIB, s));
    CK(cuStreamSynchronize(s));
    memset(my + 1000, 0x7e, 3 * MIB);
    verify("memset");

    /* 2D: host -> evicted device rows with a pitch, then device -> host */
    CUDA_MEMCPY2D c;
    memset(&c, 0, sizeof c);
    res_pattern((float *)tmp, MIB / 4, 15);
    c.srcMemoryType = CU_MEMORYTYPE_HOST; c.srcHost = tmp; c.srcPitch = 1000;
    c.dstMemoryType = CU_MEMORYTYPE_DEVICE; c.dstDevice = y; c.dstPitch = 65536;
    c.dstXInBytes = 64; c.dstY = 20;
    c.WidthInBytes = 1000; c.Height = 60;        /* rows 20..79: 1.25M..5.2M: across chunks */
    evict_all();
    CK(cuMemcpy2D(&c));
    for (size_t r = 0; r < 60; r++) memcpy(my + (20 + r) * 65536 + 64, tmp + r * 1000, 1000);
    verify("2D HtoD");
    memset(&c, 0, sizeof c);
    c.srcMemoryType = CU_MEMORYTYPE_DEVICE; c.srcDevice = x; c.srcPitch = 32768; c.srcY = 40;
    c.dstMemoryType = CU_MEMORYTYPE_HOST; c.dstHost = tmp; c.dstPitch = 500;
    c.WidthInBytes = 500; c.Height = 120;
    evict_all();
    CK(cuMemcpy2DAsync(&c, s));
    CK(cuStreamSynchronize(s));
    for (size_t r = 0; r < 120; r++)
        if (memcmp(tmp + r * 500, mx + (40 + r) * 32768, 500)) FAIL("2D DtoH row %zu", r);

    if (res_sim_peak() > B) FAIL("sim peak %zu above the budget", res_sim_peak());
    if (res_sim_illegal()) FAIL("illegal address");
    printf("copies to/from evicted memory in every direction: ok\n");
    free(tmp);
    return 0;
}

int main(int argc, char **argv) { return res_main_with_hmt(argc, argv, "8M", body); }
