/* res_split — copies and fills that could not be resident at once run as pieces that each
 * fit the budget. Two budgets that used to break it:
 *   onechunk (HMT_HBM_LIMIT=2M, one chunk): a 1.5 MiB fill or copy split forever (stack
 *     overflow), since a piece of one chunk was still more than half the budget;
 *   straddle (4M, two chunks): a 1.5 MiB DtoD whose src and dst each straddle a chunk
 *     boundary needs 4 chunks at once and failed with OUT_OF_MEMORY; pieces must end at the
 *     next chunk boundary of either operand. Also unified, peer, async and 2-byte fills.
 *   emulated: straddle under HMT_MODE=emulated.
 *   batch (8M): cuMemcpyBatchAsync of two 6 MiB entries from two allocations (12 MiB at
 *     once) failed with OUT_OF_MEMORY; entries must be brought in one by one.
 *   rows (8M): a full-height 2D DtoD between two 6 MiB allocations (OOM before 2D copies
 *     ran as bands of rows), and a split DtoD inside one allocation whose dst overlaps its
 *     src from above (forward pieces copied bytes already overwritten); a 3D DtoD of three
 *     slices 2 MiB apart between them (OOM before slices and bands), a 2D fill in bands.
 * A host mirror says what every byte must be; the parent also runs each mode without hmt. */
#include "res_common.h"

static unsigned char *ma, *mb;

static void expect(CUdeviceptr d, const unsigned char *m, size_t n, const char *what)
{
    res_expect(d, m, n, what);
}

static int onechunk(void)
{
    CUdeviceptr a;
    CK(cuMemAlloc(&a, 2 * MIB));
    ma = calloc(1, 2 * MIB);
    unsigned char *h = malloc(2 * MIB);
    CK(cuMemsetD8(a, 0, 2 * MIB));
    CK(cuMemsetD8(a, 1, 3 * MIB / 2));
    memset(ma, 1, 3 * MIB / 2);
    expect(a, ma, 2 * MIB, "memset 1.5 MiB in a one-chunk budget");
    res_pattern((float *)h, 3 * MIB / 8, 5);
    CK(cuMemcpyHtoD(a + 4, h, 3 * MIB / 2));
    memcpy(ma + 4, h, 3 * MIB / 2);
    CK(cuMemcpyDtoD(a + MIB + 8, a + 16, MIB / 2));
    memmove(ma + MIB + 8, ma + 16, MIB / 2);
    CK(cuMemsetD32(a + 8, 0x01020304u, (3 * MIB / 2) / 4));
    for (size_t i = 0; i < (3 * MIB / 2) / 4; i++) memcpy(ma + 8 + 4 * i, &(uint32_t){ 0x01020304u }, 4);
    expect(a, ma, 2 * MIB, "copies and fills in a one-chunk budget");
    free(h);
    return 0;
}

static int straddle(void)
{
    CUdeviceptr a, b;
    CUstream s;
    CUcontext ctx;
    CK(cuCtxGetCurrent(&ctx));
    CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CK(cuMemAlloc(&a, 4 * MIB));
    CK(cuMemAlloc(&b, 4 * MIB));
    ma = malloc(4 * MIB); mb = malloc(4 * MIB);
    res_pattern((float *)ma, MIB, 7);
    res_pattern((float *)mb, MIB, 8);
    CK(cuMemcpyHtoD(a, ma, 4 * MIB));
    CK(cuMemcpyHtoD(b, mb, 4 * MIB));
    /* 1.5 MiB, src and dst straddling chunk boundaries, two allocations: 4 chunks at once */
    CK(cuMemcpyDtoD(b + MIB, a + MIB, 3 * MIB / 2));
    memcpy(mb + MIB, ma + MIB, 3 * MIB / 2);
    CK(cuMemcpyDtoDAsync(a + MIB + 3, b + MIB / 2 + 1, 3 * MIB / 2, s));
    memcpy(ma + MIB + 3, mb + MIB / 2 + 1, 3 * MIB / 2);
    CK(cuMemcpyAsync(b + 3 * MIB / 2, a + 3 * MIB / 4, MIB, s));     /* unified, in order after */
    memcpy(mb + 3 * MIB / 2, ma + 3 * MIB / 4, MIB);
    CK(cuStreamSynchronize(s));
    CK(cuMemcpy(a + 100, b + 2 * MIB - 5, MIB + 7));
    memcpy(ma + 100, mb + 2 * MIB - 5, MIB + 7);
    CK(cuMemcpyPeer(b + 7, ctx, a + MIB, ctx, 2 * MIB));
    memcpy(mb + 7, ma + MIB, 2 * MIB);
    CK(cuMemsetD16(b + 2 * MIB - 2, 0xabcd, 2));                      /* straddles, 2-byte units */
    for (int i = 0; i < 2; i++) memcpy(mb + 2 * MIB - 2 + 2 * i, &(uint16_t){ 0xabcd }, 2);
    CK(cuMemsetD16Async(a + 2, 0x1234, 3 * MIB / 2, s));
    for (size_t i = 0; i < 3 * MIB / 2; i++) memcpy(ma + 2 + 2 * i, &(uint16_t){ 0x1234 }, 2);
    CK(cuStreamSynchronize(s));
    expect(a, ma, 4 * MIB, "a after straddling copies");
    expect(b, mb, 4 * MIB, "b after straddling copies");
    return 0;
}

