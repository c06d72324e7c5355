/* hints_place.c — placement by hinted tier on the simulated GPU: the small real checkpoint,
 * one cuMemAlloc per tensor (so each tensor has chunks of its own), uploaded in fp32, then
 * three "forward passes" of kernels reading every tensor in state-dict order.
 *
 * Checks, under libhmt with hints from `hmt analyze` (HBM 30% / CPU 50% / rest SSD by bytes):
 *   - after every pass, the sim's physical device bytes are at most the HBM-tier tensors'
 *     chunks + the output buffer + the staging window (HMT_STAGING, default twice the largest
 *     cold tensor in chunks plus one): CPU/SSD-tier tensors are off the GPU between uses;
 *     the test also checks that keeping every tensor resident would exceed that bound, so
 *     the check can fail;
 *   - every kernel result is bitwise equal to the same program's results without hmt;
 *   - HMT_STATS shows CPU/SSD-tier evictions and faults.
 * `staging`: the same with HMT_STAGING=4 MiB (two chunks) instead of the default window.
 * `limit`: the same with HMT_HBM_LIMIT=32 MiB, below the HBM-tier tensors' own chunks: the
 * cap still holds (device bytes <= the limit), HBM-tier chunks get evicted too, results equal.
 * `control`: the same with HMT_TEST_SKIP_FAULTIN=1 (hmt never faults in): the workload must
 * hit CUDA_ERROR_ILLEGAL_ADDRESS, proving the checks above depend on hmt's fault-in.
 *
 *   hints_place check|staging|limit|control CKPT HINTS LIBHMT SIMDIR KERNELS WORKDIR
 */
#define _GNU_SOURCE
#include "ckpt.h"

#include <cuda.h>
#include <cjson/cJSON.h>
#include "hints_test.h"
#include <dlfcn.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define DIE(code, ...) do { fprintf(stderr, "hints_place: " __VA_ARGS__); fputc('\n', stderr); exit(code); } while (0)
#define EXIT_CUDA 3      /* a driver call failed (the control expects ILLEGAL_ADDRESS here) */
#define EXIT_BOUND 2     /* cold tensors stayed on the GPU */

static struct {
    CUresult (*cuInit)(unsigned);
    CUresult (*cuDeviceGet)(CUdevice *, int);
    CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
    CUresult (*cuCtxSetCurrent)(CUcontext);
    CUresult (*cuMemAlloc_v2)(CUdeviceptr *, size_t);
    CUresult (*cuMemcpyHtoD_v2)(CUdeviceptr, const void *, size_t);
    CUresult (*cuMemcpyDtoH_v2)(void *, CUdeviceptr, size_t);
    CUresult (*cuStreamCreate)(CUstream *, unsigned);
    CUresult (*cuStreamSynchronize)(CUstream);
    CUresult (*cuModuleLoad)(CUmodule *, const char *);
    CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
    CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                               unsigned, unsigned, CUstream, void **, void **);
    CUresult (*cuMemGetAllocationGranularity)(size_t *, const CUmemAllocationProp *,
                                              CUmemAllocationGranularity_flags);
    size_t (*hmt_sim_device_bytes)(void);
} cu;

#define CK(call) do { CUresult r_ = (call); if (r_ != CUDA_SUCCESS) \
        DIE(EXIT_CUDA, "%s failed: %d", #call, (int)r_); } while (0)

static void resolve(void)
{
    if (!dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL))
        DIE(1, "cannot load libcuda.so.1: %s", dlerror());
#define R(n) do { *(void **)&cu.n = dlsym(RTLD_DEFAULT, #n); if (!cu.n) DIE(1, "no %s", #n); } while (0)
    R(cuInit); R(cuDeviceGet); R(cuDevicePrimaryCtxRetain); R(cuCtxSetCurrent);
    R(cuMemAlloc_v2); R(cuMemcpyHtoD_v2); R(cuMemcpyDtoH_v2); R(cuStreamCreate);
    R(cuStreamSynchronize); R(cuModuleLoad); R(cuModuleGetFunction); R(cuLaunchKernel);
    R(cuMemGetAllocationGranularity); R(hmt_sim_device_bytes);
#undef R
}

/* Tier name of tensor `name` in the hints file ("HBM" when not listed). */
static const char *tier_of(const cJSON *hints, const char *name)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(hints, "tensors");
    for (const cJSON *t = arr ? arr->child : NULL; t; t = t->next) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(t, "name");
        if (cJSON_IsString(n) && !strcmp(n->valuestring, name))
            return cJSON_GetObjectItemCaseSensitive(t, "tier")->valuestring;
    }
    return "HBM";
}

