/* stats_check.c — interpose_stats (and interpose_twice): the HMT_STATS report counts each
 * call and each redirect exactly once.
 *
 * The program runs itself as a child with HMT_STATS=<file>; the child makes a known number of
 * calls through each door; the parent reads the JSON (cJSON) and checks every stats.def row
 * is present and the per-function and per-door counts are exact. Under interpose_twice two
 * copies of libhmt.so are preloaded: the counts must not double (only the first copy acts).
 * Under interpose_threads, 8 threads race through the three doors from the very first driver
 * call: every call must be counted exactly once.
 */
#include "ih.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const stat_names[] = {
#define HMT_STAT(id, json, help) json,
#define HMT_GAUGE(id, json, help) json,
#include "stats.def"
#undef HMT_STAT
#undef HMT_GAUGE
};

static int count_hmt_copies(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    const char *slash = strrchr(info->dlpi_name, '/');
    if (!strcmp(slash ? slash + 1 : info->dlpi_name, "libhmt.so"))
        ++*(int *)data;
    return 0;
}

static int child(void)
{
    ih_hmt();
    ih_context();
    CUfunction f = ih_kernel("add8");
    size_t fr, tot;
    for (int i = 0; i < 5; i++)
        cuMemGetInfo_v2(&fr, &tot);
    void *drv = dlopen("libcuda.so.1", RTLD_NOW);
    dlsym(drv, "cuMemAlloc_v2");
    dlsym(drv, "cuLaunchKernel");
    dlsym(drv, "cuGetExportTable");   /* not redirected */
    void *p;
    cuGetProcAddress_v2("cuLaunchKernel", &p, 12000, 0, NULL);
    cuGetProcAddress_v2("cuMemcpyHtoDAsync", &p, 12000, 2, NULL);
    cuGetProcAddress_v2("cuInit", &p, 2000, 0, NULL);
    cuGetProcAddress_v2("cuDeviceGetName", &p, 2000, 0, NULL);   /* not wrapped */
    CUdeviceptr args[8] = { 0 };
    void *params[8];
    for (int i = 0; i < 8; i++)
        params[i] = &args[i];
    for (int i = 0; i < 4; i++)
        cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, params, NULL);
    cuCtxSynchronize();
    return 0;
}

/* "threads" child: 8 threads released together before any driver call, so they race to
 * resolve the driver through different doors; each makes 1000 cuMemGetInfo_v2 calls. */
enum { NTHREADS = 8, PER_THREAD = 1000 };
static pthread_barrier_t start;
static void *worker(void *arg)
{
    long i = (long)arg;
    pthread_barrier_wait(&start);
    CUresult (*fn)(size_t *, size_t *) = NULL;
    if (i % 3 == 0) {
        fn = cuMemGetInfo_v2;
    } else if (i % 3 == 1) {
        fn = (CUresult(*)(size_t *, size_t *))dlsym(dlopen("libcuda.so.1", RTLD_NOW), "cuMemGetInfo_v2");
    } else {
        void *p = NULL;
        cuGetProcAddress_v2("cuMemGetInfo", &p, 12000, 0, NULL);
        fn = (CUresult(*)(size_t *, size_t *))p;
    }
    if (!ih_is_wrapper((void *)fn, "cuMemGetInfo_v2"))
        return (void *)1;
    size_t f, t;
    for (int k = 0; k < PER_THREAD; k++)
        fn(&f, &t);
    return NULL;
}

static int child_threads(void)
{
    ih_hmt();
    pthread_t t[NTHREADS];
    pthread_barrier_init(&start, NULL, NTHREADS);
    for (long i = 0; i < NTHREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *)i);
    int bad = 0;
    for (int i = 0; i < NTHREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad |= r != NULL;
    }
    return bad;
}

