/* stats_launcher.c — interpose_stats_launcher: a preloaded process that never used CUDA
 * writes no HMT_STATS report at exit.
 *
 * A launcher (`timeout`, a shell, torchrun) inherits LD_PRELOAD and HMT_STATS and exits after
 * the CUDA process it started: if it wrote its own all-zero report, it would overwrite the
 * real one. Case 1: a launcher (this program, no driver call) runs a CUDA child (this program
 * again, a few driver calls) with the same HMT_STATS path; the file must hold the child's
 * counts after the launcher exits. Case 2: the launcher alone must leave a file it finds there
 * untouched. Before the fix case 1 read exported_calls 0 and case 2 found a report.
 */
#include "ih.h"

#include <cjson/cJSON.h>
#include <sys/wait.h>
#include <unistd.h>

static int run(char *self, const char *mode, const char *stats)
{
    fflush(NULL);
    pid_t p = fork();
    if (p < 0)
        return -1;
    if (p == 0) {
        const char *lib = getenv("HMT_TEST_LIB");
        if (lib)
            setenv("LD_PRELOAD", lib, 1);
        setenv("HMT_STATS", stats, 1);
        setenv("HMT_HBM_LIMIT", "64M", 1);
        char *argv[] = { self, (char *)mode, NULL };
        execv(self, argv);
        _exit(127);
    }
    int st;
    waitpid(p, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "cuda")) {
        size_t fr, tot;
        CUdevice d;
        CUcontext c;
        if (cuInit(0) || cuDeviceGet(&d, 0) || cuDevicePrimaryCtxRetain(&c, d) ||
            cuCtxSetCurrent(c) || cuMemGetInfo_v2(&fr, &tot))
            return 1;
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[1], "launcher"))   /* no driver call of its own */
        return run(argv[0], "cuda", getenv("HMT_STATS"));
    if (argc >= 2 && !strcmp(argv[1], "idle"))
        return 0;

    char path[64];
    snprintf(path, sizeof path, "/tmp/hmt-stats-launcher-%ld.json", (long)getpid());
    unlink(path);
    CHECK(run(argv[0], "launcher", path) == 0, "launcher or its CUDA child failed");
    char *text = slurp(path);
    CHECK(text != NULL, "no report at %s (the CUDA child should have written one)", path);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    cJSON *calls = root ? cJSON_GetObjectItemCaseSensitive(root, "calls") : NULL;
    cJSON *info = calls ? cJSON_GetObjectItemCaseSensitive(calls, "cuMemGetInfo_v2") : NULL;
    CHECK(cJSON_IsNumber(info) && info->valuedouble == 1,
          "report counts %g cuMemGetInfo_v2 calls, not the child's 1: the launcher overwrote "
          "its CUDA child's report", cJSON_IsNumber(info) ? info->valuedouble : 0.0);
    cJSON_Delete(root);

    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "cannot write %s", path);
    if (f) {
        fputs("untouched\n", f);
        fclose(f);
    }
    CHECK(run(argv[0], "idle", path) == 0, "idle process failed");
    text = slurp(path);
    CHECK(text && !strcmp(text, "untouched\n"), "a process that never used CUDA wrote a report");
    unlink(path);
    return IH_DONE();
}