/* run CKPT HINTS KERNELS OUT BOUND(0|1) */
static int run(char **argv)
{
    const char *ckpt = argv[2], *hints_path = argv[3], *kernels = argv[4], *out_path = argv[5];
    int bound = atoi(argv[6]);
    char err[512];
    hmt_tensor_set *ws = NULL;
    if (hmt_weights_load(ckpt, &ws, err, sizeof err) != 0)
        DIE(1, "%s", err);
    cJSON *hints = read_json(hints_path);
    if (!hints)
        DIE(1, "cannot read %s", hints_path);
    resolve();
    CUdevice dev;
    CUcontext ctx;
    CUstream st;
    CUmodule mod;
    CUfunction fsum;
    CK(cu.cuInit(0));
    CK(cu.cuDeviceGet(&dev, 0));
    CK(cu.cuDevicePrimaryCtxRetain(&ctx, dev));
    CK(cu.cuCtxSetCurrent(ctx));
    CK(cu.cuStreamCreate(&st, 0));
    CK(cu.cuModuleLoad(&mod, kernels));
    CK(cu.cuModuleGetFunction(&fsum, mod, "hints_sum32"));
    CUmemAllocationProp prop = { 0 };
    prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    prop.location.id = dev;
    size_t chunk = 0;
    CK(cu.cuMemGetAllocationGranularity(&chunk, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM));

    size_t n = ws->n, hot_chunks = 0, cold_chunks = 0, largest_cold = 0;
    CUdeviceptr *d = calloc(n, sizeof *d);
    int *up = calloc(n, sizeof *up);
    for (size_t i = 0; i < n; i++) {
        const hmt_tensor *t = &ws->t[i];
        int tied = 0;
        for (size_t j = 0; j < i; j++)
            tied |= up[j] && ws->t[j].data == t->data;
        if (tied)
            continue;
        up[i] = 1;
        void *f32 = malloc(t->numel * 4);
        hmt_tensor_convert(t, HMT_DT_F32, f32);
        CK(cu.cuMemAlloc_v2(&d[i], (size_t)t->numel * 4));
        CK(cu.cuMemcpyHtoD_v2(d[i], f32, (size_t)t->numel * 4));
        free(f32);
        size_t chunks = ((size_t)t->numel * 4 + chunk - 1) / chunk;
        if (!strcmp(tier_of(hints, t->name), "HBM")) {
            hot_chunks += chunks;
        } else {
            cold_chunks += chunks;
            if ((size_t)t->numel * 4 > largest_cold)
                largest_cold = (size_t)t->numel * 4;
        }
    }
    CUdeviceptr out;
    CK(cu.cuMemAlloc_v2(&out, n * 8));
    const char *staging = getenv("HMT_STAGING");
    size_t window = staging && *staging ? strtoull(staging, NULL, 0)
                                        : 2 * ((largest_cold + chunk - 1) / chunk + 1) * chunk;
    if (window < 2 * chunk)
        window = 2 * chunk;
    size_t limit = (hot_chunks + (n * 8 + chunk - 1) / chunk) * chunk + window;
    const char *cap = getenv("HMT_HBM_LIMIT");
    if (cap && *cap && strtoull(cap, NULL, 0) < limit)
        limit = strtoull(cap, NULL, 0);
    size_t all = (hot_chunks + cold_chunks + (n * 8 + chunk - 1) / chunk) * chunk;
    if (bound && all <= limit)
        DIE(1, "test cannot fail: every tensor resident (%zu bytes) is within the bound (%zu)", all, limit);

    uint64_t *res = calloc(n, 8);
    FILE *of = fopen(out_path, "w");
    if (!of)
        DIE(1, "cannot write %s", out_path);
    for (int pass = 0; pass < 3; pass++) {
        for (size_t i = 0; i < n; i++) {
            if (!up[i])
                continue;
            uint64_t words = (uint64_t)ws->t[i].numel;
            CUdeviceptr o = out + i * 8;
            void *params[] = { &d[i], &words, &o };
            CK(cu.cuLaunchKernel(fsum, 1, 1, 1, 1, 1, 1, 0, st, params, NULL));
        }
        CK(cu.cuStreamSynchronize(st));
        CK(cu.cuMemcpyDtoH_v2(res, out, n * 8));
        for (size_t i = 0; i < n; i++)
            if (up[i])
                fprintf(of, "%d %s %016" PRIx64 "\n", pass, ws->t[i].name, res[i]);
        size_t now = cu.hmt_sim_device_bytes();
        printf("hints_place: pass %d: device bytes %zu (bound %zu, all resident %zu; hot chunks %zu, "
               "cold chunks %zu, window %zu)\n", pass, now, limit, all, hot_chunks, cold_chunks, window);
        if (bound && now > limit) {
            fclose(of);
            DIE(EXIT_BOUND, "pass %d: %zu device bytes > %zu: cold tensors stayed on the GPU", pass, now, limit);
        }
    }
    fclose(of);
    free(res);
    free(up);
    free(d);
    cJSON_Delete(hints);
    hmt_weights_free(ws);
    return 0;
}

