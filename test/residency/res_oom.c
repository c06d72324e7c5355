/* res_oom — an allocation larger than the budget fails with CUDA_ERROR_OUT_OF_MEMORY (as the
 * driver fails one larger than the device), saying why once at warn level (else users see only
 * their program's OOM), and one that fits still succeeds afterwards. */
#include "res_common.h"

static int body(void)
{
    res_init();
    /* the reason is warned once, naming the budget and the request (stderr captured) */
    char errpath[] = "/tmp/res_oom_stderr_XXXXXX";
    int efd = mkstemp(errpath), saved = dup(2);
    if (efd < 0 || saved < 0 || dup2(efd, 2) < 0) FAIL("cannot capture stderr");
    CUdeviceptr a;
    CUresult r = cuMemAlloc(&a, 10 * MIB);
    CUresult r2 = cuMemAlloc(&a, 12 * MIB);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    if (r != CUDA_ERROR_OUT_OF_MEMORY) FAIL("allocation above the budget gave %d, not OOM", (int)r);
    if (r2 != CUDA_ERROR_OUT_OF_MEMORY) FAIL("second allocation above the budget gave %d, not OOM", (int)r2);
    char log[4096] = "";
    ssize_t nlog = pread(efd, log, sizeof log - 1, 0);
    log[nlog > 0 ? nlog : 0] = 0;
    close(efd);
    unlink(errpath);
    fputs(log, stderr);
    const char *w = strstr(log, "allocation of 10485760 bytes is larger than the budget (8388608 bytes");
    if (!w) FAIL("no warning naming the request and the budget: [%s]", log);
    if (strstr(w + 1, "allocation of")) FAIL("warned more than once: [%s]", log);
    size_t pitch;
    r = cuMemAllocPitch(&a, &pitch, 4096, 4096, 4);  /* 16M */
    if (r != CUDA_ERROR_OUT_OF_MEMORY) FAIL("pitched allocation above the budget gave %d", (int)r);
    CK(cuMemAlloc(&a, 8 * MIB));
    CUdeviceptr b;
    CK(cuMemAlloc(&b, 8 * MIB));             /* evicts a */
    CK(cuMemFree(a));
    CK(cuMemFree(b));
    printf("budget smaller than one allocation -> OOM: ok\n");
    return 0;
}

int main(int argc, char **argv) { return res_main_with_hmt(argc, argv, "8M", body); }
