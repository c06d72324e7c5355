/* res_arrival — a chunk faulted in for one stream is not usable by another stream before its
 * bytes have arrived. Host<->device copies are throttled (HMT_SIM_PCIE_GBPS), so hmt's copy
 * stream takes milliseconds per chunk: stream A's launch faults in `big` and then x (x's copy
 * runs last); stream B's launch right after finds x mapped (and its own y resident) and must
 * still wait for x's copy (x's arrival fence), else it reads x early and y comes out wrong. */
#include "res_common.h"

static int body(void)
{
    res_init();
    CUfunction axpy = res_func(res_module(), "axpy");
    CUstream sa, sb;
    CK(cuStreamCreate(&sa, CU_STREAM_NON_BLOCKING));
    CK(cuStreamCreate(&sb, CU_STREAM_NON_BLOCKING));
    int n = (int)(4 * MIB / 4);
    float *hx = malloc(4 * MIB), *hy = malloc(2 * MIB), *hb = malloc(6 * MIB), *out = malloc(2 * MIB);
    CUdeviceptr big, x, y, w;
    CK(cuMemAlloc(&big, 6 * MIB));
    res_put(big, 6 * MIB, 70, hb);
    CK(cuMemAlloc(&x, 4 * MIB));
    res_put(x, 4 * MIB, 71, hx);
    CK(cuMemAlloc(&y, 2 * MIB));
    CK(cuMemAlloc(&w, 12 * MIB));                /* the whole budget: everything leaves */
    CK(cuMemsetD8(w, 0, 12 * MIB));
    CK(cuCtxSynchronize());
    CK(cuMemFree(w));
    res_put(y, 2 * MIB, 72, hy);                 /* y resident again */
    CK(cuCtxSynchronize());
    int m = n / 2;
    CK(res_axpy(axpy, sa, big, x, 0.0f, m));     /* faults in big, then x: slow copies */
    CK(res_axpy(axpy, sb, y, x, 1.0f, m));       /* must wait for x's bytes */
    CK(cuCtxSynchronize());
    res_host_axpy(hy, hx, 1.0f, m);
    CK(cuMemcpyDtoH(out, y, 2 * MIB));
    if (res_sim_illegal()) FAIL("illegal address");
    if (memcmp(out, hy, 2 * MIB)) FAIL("stream B read x before its fault-in copy completed");
    printf("another stream waited for the fault-in copy: ok\n");
    return 0;
}

int main(int argc, char **argv)
{
    setenv("HMT_SIM_PCIE_GBPS", "0.5", 1);
    return res_main_with_hmt(argc, argv, "12M", body);
}
