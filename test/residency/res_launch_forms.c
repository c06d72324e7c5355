/* res_launch_forms — every launch form finds its references under eviction: kernelParams,
 * the `extra` packed buffer, pointers inside a struct parameter, cuLaunchKernelEx, the
 * cooperative launch, and cuLaunchKernel_ptsz on the per-thread default stream (a NULL
 * stream there is not the legacy stream). Before each launch a buffer the size of the budget
 * is filled, so both operands are evicted; the result must equal the host reference. */
#include "res_common.h"

#define NB (2 * MIB)
#define NF ((int)(NB / 4))
static CUdeviceptr x, y, z;
static float *hx, *hy;

static void evict_all(void) { CK(cuMemsetD8(z, 0, 8 * MIB)); CK(cuCtxSynchronize()); }

static void check(const char *form)
{
    CK(cuCtxSynchronize());
    if (res_sim_illegal()) FAIL("%s: illegal address", form);
    res_expect(y, hy, NB, form);
}

static int body(void)
{
    res_init();
    CUmodule m = res_module();
    CUfunction axpy = res_func(m, "axpy"), pair = res_func(m, "pair_axpy");
    hx = malloc(NB); hy = malloc(NB);
    CK(cuMemAlloc(&x, NB));
    CK(cuMemAlloc(&y, NB));
    CK(cuMemAlloc(&z, 8 * MIB));
    res_put(x, NB, 51, hx);
    res_put(y, NB, 52, hy);
    int n = NF;
    float a = 1.5f;

    evict_all();                                   /* kernelParams */
    void *p[4] = { &y, &x, &a, &n };
    CK(cuLaunchKernel(axpy, 1, 1, 1, 1, 1, 1, 0, NULL, p, NULL));
    res_host_axpy(hy, hx, a, n);
    check("kernelParams");

    evict_all();                                   /* extra: packed buffer */
    struct { CUdeviceptr y, x; float a; int n; } buf = { y, x, 0.5f, n };
    size_t size = sizeof buf;
    void *extra[] = { CU_LAUNCH_PARAM_BUFFER_POINTER, &buf, CU_LAUNCH_PARAM_BUFFER_SIZE, &size,
                      CU_LAUNCH_PARAM_END };
    CK(cuLaunchKernel(axpy, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, extra));
    res_host_axpy(hy, hx, 0.5f, n);
    check("extra");

    evict_all();                                   /* pointers inside a struct parameter */
    struct { CUdeviceptr y, x; } pr = { y, x };
    float a2 = 0.25f;
    void *pp[3] = { &pr, &a2, &n };
    CK(cuLaunchKernel(pair, 1, 1, 1, 1, 1, 1, 0, NULL, pp, NULL));
    res_host_axpy(hy, hx, a2, n);
    check("struct parameter");

    evict_all();                                   /* cuLaunchKernelEx */
    CUstream s;
    CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CUlaunchConfig cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.gridDimX = cfg.gridDimY = cfg.gridDimZ = 1;
    cfg.blockDimX = cfg.blockDimY = cfg.blockDimZ = 1;
    cfg.hStream = s;
    float a3 = 2.0f;
    void *p3[4] = { &y, &x, &a3, &n };
    CK(cuLaunchKernelEx(&cfg, axpy, p3, NULL));
    res_host_axpy(hy, hx, a3, n);
    check("cuLaunchKernelEx");

    evict_all();                                   /* cooperative */
    float a4 = -1.0f;
    void *p4[4] = { &y, &x, &a4, &n };
    CUresult r = cuLaunchCooperativeKernel(axpy, 1, 1, 1, 1, 1, 1, 0, s, p4);
    if (r == CUDA_SUCCESS) { res_host_axpy(hy, hx, a4, n); check("cooperative"); }
    else if (r != CUDA_ERROR_NOT_SUPPORTED) FAIL("cooperative launch -> %d", (int)r);

    evict_all();                                   /* _ptsz, NULL = per-thread stream */
    CUresult (*lk)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                   unsigned, CUstream, void **, void **) = NULL;
    CUdriverProcAddressQueryResult q;
    CK(cuGetProcAddress("cuLaunchKernel", (void **)&lk, 12000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, &q));
    if (!lk) FAIL("no per-thread cuLaunchKernel");
    float a5 = 3.0f;
    void *p5[4] = { &y, &x, &a5, &n };
    CK(lk(axpy, 1, 1, 1, 1, 1, 1, 0, NULL, p5, NULL));
    res_host_axpy(hy, hx, a5, n);
    check("cuLaunchKernel_ptsz");

    if (res_sim_peak() > 8 * MIB) FAIL("sim peak above the budget");
    printf("launch forms under eviction: ok\n");
    return 0;
}

int main(int argc, char **argv) { return res_main_with_hmt(argc, argv, "8M", body); }