static double num(cJSON *o, const char *k)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "child"))
        return child();
    if (argc > 1 && !strcmp(argv[1], "child-threads"))
        return child_threads();
    int twice = argc > 1 && !strcmp(argv[1], "twice");
    int threads = argc > 1 && !strcmp(argv[1], "threads");
    if (twice) {
        int n = 0;
        dl_iterate_phdr(count_hmt_copies, &n);
        CHECK(n == 2, "interpose_twice: %d copies of libhmt.so loaded, want 2", n);
    }
    /* Invariant 7: with no HMT_* variable set, hmt says nothing (the child's stderr stays
     * empty) and writes no report. */
    char errpath[] = "/tmp/hmt-quiet-XXXXXX";
    int efd = mkstemp(errpath);
    fflush(NULL);
    pid_t q = fork();
    if (q == 0) {
        extern char **environ;
        for (int again = 1; again;) {
            again = 0;
            for (char **e = environ; *e; e++)
                if (!strncmp(*e, "HMT_", 4) && strncmp(*e, "HMT_TEST_", 9)) {
                    char name[256];
                    snprintf(name, sizeof name, "%.*s", (int)(strchr(*e, '=') - *e), *e);
                    unsetenv(name);
                    again = 1;
                    break;
                }
        }
        dup2(efd, 2);
        execl("/proc/self/exe", argv[0], threads ? "child-threads" : "child", (char *)NULL);
        _exit(127);
    }
    int qst;
    waitpid(q, &qst, 0);
    CHECK(WIFEXITED(qst) && WEXITSTATUS(qst) == 0, "quiet child failed: %d", qst);
    off_t errbytes = lseek(efd, 0, SEEK_END);
    CHECK(errbytes == 0, "with no HMT_* set, hmt wrote %lld bytes to stderr (see %s)",
          (long long)errbytes, errpath);
    close(efd);
    if (errbytes == 0)
        unlink(errpath);

    char path[] = "/tmp/hmt-stats-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("HMT_STATS", path, 1);
        execl("/proc/self/exe", argv[0], threads ? "child-threads" : "child", (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child failed: %d", st);
    FILE *f = fopen(path, "r");
    char buf[1 << 16];
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    unlink(path);
    buf[n] = 0;
    cJSON *root = cJSON_Parse(buf);
    CHECK(root != NULL, "HMT_STATS is not one JSON object: '%.200s'", buf);
    if (!root)
        return IH_DONE();
    for (size_t i = 0; i < sizeof stat_names / sizeof stat_names[0]; i++)
        CHECK(cJSON_GetObjectItemCaseSensitive(root, stat_names[i]), "no \"%s\"", stat_names[i]);
    cJSON *doors = cJSON_GetObjectItemCaseSensitive(root, "doors");
    cJSON *calls = cJSON_GetObjectItemCaseSensitive(root, "calls");
    CHECK(doors && calls, "no doors / calls objects");
    if (threads) {
        /* every call counted once, whichever thread and door; lookups: 3 dlsym, 2 getproc */
        CHECK(num(calls, "cuMemGetInfo_v2") == NTHREADS * PER_THREAD, "cuMemGetInfo_v2 = %g, want %d",
              num(calls, "cuMemGetInfo_v2"), NTHREADS * PER_THREAD);
        CHECK(num(doors, "dlsym_redirects") == 3 && num(doors, "getproc_redirects") == 2,
              "redirects: dlsym %g, getproc %g; want 3, 2", num(doors, "dlsym_redirects"),
              num(doors, "getproc_redirects"));
        cJSON_Delete(root);
        return IH_DONE();
    }
    CHECK(num(doors, "dlsym_redirects") == 2, "dlsym_redirects = %g, want 2", num(doors, "dlsym_redirects"));
    CHECK(num(doors, "getproc_redirects") == 3, "getproc_redirects = %g, want 3",
          num(doors, "getproc_redirects"));
    CHECK(num(calls, "cuMemGetInfo_v2") == 5, "cuMemGetInfo_v2 = %g, want 5", num(calls, "cuMemGetInfo_v2"));
    CHECK(num(calls, "cuLaunchKernel") == 4, "cuLaunchKernel = %g, want 4", num(calls, "cuLaunchKernel"));
    CHECK(num(calls, "cuGetProcAddress_v2") == 4, "cuGetProcAddress_v2 = %g, want 4",
          num(calls, "cuGetProcAddress_v2"));
    CHECK(num(calls, "cuMemAlloc_v2") == -1, "cuMemAlloc_v2 was never called but is listed");
    double total = 0;
    for (cJSON *c = calls ? calls->child : NULL; c; c = c->next)
        total += c->valuedouble;
    CHECK(num(doors, "exported_calls") == total, "exported_calls %g != sum of calls %g",
          num(doors, "exported_calls"), total);
    cJSON_Delete(root);
    return IH_DONE();
}
