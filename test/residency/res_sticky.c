/* res_sticky — invariant 6: after a real illegal address (a kernel writing a reserved VA
 * nothing maps), every later call answers the context's sticky CUDA_ERROR_ILLEGAL_ADDRESS,
 * as the driver does, also when it touches evicted managed memory that hmt would have to
 * fault in. Before the fix hmt's fault-in turned the driver's refusal into
 * CUDA_ERROR_OUT_OF_MEMORY (copy, launch, memset) and cuMemFree answered 0.
 * The body runs without hmt (the reference: proves the sim answers 700 here) and with hmt
 * and an 8 MiB budget; the calls' results must be the same.
 */
#include "res_common.h"

static int body(void)
{
    res_init();
    CUfunction fill = res_func(res_module(), "fill");
    CUdeviceptr a, c, v;
    CK(cuMemAlloc(&a, 4 * MIB));
    CK(cuMemAlloc(&c, 8 * MIB));          /* with hmt: a leaves HBM */
    CK(cuMemsetD8(a, 1, 4 * MIB));        /* a back, c partly out */
    CK(cuMemsetD8(c, 2, 8 * MIB));        /* c back, a out */
    CK(cuMemAddressReserve(&v, 2 * MIB, 0, 0, 0));
    float x = 1.0f;
    int n = 16;
    void *pv[] = { &v, &x, &n };
    CK(cuLaunchKernel(fill, 1, 1, 1, 1, 1, 1, 0, NULL, pv, NULL));
    CUresult r[5];
    r[0] = cuCtxSynchronize();
    unsigned char h[16];
    r[1] = cuMemcpyDtoH(h, a, sizeof h);
    void *pa[] = { &a, &x, &n };
    r[2] = cuLaunchKernel(fill, 1, 1, 1, 1, 1, 1, 0, NULL, pa, NULL);
    r[3] = cuMemsetD8(a, 3, 16);
    r[4] = cuMemFree(a);
    printf("sync %d copy %d launch %d memset %d free %d\n", r[0], r[1], r[2], r[3], r[4]);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "child")) return body();
    static char ref[512], got[512];
    const char *env[] = { "HMT_HBM_LIMIT=8M", NULL };
    int r1 = res_run_child(argv[0], "body", 0, NULL, ref, sizeof ref);
    int r2 = res_run_child(argv[0], "body", 1, env, got, sizeof got);
    printf("without hmt: %s" "with hmt:    %s", ref, got);
    if (r1 || r2) FAIL("child exit %d / %d", r1, r2);
    char want[128];
    snprintf(want, sizeof want, "sync %d copy %d launch %d memset %d free %d\n", 700, 700, 700, 700, 700);
    if (strcmp(ref, want)) FAIL("the sim does not answer the sticky error here: the test proves nothing");
    if (strcmp(ref, got)) FAIL("hmt replaced the driver's sticky result");
    return 0;
}
