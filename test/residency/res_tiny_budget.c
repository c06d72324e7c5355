/* res_tiny_budget — a budget below one chunk is kept (0 chunks: what the user asked, every
 * managed allocation fails with out-of-memory) but said once, not silently: HMT_HBM_LIMIT=1,
 * 1K, 0%, 2097151, 0 each give exactly one "below one chunk" warning and two out-of-memory
 * allocations; 2M (one chunk) gives no warning and a working allocation. Before the fix the
 * warning was missing.
 */
#include "res_common.h"

static int child(int want_oom)
{
    res_init();
    CUdeviceptr d;
    for (int i = 0; i < 2; i++) {
        CUresult r = cuMemAlloc(&d, 2 * MIB);
        if (want_oom && r != CUDA_ERROR_OUT_OF_MEMORY) FAIL("allocation %d gave %d, not out-of-memory", i, (int)r);
        if (!want_oom) { CK(r); CK(cuMemFree(d)); }
    }
    return 0;
}

static int count_lines(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, needle)) n++;
    fclose(f);
    return n;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "child")) return child(!strcmp(argv[2], "oom"));
    static const struct { const char *limit; int warn; } cases[] = {
        { "1", 1 }, { "1K", 1 }, { "0%", 1 }, { "2097151", 1 }, { "0", 1 }, { "2M", 0 },
    };
    char log[64];
    snprintf(log, sizeof log, "/tmp/res_tiny_budget.%ld.log", (long)getpid());
    static char logenv[96];
    snprintf(logenv, sizeof logenv, "HMT_LOG_FILE=%s", log);
    int bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unlink(log);
        char lim[64];
        snprintf(lim, sizeof lim, "HMT_HBM_LIMIT=%s", cases[i].limit);
        const char *env[] = { lim, logenv, NULL };
        char out[256];
        int rc = res_run_child(argv[0], cases[i].warn ? "oom" : "ok", 1, env, out, sizeof out);
        int n = count_lines(log, "is below one chunk");
        printf("HMT_HBM_LIMIT=%-8s exit %d, %d warning(s)\n", cases[i].limit, rc, n);
        if (rc != 0 || n != cases[i].warn) bad++;
    }
    unlink(log);
    if (bad) FAIL("%d budget case(s) wrong", bad);
    return 0;
}