static int spawn(char **argv, const char *libhmt, const char *simdir, const char *hints,
                 const char *stats, const char *what, const char *out, int bound)
{
    pid_t pid = fork();
    if (pid == 0) {
        setenv("LD_LIBRARY_PATH", simdir, 1);
        if (libhmt) {
            setenv("LD_PRELOAD", libhmt, 1);
            setenv("HMT_HINTS", hints, 1);
            setenv("HMT_STATS", stats, 1);
            setenv("HMT_STATS_TENSORS", "1", 1);
            if (!strcmp(what, "control"))
                setenv("HMT_TEST_SKIP_FAULTIN", "1", 1);
            if (!strcmp(what, "staging"))
                setenv("HMT_STAGING", "4194304", 1);
            if (!strcmp(what, "limit"))
                setenv("HMT_HBM_LIMIT", "33554432", 1);
        }
        execl("/proc/self/exe", argv[0], "run", argv[2], hints, argv[6], out, bound ? "1" : "0",
              (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "r"), *fb = fopen(b, "r");
    int same = fa && fb, ca, cb, lines = 0;
    while (same) {
        ca = fgetc(fa);
        cb = fgetc(fb);
        same = ca == cb;
        lines += ca == '\n';
        if (ca == EOF)
            break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same && lines > 0;
}

int main(int argc, char **argv)
{
    if (argc >= 7 && !strcmp(argv[1], "run"))
        return run(argv);
    const char *what = argv[1];
    if (argc < 8 || (strcmp(what, "check") && strcmp(what, "control") && strcmp(what, "staging") &&
                     strcmp(what, "limit")))
        DIE(1, "usage: hints_place check|staging|limit|control CKPT HINTS LIBHMT SIMDIR KERNELS WORKDIR");
    const char *hints = argv[3], *libhmt = argv[4], *simdir = argv[5], *dir = argv[7];
    char cmd[1024], base[512], with[512], stats[512];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    if (system(cmd) != 0)
        return 1;
    snprintf(base, sizeof base, "%s/results-without-hmt.txt", dir);
    snprintf(with, sizeof with, "%s/results-with-hmt.txt", dir);
    snprintf(stats, sizeof stats, "%s/stats.json", dir);

    if (!strcmp(argv[1], "control")) {
        int rc = spawn(argv, libhmt, simdir, hints, stats, what, with, 0);
        if (rc == EXIT_CUDA) {
            printf("hints_place control: without fault-in the workload fails on the device, as it must\n");
            return 0;
        }
        fprintf(stderr, "hints_place control: workload exit %d, expected a driver error (%d)\n", rc, EXIT_CUDA);
        return 1;
    }
    int rc = spawn(argv, NULL, simdir, hints, stats, what, base, 0);
    if (rc) {
        fprintf(stderr, "hints_place: run without hmt failed (%d)\n", rc);
        return 1;
    }
    rc = spawn(argv, libhmt, simdir, hints, stats, what, with, 1);
    if (rc) {
        fprintf(stderr, "hints_place: run with hmt failed (%d)\n", rc);
        return 1;
    }
    if (!same_file(base, with)) {
        fprintf(stderr, "hints_place: results differ from the run without hmt (%s vs %s)\n", with, base);
        return 1;
    }
    cJSON *root = read_json(stats);
    const cJSON *tiers = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "hints"), "tiers");
    double ev = 0, faults = 0;
    for (const char *t = "CPU"; t; t = strcmp(t, "CPU") ? NULL : "SSD") {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(tiers, t);
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(x, "evicted_bytes");
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(x, "faults");
        ev += cJSON_IsNumber(e) ? e->valuedouble : 0;
        faults += cJSON_IsNumber(f) ? f->valuedouble : 0;
    }
    cJSON_Delete(root);
    printf("hints_place: results equal to the run without hmt; CPU+SSD tensors evicted %.0f bytes, "
           "faulted in %.0f times\n", ev, faults);
    if (ev <= 0 || faults <= 0) {
        fprintf(stderr, "hints_place: %s shows no CPU/SSD-tier evictions or faults\n", stats);
        return 1;
    }
    return 0;
}
