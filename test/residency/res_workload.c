/* res_workload — a kernel workload whose working set is 3x HMT_HBM_LIMIT finishes with
 * results bitwise equal to a run without hmt, with evictions and faults > 0 and the sim's
 * peak device bytes never above the budget (no allowance: every byte hmt maps is a chunk
 * counted against the budget). Modes: single (one stream), threads (4 threads on 4 streams,
 * each also reading one shared buffer),
 * getproc (every driver call through cuGetProcAddress-resolved pointers), and negative
 * (HMT_TEST_SKIP_FAULTIN=1: the same workload must hit CUDA_ERROR_ILLEGAL_ADDRESS).
 * Usage: res_workload <mode>   (the parent runs itself as children; see res_common.h) */
#include <pthread.h>
#include "res_common.h"

#define BUDGET (16u * MIB)
#define NBUF 12                     /* 12 x 4 MiB = 48 MiB = 3x the budget */
#define BUF_BYTES (4u * MIB)
#define NFLOAT ((int)(BUF_BYTES / sizeof(float)))
#define ROUNDS 3

/* Driver entry points, plain or resolved through cuGetProcAddress. */
static CUresult (*p_alloc)(CUdeviceptr *, size_t);
static CUresult (*p_htod)(CUdeviceptr, const void *, size_t);
static CUresult (*p_dtoh)(void *, CUdeviceptr, size_t);
static CUresult (*p_launch)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                            unsigned, CUstream, void **, void **);
static CUresult (*p_sync)(CUstream);

#define CKC(call) do { CUresult r_ = (call); if (r_ != CUDA_SUCCESS) { \
        printf("error=%d at %s\n", (int)r_, #call); fflush(stdout); exit(2); } } while (0)

static void resolve(int getproc)
{
    p_alloc = cuMemAlloc_v2; p_htod = cuMemcpyHtoD_v2; p_dtoh = cuMemcpyDtoH_v2;
    p_launch = cuLaunchKernel; p_sync = cuStreamSynchronize;
    if (!getproc) return;
    CUdriverProcAddressQueryResult q;
    CK(cuGetProcAddress("cuMemAlloc", (void **)&p_alloc, 12000, 0, &q));
    CK(cuGetProcAddress("cuMemcpyHtoD", (void **)&p_htod, 12000, 0, &q));
    CK(cuGetProcAddress("cuMemcpyDtoH", (void **)&p_dtoh, 12000, 0, &q));
    CK(cuGetProcAddress("cuLaunchKernel", (void **)&p_launch, 12000, 0, &q));
    CK(cuGetProcAddress("cuStreamSynchronize", (void **)&p_sync, 12000, 0, &q));
    if (!p_alloc || !p_htod || !p_dtoh || !p_launch || !p_sync) FAIL("cuGetProcAddress gave NULL");
}

struct worker { CUcontext ctx; CUfunction f; CUdeviceptr *buf; int n; CUstream s; CUdeviceptr shared; };

static void *work(void *arg)
{
    struct worker *w = arg;
    CKC(cuCtxSetCurrent(w->ctx));
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < w->n; i++) {
            CUdeviceptr y = w->buf[(i + 1) % w->n], x = w->buf[i];
            float a = 0.5f + 0.125f * (float)r;
            int n = NFLOAT;
            void *p[4] = { &y, &x, &a, &n };
            CKC(p_launch(w->f, 1, 1, 1, 1, 1, 1, 0, w->s, p, NULL));
            if (w->shared && i % 3 == 0) {
                /* every thread also reads one shared buffer, on its own stream */
                CUdeviceptr xs = w->shared;
                float as = 0.0625f;
                void *ps[4] = { &y, &xs, &as, &n };
                CKC(p_launch(w->f, 1, 1, 1, 1, 1, 1, 0, w->s, ps, NULL));
            }
        }
    CKC(p_sync(w->s));
    return NULL;
}

