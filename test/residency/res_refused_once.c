/* res_refused_once — the host tier's refusal is said once per process, not once per place
 * that notices it: two eviction rounds whose cuMemHostAlloc is refused must leave exactly one
 * "pinned host memory refused" line in the log (HMT_LOG_FILE), and both allocations that
 * needed the room fail with out-of-memory (invariant 4). Before the fix the host pool and the
 * evictor each said it (two lines).
 */
#include "res_common.h"

static int body(void)
{
    res_init();
    CUdeviceptr a, b;
    CK(cuMemAlloc(&a, 4 * MIB));
    CK(cuMemsetD8(a, 7, 4 * MIB));
    for (int i = 0; i < 2; i++) {
        res_sim_fail_nth("cuMemHostAlloc", 1, CUDA_ERROR_OUT_OF_MEMORY);
        CUresult r = cuMemAlloc(&b, 2 * MIB);
        if (r != CUDA_ERROR_OUT_OF_MEMORY) FAIL("round %d: allocation gave %d, not out-of-memory", i, (int)r);
    }
    res_sim_fail_nth("cuMemHostAlloc", 0, 0);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "child")) return body();
    char log[64];
    snprintf(log, sizeof log, "/tmp/res_refused_once.%ld.log", (long)getpid());
    unlink(log);
    static char logenv[96];
    snprintf(logenv, sizeof logenv, "HMT_LOG_FILE=%s", log);
    const char *env[] = { "HMT_HBM_LIMIT=4M", logenv, NULL };
    char out[256];
    int rc = res_run_child(argv[0], "body", 1, env, out, sizeof out);
    FILE *f = fopen(log, "r");
    int n = 0;
    char line[1024];
    while (f && fgets(line, sizeof line, f)) {
        if (strstr(line, "pinned host memory refused")) n++;
        fputs(line, stdout);
    }
    if (f) fclose(f);
    unlink(log);
    if (rc) FAIL("child exit %d", rc);
    if (n != 1) FAIL("%d \"pinned host memory refused\" lines, not 1", n);
    printf("host refusal said once: ok\n");
    return 0;
}
