/* res_pitch — cuMemAllocPitch_v2 of managed memory answers the pitch the driver answers
 * (same widths, element sizes and heights, with and without hmt), and the pitched rows are
 * usable through cuMemcpy2D after eviction. */
#include "res_common.h"

static int probe(void)
{
    res_init();
    static const size_t widths[] = { 1, 100, 512, 513, 1000, 4096, 5000 };
    static const unsigned elems[] = { 4, 8, 16 };
    for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++)
        for (size_t e = 0; e < 3; e++) {
            CUdeviceptr d;
            size_t pitch = 0;
            CK(cuMemAllocPitch(&d, &pitch, widths[w], 64, elems[e]));
            printf("%zu/%u:%zu ", widths[w], elems[e], pitch);
            CK(cuMemFree(d));
        }
    /* rows survive eviction */
    CUdeviceptr d, big;
    size_t pitch;
    CK(cuMemAllocPitch(&d, &pitch, 3000, 1000, 4));
    unsigned char *h = malloc(3000 * 1000), *back = malloc(3000 * 1000);
    res_pattern((float *)h, 3000 * 1000 / 4, 61);
    CUDA_MEMCPY2D c;
    memset(&c, 0, sizeof c);
    c.srcMemoryType = CU_MEMORYTYPE_HOST; c.srcHost = h; c.srcPitch = 3000;
    c.dstMemoryType = CU_MEMORYTYPE_DEVICE; c.dstDevice = d; c.dstPitch = pitch;
    c.WidthInBytes = 3000; c.Height = 1000;
    CK(cuMemcpy2D(&c));
    if (getenv("HMT_HBM_LIMIT")) {
        CK(cuMemAlloc(&big, 8 * MIB));        /* the whole budget: d leaves */
        CK(cuMemsetD8(big, 0, 8 * MIB));
    }
    memset(&c, 0, sizeof c);
    c.srcMemoryType = CU_MEMORYTYPE_DEVICE; c.srcDevice = d; c.srcPitch = pitch;
    c.dstMemoryType = CU_MEMORYTYPE_HOST; c.dstHost = back; c.dstPitch = 3000;
    c.WidthInBytes = 3000; c.Height = 1000;
    CK(cuMemcpy2D(&c));
    printf("rows=%d\n", !memcmp(h, back, 3000 * 1000));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "child")) return probe();
    static char o0[4096], o1[4096];
    const char *budget[] = { "HMT_HBM_LIMIT=8M", NULL };
    if (res_run_child(argv[0], "p", 0, NULL, o0, sizeof o0)) FAIL("without hmt: %s", o0);
    if (res_run_child(argv[0], "p", 1, budget, o1, sizeof o1)) FAIL("with hmt: %s", o1);
    printf("without hmt: %swith hmt:    %s", o0, o1);
    if (strcmp(o0, o1)) FAIL("pitches or rows differ with hmt");
    if (!strstr(o1, "rows=1")) FAIL("rows lost");
    return 0;
}