static int child(const char *mode)
{
    int threads = !strcmp(mode, "threads") ? 4 : 1;
    resolve(!strcmp(mode, "getproc"));
    CUcontext ctx = res_init();
    CUmodule m = res_module();
    CUfunction f = res_func(m, "axpy");
    CUdeviceptr buf[NBUF];
    float *h = malloc(BUF_BYTES);
    for (int i = 0; i < NBUF; i++) {
        CKC(p_alloc(&buf[i], BUF_BYTES));
        res_pattern(h, (size_t)NFLOAT, (unsigned)i);
        CKC(p_htod(buf[i], h, BUF_BYTES));
    }
    struct worker w[4];
    pthread_t t[4];
    int per = NBUF / threads;
    CUdeviceptr shared = 0;
    if (threads > 1) {
        CKC(p_alloc(&shared, BUF_BYTES));
        res_pattern(h, (size_t)NFLOAT, 99);
        CKC(p_htod(shared, h, BUF_BYTES));
    }
    for (int k = 0; k < threads; k++) {
        w[k] = (struct worker){ ctx, f, &buf[k * per], per, NULL, shared };
        CKC(cuStreamCreate(&w[k].s, CU_STREAM_NON_BLOCKING));
        pthread_create(&t[k], NULL, work, &w[k]);
    }
    for (int k = 0; k < threads; k++) pthread_join(t[k], NULL);
    uint64_t hash = RES_FNV_INIT;
    for (int i = 0; i < NBUF; i++) {
        CKC(p_dtoh(h, buf[i], BUF_BYTES));
        hash = res_fnv(hash, h, BUF_BYTES);
    }
    free(h);
    size_t (*peak)(void) = (size_t (*)(void))res_sym("hmt_sim_peak_device_bytes");
    printf("hash=%016llx peak=%zu\n", (unsigned long long)hash, peak ? peak() : 0);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "child")) return child(argv[2]);
    const char *mode = argc > 1 ? argv[1] : "single";
    int negative = !strcmp(mode, "negative");
    const char *cmode = negative ? "single" : mode;
    char out0[512], out1[512], stats[256], env_stats[300], env_budget[64];
    snprintf(stats, sizeof stats, "/tmp/res_workload_%s_%d.json", mode, (int)getpid());
    snprintf(env_stats, sizeof env_stats, "HMT_STATS=%s", stats);
    snprintf(env_budget, sizeof env_budget, "HMT_HBM_LIMIT=%u", BUDGET);

    int rc = res_run_child(argv[0], cmode, 0, NULL, out0, sizeof out0);
    if (rc != 0) FAIL("run without hmt failed (%d): %s", rc, out0);

    const char *env[] = { env_budget, env_stats, negative ? "HMT_TEST_SKIP_FAULTIN=1" : NULL, NULL };
    rc = res_run_child(argv[0], cmode, 1, env, out1, sizeof out1);
    if (negative) {
        unlink(stats);
        if (rc == 2 && strstr(out1, "error=700")) { printf("negative control: %s", out1); return 0; }
        FAIL("skipping fault-in did not produce CUDA_ERROR_ILLEGAL_ADDRESS (rc %d): %s", rc, out1);
    }
    if (rc != 0) FAIL("run with hmt failed (%d): %s", rc, out1);
    unsigned long long h0, h1;
    size_t p0, p1;
    if (sscanf(out0, "hash=%llx peak=%zu", &h0, &p0) != 2 || sscanf(out1, "hash=%llx peak=%zu", &h1, &p1) != 2)
        FAIL("bad child output: '%s' / '%s'", out0, out1);
    double ev = res_stat(stats, "evictions"), fa = res_stat(stats, "faults");
    double peak_res = res_stat(stats, "peak_resident_bytes"), managed = res_stat(stats, "managed_bytes");
    double redirects = res_stat(stats, "door_getproc_redirects");
    unlink(stats);
    printf("%s: without hmt %016llx (sim peak %zu), with hmt %016llx (sim peak %zu, budget %u); "
           "evictions %.0f faults %.0f peak_resident %.0f managed %.0f\n",
           mode, h0, p0, h1, p1, BUDGET, ev, fa, peak_res, managed);
    if (h0 != h1) FAIL("results differ with hmt");
    if (ev <= 0 || fa <= 0) FAIL("no evictions/faults: the budget was not exercised");
    if (p1 > BUDGET) FAIL("sim peak device bytes %zu above the budget %u", p1, BUDGET);
    if (peak_res > BUDGET) FAIL("peak_resident_bytes above the budget");
    if (managed < 3.0 * BUDGET) FAIL("working set %.0f is not 3x the budget", managed);
    if (!strcmp(mode, "getproc") && redirects < 5)
        FAIL("cuGetProcAddress answered %.0f wrappers: the calls did not go through hmt", redirects);
    return 0;
}
