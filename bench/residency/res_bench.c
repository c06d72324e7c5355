/* res_bench — the residency engine's costs, as ratios against baselines run in the same
 * process (no absolute timings are asserted anywhere).
 *   1. eviction + fault-in throughput through the host tier: two buffers that together are
 *      twice the budget are touched in turn by a one-element kernel, so each touch evicts
 *      one buffer and faults the other in; bytes moved per second against plain memcpy of
 *      the same bytes between host buffers (goal >= 0.9x).
 *   2. launch-path cost: host time of launch + stream sync when nothing is evicted, against
 *      the same when the launch's one-chunk buffer must be faulted in (and another evicted);
 *      and the host time of a launch call alone (buffer resident) without and with hmt.
 * Usage: res_bench [MiB]   (buffer size for 1, default 64). It runs itself as children with
 * LD_PRELOAD=libhmt.so and the budgets each part needs; the sim's PCIe throttle
 * (HMT_SIM_PCIE_GBPS) is left as the environment sets it. */
#define _GNU_SOURCE
#include <cuda.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024ull * 1024)
#define CK(call) do { CUresult r_ = (call); if (r_ != CUDA_SUCCESS) { \
        fprintf(stderr, "res_bench: %s -> %d\n", #call, (int)r_); exit(1); } } while (0)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static CUfunction fill;
static CUstream s;

static void touch(CUdeviceptr p)
{
    float v = 1.0f;
    int n = 1;
    void *a[3] = { &p, &v, &n };
    CK(cuLaunchKernel(fill, 1, 1, 1, 1, 1, 1, 0, s, a, NULL));
    CK(cuStreamSynchronize(s));
}

static void setup(void)
{
    CK(cuInit(0));
    CUdevice d;
    CK(cuDeviceGet(&d, 0));
    CUcontext c;
    CK(cuDevicePrimaryCtxRetain(&c, d));
    CK(cuCtxSetCurrent(c));
    CUmodule m;
    CK(cuModuleLoad(&m, RES_KERNELS_PATH));
    CK(cuModuleGetFunction(&fill, m, "fill"));
    CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One round of each, interleaved, so both see the same machine load (the machine is shared):
 * hmt moves 4 x bytes per round (touch a: evict b + fault in a; touch b: the reverse), memcpy
 * copies the same 4 x bytes between two host buffers of the same size (both out of cache).
 * Medians over the rounds; one warm-up round of each first (pool slabs exist, both buffers
 * have moved once, the host buffers are faulted in). */
static int throughput(size_t mib)
{
    setup();
    size_t bytes = mib * MIB;
    CUdeviceptr a, b;
    CK(cuMemAlloc(&a, bytes));
    CK(cuMemAlloc(&b, bytes));          /* budget = bytes: a is evicted */
    char *h1 = malloc(bytes), *h2 = malloc(bytes);
    if (!h1 || !h2) return 1;
    memset(h1, 1, bytes); memset(h2, 2, bytes);
    enum { ROUNDS = 9 };
    double hg[ROUNDS], mg[ROUNDS], moved = 4.0 * (double)bytes;
    for (int r = -1; r < ROUNDS; r++) {
        double t0 = now();
        touch(a);
        touch(b);
        double t1 = now();
        for (int k = 0; k < 2; k++) { memcpy(h2, h1, bytes); memcpy(h1, h2, bytes); }
        double t2 = now();
        if (r < 0) continue;            /* warm-up */
        hg[r] = moved / (t1 - t0) / 1e9;
        mg[r] = moved / (t2 - t1) / 1e9;
    }
    double hmt_gbs = median(hg, ROUNDS), mem_gbs = median(mg, ROUNDS);
    printf("evict+fault-in through the host tier: %.2f GB/s; memcpy of the same bytes: %.2f GB/s; "
           "ratio %.2fx (goal >= 0.9x; medians of %d interleaved rounds)\n", hmt_gbs, mem_gbs,
           hmt_gbs / mem_gbs, ROUNDS);
    free(h1);
    free(h2);
    return 0;
}

static int launch_cost(void)
{
    setup();
    CUdeviceptr c1, c2;
    CK(cuMemAlloc(&c1, 2 * MIB));
    CK(cuMemAlloc(&c2, 2 * MIB));       /* budget = one chunk: c1 leaves */
    touch(c2);
    int n = 200;
    double t0 = now();
    for (int i = 0; i < n; i++) touch(c2);        /* resident: nothing to do */
    double resident = (now() - t0) / n;
    t0 = now();
    for (int i = 0; i < n; i++) touch(i & 1 ? c2 : c1);  /* each one faults in a chunk */
    double faulting = (now() - t0) / n;
    printf("launch + sync, nothing evicted: %.1f us; with one 2 MiB chunk to fault in (and one "
           "to evict): %.1f us; ratio %.1fx\n", resident * 1e6, faulting * 1e6, faulting / resident);
    return 0;
}

/* Host time per launch call (no sync in the loop) with the launch's buffer resident: what
 * the scan, pin and fence add on the launch path. Printed as one number for the parent. */
static int launch_only(void)
{
    setup();
    CUdeviceptr c;
    CK(cuMemAlloc(&c, 2 * MIB));
    touch(c);
    float v = 1.0f;
    int n = 1, iters = 20000;
    void *a[3] = { &c, &v, &n };
    double best = 1e9;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
        for (int i = 0; i < iters; i++) CK(cuLaunchKernel(fill, 1, 1, 1, 1, 1, 1, 0, s, a, NULL));
        double t = (now() - t0) / iters;
        CK(cuStreamSynchronize(s));
        if (t < best) best = t;
    }
    printf("%.1f\n", best * 1e9);
    return 0;
}

static int run(char *self, const char *mode, const char *budget, const char *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (budget) {
            setenv("LD_PRELOAD", RES_HMT_PATH, 1);
            setenv("HMT_HBM_LIMIT", budget, 1);
        } else {
            unsetenv("LD_PRELOAD");
        }
        char *argv[] = { self, "child", (char *)mode, (char *)arg, NULL };
        execv(self, argv);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "child")) {
        if (!strcmp(argv[2], "throughput")) return throughput((size_t)atoi(argv[3]));
        if (!strcmp(argv[2], "launchonly")) return launch_only();
        return launch_cost();
    }
    const char *mib = argc > 1 ? argv[1] : "64";
    char budget[32];
    snprintf(budget, sizeof budget, "%sM", mib);
    int rc = run(argv[0], "throughput", budget, mib);
    rc |= run(argv[0], "launch", "2M", "0");
    printf("launch call (no sync), buffer resident, ns: without hmt / with hmt engaged:\n");
    rc |= run(argv[0], "launchonly", NULL, "0");
    rc |= run(argv[0], "launchonly", "64M", "0");
    return rc;
}