static int batch(void)
{
    CUdeviceptr a, b;
    CUstream s;
    CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CK(cuMemAlloc(&a, 6 * MIB));
    CK(cuMemAlloc(&b, 6 * MIB));
    ma = malloc(6 * MIB); mb = malloc(6 * MIB);
    res_pattern((float *)ma, 6 * MIB / 4, 21);
    res_pattern((float *)mb, 6 * MIB / 4, 22);
    CK(cuMemcpyHtoD(a, ma, 6 * MIB));
    CK(cuMemcpyHtoD(b, mb, 6 * MIB));
    unsigned char *h;
    CK(cuMemAllocHost((void **)&h, 12 * MIB));
    CUmemcpyAttributes at;
    memset(&at, 0, sizeof at);
    at.srcAccessOrder = CU_MEMCPY_SRC_ACCESS_ORDER_STREAM;
    size_t ai = 0;
    CUdeviceptr d[2] = { (CUdeviceptr)h, (CUdeviceptr)h + 6 * MIB }, sr[2] = { a, b };
    size_t sz[2] = { 6 * MIB, 6 * MIB };
    CK(cuMemcpyBatchAsync(d, sr, sz, 2, &at, &ai, 1, s));
    CK(cuStreamSynchronize(s));
    if (memcmp(h, ma, 6 * MIB) || memcmp(h + 6 * MIB, mb, 6 * MIB)) FAIL("batch DtoH bytes");
    /* device -> device entries across allocations and chunk boundaries, in order */
    CUdeviceptr d2[3] = { b + 10, a + 2 * MIB - 5, b + 4 * MIB }, s2[3] = { a + 4 * MIB - 3, b + MIB, a };
    size_t z2[3] = { 1024, 2 * MIB, MIB };
    CK(cuMemcpyBatchAsync(d2, s2, z2, 3, &at, &ai, 1, s));
    CK(cuStreamSynchronize(s));
    memcpy(mb + 10, ma + 4 * MIB - 3, 1024);
    memcpy(ma + 2 * MIB - 5, mb + MIB, 2 * MIB);
    memcpy(mb + 4 * MIB, ma, MIB);
    expect(a, ma, 6 * MIB, "a after batches");
    expect(b, mb, 6 * MIB, "b after batches");
    return 0;
}

