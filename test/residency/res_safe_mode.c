/* res_safe_mode — when a kernel's parameter layout cannot be read (cuFuncGetParamInfo fails:
 * an old driver, an error), the launch brings in everything managed (safe mode) and counts
 * it, instead of guessing: the evicted buffer the kernel reads must be in place. */
#include "res_common.h"

#define CKC(call) do { CUresult r_ = (call); if (r_ != CUDA_SUCCESS) { \
        printf("error=%d at %s\n", (int)r_, #call); fflush(stdout); exit(2); } } while (0)

static int child(void)
{
    res_init();
    CUfunction f = res_func(res_module(), "axpy");
    int n = (int)(4 * MIB / 4);
    float *hx = malloc(4 * MIB), *hy = malloc(4 * MIB);
    CUdeviceptr x, y, z;
    CKC(cuMemAlloc(&x, 4 * MIB));
    CKC(cuMemAlloc(&y, 4 * MIB));
    res_pattern(hx, (size_t)n, 41);
    res_pattern(hy, (size_t)n, 42);
    CKC(cuMemcpyHtoD(x, hx, 4 * MIB));
    CKC(cuMemcpyHtoD(y, hy, 4 * MIB));
    CKC(cuMemAlloc(&z, 4 * MIB));          /* budget 8M: x leaves */
    CKC(cuMemFree(z));
    if (res_sim_fail_nth("cuFuncGetParamInfo", 1, CUDA_ERROR_NOT_SUPPORTED) != 0 ||
        res_sim_fail_nth("cuKernelGetParamInfo", 1, CUDA_ERROR_NOT_SUPPORTED) != 0) {
        printf("error=-2 no fault injection\n"); return 2;
    }
    CKC(res_axpy(f, NULL, y, x, 2.0f, n));
    CKC(cuCtxSynchronize());
    res_host_axpy(hy, hx, 2.0f, n);
    float *out = malloc(4 * MIB);
    CKC(cuMemcpyDtoH(out, y, 4 * MIB));
    printf("match=%d\n", !memcmp(out, hy, 4 * MIB));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "child")) return child();
    char out[512], stats[256], env_stats[300];
    snprintf(stats, sizeof stats, "/tmp/res_safe_mode_%d.json", (int)getpid());
    snprintf(env_stats, sizeof env_stats, "HMT_STATS=%s", stats);
    const char *env[] = { "HMT_HBM_LIMIT=8M", env_stats, NULL };
    int rc = res_run_child(argv[0], "s", 1, env, out, sizeof out);
    double safe = res_stat(stats, "safe_mode_launches"), faults = res_stat(stats, "faults");
    unlink(stats);
    if (rc) FAIL("child failed (%d): %s", rc, out);
    printf("%ssafe_mode_launches %.0f faults %.0f\n", out, safe, faults);
    if (!strstr(out, "match=1")) FAIL("wrong result in safe mode");
    if (safe < 1) FAIL("safe mode was not counted");
    if (faults < 2) FAIL("safe mode did not fault in the evicted buffer");
    return 0;
}