static int rows(void)
{
    CUdeviceptr a, b, z;
    CUstream s;
    CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CK(cuMemAlloc(&a, 6 * MIB));
    CK(cuMemAlloc(&b, 6 * MIB));
    CK(cuMemAlloc(&z, 8 * MIB));
    ma = malloc(6 * MIB); mb = malloc(6 * MIB);
    res_pattern((float *)ma, 6 * MIB / 4, 31);
    res_pattern((float *)mb, 6 * MIB / 4, 32);
    CK(cuMemcpyHtoD(a, ma, 6 * MIB));
    CK(cuMemcpyHtoD(b, mb, 6 * MIB));
    CK(cuMemsetD8(z, 0x5a, 8 * MIB));                 /* a and b leave */
    CUDA_MEMCPY2D c;
    memset(&c, 0, sizeof c);
    c.srcMemoryType = CU_MEMORYTYPE_DEVICE; c.srcDevice = a; c.srcPitch = 65536; c.srcXInBytes = 17; c.srcY = 1;
    c.dstMemoryType = CU_MEMORYTYPE_DEVICE; c.dstDevice = b; c.dstPitch = 65536; c.dstXInBytes = 3;
    c.WidthInBytes = 1000; c.Height = 6 * MIB / 65536 - 2;
    CK(cuMemcpy2D(&c));
    for (size_t r = 0; r < c.Height; r++)
        memcpy(mb + r * 65536 + 3, ma + (r + 1) * 65536 + 17, 1000);
    c.srcDevice = b; c.dstDevice = a; c.srcY = 0; c.dstY = 2; c.Height = 80;
    CK(cuMemcpy2DAsync(&c, s));
    CK(cuStreamSynchronize(s));
    for (size_t r = 0; r < c.Height; r++)
        memcpy(ma + (r + 2) * 65536 + 3, mb + r * 65536 + 17, 1000);
    CK(cuMemsetD8(z, 0x5a, 8 * MIB));
    /* 3D: 3 slices of 32 rows of 1000 bytes, 2 MiB apart (a layer of 32 rows of 64 KiB) */
    CUDA_MEMCPY3D c3;
    memset(&c3, 0, sizeof c3);
    c3.srcMemoryType = CU_MEMORYTYPE_DEVICE; c3.srcDevice = a; c3.srcPitch = 65536; c3.srcHeight = 32;
    c3.srcXInBytes = 5; c3.srcY = 3;
    c3.dstMemoryType = CU_MEMORYTYPE_DEVICE; c3.dstDevice = b; c3.dstPitch = 65536; c3.dstHeight = 32;
    c3.dstXInBytes = 9; c3.dstY = 1;
    c3.WidthInBytes = 1000; c3.Height = 28; c3.Depth = 3;
    CK(cuMemcpy3D(&c3));
    for (size_t zz = 0; zz < 3; zz++)
        for (size_t r = 0; r < 28; r++)
            memcpy(mb + (zz * 32 + r + 1) * 65536 + 9, ma + (zz * 32 + r + 3) * 65536 + 5, 1000);
    CK(cuMemsetD8(z, 0x5a, 8 * MIB));
    /* a 2D fill over most of b: bands of rows */
    CK(cuMemsetD2D32Async(b + 64, 65536, 0x0badf00du, 100, 6 * MIB / 65536 - 1, s));
    CK(cuStreamSynchronize(s));
    for (size_t r = 0; r < 6 * MIB / 65536 - 1; r++)
        for (size_t i = 0; i < 100; i++) memcpy(mb + r * 65536 + 64 + 4 * i, &(uint32_t){ 0x0badf00du }, 4);
    CK(cuMemsetD8(z, 0x5a, 8 * MIB));
    /* overlapping, larger than half the budget: like one memmove */
    CK(cuMemcpyDtoD(b + 4096, b, 6 * MIB - 4096));
    memmove(mb + 4096, mb, 6 * MIB - 4096);
    CK(cuMemcpyDtoDAsync(a, a + 8192, 6 * MIB - 8192, s));
    memmove(ma, ma + 8192, 6 * MIB - 8192);
    CK(cuStreamSynchronize(s));
    expect(a, ma, 6 * MIB, "a after 2D bands and an overlapping copy");
    expect(b, mb, 6 * MIB, "b after 2D bands and an overlapping copy");
    return 0;
}

static int body(const char *mode)
{
    res_init();
    if (!strcmp(mode, "rows")) return rows();
    if (!strcmp(mode, "batch")) return batch();
    if (!strcmp(mode, "onechunk")) return onechunk();
    return straddle();
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "child")) return body(argv[2]);
    const char *mode = argc > 1 ? argv[1] : "straddle";
    const char *env[3] = { "HMT_HBM_LIMIT=4M", NULL, NULL };
    if (!strcmp(mode, "onechunk")) env[0] = "HMT_HBM_LIMIT=2M";
    if (!strcmp(mode, "emulated")) env[1] = "HMT_MODE=emulated";
    if (!strcmp(mode, "batch") || !strcmp(mode, "rows")) env[0] = "HMT_HBM_LIMIT=8M";
    static char out[8192];
    int rc = res_run_child(argv[0], mode, 0, env, out, sizeof out);
    if (rc) FAIL("%s without hmt: %d (the test itself is wrong)", mode, rc);
    rc = res_run_child(argv[0], mode, 1, env, out, sizeof out);
    fputs(out, stdout);
    if (rc) FAIL("%s with hmt: child exit %d", mode, rc);
    return 0;
}
