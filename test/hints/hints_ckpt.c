/* hints_ckpt.c — the real small checkpoint's weights uploaded to the simulated GPU the way
 * PyTorch does, under libhmt with hints from `hmt analyze`; checks that >= 99% of the weight
 * bytes end up tagged with the right tensor names, named the expected way, and that kernels
 * reading every tensor compute what the host computes from the checkpoint.
 *
 *   hints_ckpt check MODE CKPT HINTS LIBHMT SIMDIR KERNELS WORKDIR
 *     runs itself as the workload (`run`) under LD_PRELOAD=LIBHMT with the sim's
 *     libcuda.so.1 from SIMDIR, HMT_HINTS=HINTS, HMT_STATS, HMT_STATS_TENSORS=1, then reads
 *     the stats JSON and the workload's manifest (name, device address, bytes per upload).
 *   MODE
 *     alloc    one cuMemAlloc per tensor, synchronous copies from pageable memory (fp32)
 *     segment  20 MiB segments sub-allocated in 512-byte blocks like the caching allocator,
 *              async copies from pinned memory on a stream (fp32)
 *     bf16     cast to bf16 on the host, one allocation per tensor, async copies from pageable
 *     order    .to(bf16, non_blocking=True): bf16 destination, fp32 staging buffer, upload,
 *              cast kernel, staging freed — fingerprints cannot name the destination, so
 *              allocation order and size must
 *     unified  one allocation per tensor, uploaded with the unified-addressing cuMemcpy /
 *              cuMemcpyAsync (host source told apart by pointer attributes), alternating
 *     rank     alloc, with HMT_HINTS=.../hints.{rank}.json and RANK=5 (the file for rank 5)
 *     invalid  alloc with a truncated hints file: the job runs correctly (pass-through), hmt
 *              says so in exactly one line, stats say format "invalid" and name nothing
 *     flat     alloc with the seed's flat module map: runs, one warning line, names nothing
 *     strict   invalid file with HMT_STRICT=1: the process stops at load (exit 1, one line),
 *              before main runs
 * Tied tensors (lm_head.weight = transformer.wte.weight) are uploaded once, as PyTorch does;
 * the first name in state-dict order is the right one.
 */
#define _GNU_SOURCE
#include "ckpt.h"

#include <cuda.h>
#include <cjson/cJSON.h>
#include "hints_test.h"
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define DIE(...) do { fprintf(stderr, "hints_ckpt: " __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)

/* ---- workload ------------------------------------------------------------------------------ */

static struct {
    CUresult (*cuInit)(unsigned);
    CUresult (*cuDeviceGet)(CUdevice *, int);
    CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
    CUresult (*cuCtxSetCurrent)(CUcontext);
    CUresult (*cuCtxSynchronize)(void);
    CUresult (*cuMemAlloc_v2)(CUdeviceptr *, size_t);
    CUresult (*cuMemFree_v2)(CUdeviceptr);
    CUresult (*cuMemcpyHtoD_v2)(CUdeviceptr, const void *, size_t);
    CUresult (*cuMemcpyHtoDAsync_v2)(CUdeviceptr, const void *, size_t, CUstream);
    CUresult (*cuMemcpyDtoH_v2)(void *, CUdeviceptr, size_t);
    CUresult (*cuMemcpy)(CUdeviceptr, CUdeviceptr, size_t);
    CUresult (*cuMemcpyAsync)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
    CUresult (*cuMemHostAlloc)(void **, size_t, unsigned);
    CUresult (*cuMemFreeHost)(void *);
    CUresult (*cuStreamCreate)(CUstream *, unsigned);
    CUresult (*cuStreamSynchronize)(CUstream);
    CUresult (*cuModuleLoad)(CUmodule *, const char *);
    CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
    CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                               unsigned, unsigned, CUstream, void **, void **);
} cu;

#define CK(call) do { CUresult r_ = (call); if (r_ != CUDA_SUCCESS) DIE("%s failed: %d", #call, (int)r_); } while (0)

static void resolve(void)
{
    /* RTLD_DEFAULT after loading libcuda globally: a preloaded libhmt.so comes first, as for
     * a program linked against libcuda. */
    if (!dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL))
        DIE("cannot load libcuda.so.1: %s", dlerror());
#define R(n) do { *(void **)&cu.n = dlsym(RTLD_DEFAULT, #n); if (!cu.n) DIE("no %s", #n); } while (0)
    R(cuInit); R(cuDeviceGet); R(cuDevicePrimaryCtxRetain); R(cuCtxSetCurrent);
    R(cuCtxSynchronize); R(cuMemAlloc_v2); R(cuMemFree_v2); R(cuMemcpyHtoD_v2);
    R(cuMemcpyHtoDAsync_v2); R(cuMemcpyDtoH_v2); R(cuMemcpy); R(cuMemcpyAsync); R(cuMemHostAlloc); R(cuMemFreeHost);
    R(cuStreamCreate); R(cuStreamSynchronize); R(cuModuleLoad); R(cuModuleGetFunction);
    R(cuLaunchKernel);
#undef R
}

static uint64_t host_sum32(const void *p, size_t bytes)
{
    const uint32_t *w = p;
    uint64_t s = 0;
    for (size_t i = 0; i < bytes / 4; i++)
        s += (uint64_t)w[i] * (2 * i + 1);
    return s;
}

static void launch(CUfunction f, CUstream st, void *a, void *b, void *c)
{
    void *params[] = { a, b, c };
    CK(cu.cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, st, params, NULL));
}

static int run(const char *mode, const char *ckpt, const char *kernels, const char *manifest)
{
    char err[512];
    hmt_tensor_set *ws = NULL;
    if (hmt_weights_load(ckpt, &ws, err, sizeof err) != 0)
        DIE("%s", err);
    resolve();
    CUdevice dev;
    CUcontext ctx;
    CUstream st;
    CUmodule mod;
    CUfunction fsum, fcast;
    CK(cu.cuInit(0));
    CK(cu.cuDeviceGet(&dev, 0));
    CK(cu.cuDevicePrimaryCtxRetain(&ctx, dev));
    CK(cu.cuCtxSetCurrent(ctx));
    CK(cu.cuStreamCreate(&st, 0));
    CK(cu.cuModuleLoad(&mod, kernels));
    CK(cu.cuModuleGetFunction(&fsum, mod, "hints_sum32"));
    CK(cu.cuModuleGetFunction(&fcast, mod, "hints_f32_to_bf16"));

    int bf16 = !strcmp(mode, "bf16") || !strcmp(mode, "order");
    int segment = !strcmp(mode, "segment"), order = !strcmp(mode, "order");
    size_t n = ws->n;
    CUdeviceptr *dptr = calloc(n, sizeof *dptr);
    void **host = calloc(n, sizeof *host);       /* the bytes the device should hold */
    size_t *bytes = calloc(n, sizeof *bytes);
    int *up = calloc(n, sizeof *up);
    FILE *mf = fopen(manifest, "w");
    if (!mf)
        DIE("cannot write %s", manifest);

    /* pinned staging for the segment mode, like tensor.pin_memory() */
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += ws->t[i].numel * 4 + 512;
    char *pinned = NULL;
    size_t pin_off = 0;
    if (segment)
        CK(cu.cuMemHostAlloc((void **)&pinned, total, 0));
    CUdeviceptr seg = 0;
    size_t seg_off = 0;
    const size_t seg_size = 20u << 20;

    for (size_t i = 0; i < n; i++) {
        const hmt_tensor *t = &ws->t[i];
        int tied = 0;
        for (size_t j = 0; j < i; j++)
            tied |= up[j] && ws->t[j].data == t->data;
        if (tied)
            continue;               /* one parameter, uploaded once */
        up[i] = 1;
        bytes[i] = (size_t)t->numel * (bf16 ? 2 : 4);
        host[i] = malloc(bytes[i]);
        if (hmt_tensor_convert(t, bf16 ? HMT_DT_BF16 : HMT_DT_F32, host[i]) != 0)
            DIE("cannot convert %s", t->name);
        if (segment) {
            size_t blk = (bytes[i] + 511) / 512 * 512;
            if (!seg || seg_off + blk > seg_size) {
                CK(cu.cuMemAlloc_v2(&seg, seg_size));
                seg_off = 0;
            }
            dptr[i] = seg + seg_off;
            seg_off += blk;
            memcpy(pinned + pin_off, host[i], bytes[i]);
            CK(cu.cuMemcpyHtoDAsync_v2(dptr[i], pinned + pin_off, bytes[i], st));
            pin_off += (bytes[i] + 511) / 512 * 512;
        } else if (order) {
            CUdeviceptr tmp;
            size_t tb = (size_t)t->numel * 4;
            void *f32 = malloc(tb);
            uint64_t ne = (uint64_t)t->numel;
            CK(cu.cuMemAlloc_v2(&dptr[i], bytes[i]));
            CK(cu.cuMemAlloc_v2(&tmp, tb));
            hmt_tensor_convert(t, HMT_DT_F32, f32);
            CK(cu.cuMemcpyHtoDAsync_v2(tmp, f32, tb, st));
            launch(fcast, st, &tmp, &dptr[i], &ne);
            CK(cu.cuStreamSynchronize(st));
            CK(cu.cuMemFree_v2(tmp));
            free(f32);
        } else if (!strcmp(mode, "unified")) {
            CK(cu.cuMemAlloc_v2(&dptr[i], bytes[i]));
            if (i % 2)
                CK(cu.cuMemcpyAsync(dptr[i], (CUdeviceptr)(uintptr_t)host[i], bytes[i], st));
            else
                CK(cu.cuMemcpy(dptr[i], (CUdeviceptr)(uintptr_t)host[i], bytes[i]));
        } else {
            CK(cu.cuMemAlloc_v2(&dptr[i], bytes[i]));
            if (bf16)
                CK(cu.cuMemcpyHtoDAsync_v2(dptr[i], host[i], bytes[i], st));
            else
                CK(cu.cuMemcpyHtoD_v2(dptr[i], host[i], bytes[i]));
        }
        fprintf(mf, "%s 0x%llx %zu\n", t->name, (unsigned long long)dptr[i], bytes[i]);
    }
    fclose(mf);
    CK(cu.cuStreamSynchronize(st));

    /* every tensor read by a kernel; results against the host's */
    CUdeviceptr out;
    CK(cu.cuMemAlloc_v2(&out, n * 8));
    for (size_t i = 0; i < n; i++) {
        if (!up[i])
            continue;
        uint64_t words = bytes[i] / 4;
        CUdeviceptr o = out + i * 8;
        launch(fsum, st, &dptr[i], &words, &o);
    }
    CK(cu.cuStreamSynchronize(st));
    uint64_t *res = calloc(n, 8);
    CK(cu.cuMemcpyDtoH_v2(res, out, n * 8));
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        if (up[i] && res[i] != host_sum32(host[i], bytes[i])) {
            fprintf(stderr, "hints_ckpt: %s: device checksum %" PRIx64 " != host %" PRIx64 "\n",
                    ws->t[i].name, res[i], host_sum32(host[i], bytes[i]));
            bad++;
        }
    if (pinned)
        cu.cuMemFreeHost(pinned);
    hmt_weights_free(ws);
    return bad ? 1 : 0;
}

/* ---- checker ------------------------------------------------------------------------------- */

static int check(int argc, char **argv)
{
    if (argc < 9)
        DIE("usage: hints_ckpt check MODE CKPT HINTS LIBHMT SIMDIR KERNELS WORKDIR");
    const char *mode = argv[2], *ckpt = argv[3], *hints = argv[4], *libhmt = argv[5];
    char cmd[1024];
    const char *simdir = argv[6], *kernels = argv[7], *dir = argv[8];
    char stats[512], manifest[512];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    if (system(cmd) != 0)
        return 1;
    snprintf(stats, sizeof stats, "%s/stats.json", dir);
    snprintf(manifest, sizeof manifest, "%s/manifest.txt", dir);
    unlink(stats);

    unlink(manifest);
    char errfile[512], file[600];
    snprintf(errfile, sizeof errfile, "%s/stderr.txt", dir);
    const char *workload = mode;
    if (!strcmp(mode, "rank")) {          /* the file for rank 5, named through {rank} */
        snprintf(file, sizeof file, "%s/hints.5.json", dir);
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", hints, file);
        if (system(cmd) != 0)
            return 1;
        snprintf(file, sizeof file, "%s/hints.{rank}.json", dir);
        hints = file;
        workload = "alloc";
    } else if (!strcmp(mode, "invalid") || !strcmp(mode, "strict") || !strcmp(mode, "flat")) {
        snprintf(file, sizeof file, "%s/hints.json", dir);
        FILE *f = fopen(file, "w");
        fputs(!strcmp(mode, "flat") ? "{\"transformer.h.0.mlp\": \"CPU\", \"transformer.h.1.attn\": \"SSD\"}"
                                    : "{\"format\": \"hmt-tier-hints\", \"version\": 1, \"tensors\": [",
              f);
        fclose(f);
        hints = file;
        workload = "alloc";
    }
    pid_t pid = fork();
    if (pid == 0) {
        setenv("LD_PRELOAD", libhmt, 1);
        setenv("LD_LIBRARY_PATH", simdir, 1);
        setenv("HMT_HINTS", hints, 1);
        setenv("HMT_STATS", stats, 1);
        setenv("HMT_STATS_TENSORS", "1", 1);
        setenv("RANK", "5", 1);
        setenv("LOCAL_RANK", "1", 1);
        if (!strcmp(mode, "strict"))
            setenv("HMT_STRICT", "1", 1);
        if (!freopen(errfile, "w", stderr))
            _exit(126);
        execl("/proc/self/exe", argv[0], "run", workload, ckpt, kernels, manifest, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    /* what the workload said on stderr: echoed, and its hmt lines counted */
    int hmt_lines = 0;
    FILE *ef = fopen(errfile, "r");
    char line[1024];
    while (ef && fgets(line, sizeof line, ef)) {
        fputs(line, stderr);
        hmt_lines += !strncmp(line, "hmt", 3);
    }
    if (ef)
        fclose(ef);
    if (!strcmp(mode, "strict")) {
        int ok = WIFEXITED(status) && WEXITSTATUS(status) == 1 && hmt_lines == 1 && access(manifest, F_OK) != 0;
        printf("hints_ckpt strict: exit status %d, %d hmt line(s), main %s\n",
               WIFEXITED(status) ? WEXITSTATUS(status) : -1, hmt_lines,
               access(manifest, F_OK) ? "never ran" : "ran");
        return ok ? 0 : 1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "hints_ckpt: workload failed (status %#x)\n", status);
        return 1;
    }
    if (!strcmp(mode, "invalid") || !strcmp(mode, "flat")) {
        cJSON *root = read_json(stats);
        const cJSON *h = root ? cJSON_GetObjectItemCaseSensitive(root, "hints") : NULL;
        const cJSON *fmt = h ? cJSON_GetObjectItemCaseSensitive(h, "format") : NULL;
        const cJSON *tagged = h ? cJSON_GetObjectItemCaseSensitive(h, "tagged_tensors") : NULL;
        const char *want_fmt = !strcmp(mode, "flat") ? "flat" : "invalid";
        int ok = hmt_lines == 1 && cJSON_IsString(fmt) && !strcmp(fmt->valuestring, want_fmt) &&
                 cJSON_IsNumber(tagged) && tagged->valuedouble == 0;
        printf("hints_ckpt %s: the job ran and its kernels agree with the host; %d hmt line(s); "
               "stats format %s, %g tensors tagged\n", mode, hmt_lines,
               cJSON_IsString(fmt) ? fmt->valuestring : "?", cJSON_IsNumber(tagged) ? tagged->valuedouble : -1);
        cJSON_Delete(root);
        return ok ? 0 : 1;
    }
    cJSON *root = read_json(stats);
    const cJSON *h = root ? cJSON_GetObjectItemCaseSensitive(root, "hints") : NULL;
    const cJSON *arr = h ? cJSON_GetObjectItemCaseSensitive(h, "tensors") : NULL;
    if (!cJSON_IsArray(arr)) {
        fprintf(stderr, "hints_ckpt: %s has no hints.tensors array\n", stats);
        return 1;
    }
    const char *want = !strcmp(mode, "order") ? "order" : "fingerprint";
    if (hmt_lines) {
        fprintf(stderr, "hints_ckpt: hmt said something on a clean run\n");
        return 1;
    }
    FILE *mf = fopen(manifest, "r");
    if (!mf)
        DIE("no manifest %s", manifest);
    char name[256], addr[64];
    size_t b, total = 0, ok = 0, ntensors = 0, nok = 0;
    while (fscanf(mf, "%255s %63s %zu", name, addr, &b) == 3) {
        total += b;
        ntensors++;
        int good = 0;
        for (const cJSON *x = arr->child; x; x = x->next) {
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(x, "name");
            if (!cJSON_IsString(nm) || strcmp(nm->valuestring, name))
                continue;
            const cJSON *how = cJSON_GetObjectItemCaseSensitive(x, "named");
            const cJSON *a = cJSON_GetObjectItemCaseSensitive(x, "addr");
            const cJSON *by = cJSON_GetObjectItemCaseSensitive(x, "bytes");
            good = cJSON_IsString(how) && !strcmp(how->valuestring, want) && cJSON_IsString(a) &&
                   strtoull(a->valuestring, NULL, 16) == strtoull(addr, NULL, 16) &&
                   cJSON_IsNumber(by) && (size_t)by->valuedouble == b;
            if (!good)
                fprintf(stderr, "hints_ckpt: %s at %s (%zu bytes): stats say named %s at %s, %g bytes\n",
                        name, addr, b, cJSON_IsString(how) ? how->valuestring : "?",
                        cJSON_IsString(a) ? a->valuestring : "?", cJSON_IsNumber(by) ? by->valuedouble : -1);
        }
        if (good) {
            ok += b;
            nok++;
        }
    }
    fclose(mf);
    printf("hints_ckpt %s: %zu/%zu tensors, %zu/%zu bytes (%.2f%%) tagged by %s with the right names; "
           "tagged_by_fingerprint %g, tagged_by_order %g, untagged_bytes %g\n", mode, nok, ntensors,
           ok, total, total ? 100.0 * (double)ok / (double)total : 0.0, want,
           cJSON_GetObjectItemCaseSensitive(h, "tagged_by_fingerprint")->valuedouble,
           cJSON_GetObjectItemCaseSensitive(h, "tagged_by_order")->valuedouble,
           cJSON_GetObjectItemCaseSensitive(h, "untagged_bytes")->valuedouble);
    cJSON_Delete(root);
    return total && ok * 100 >= total * 99 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc >= 6 && !strcmp(argv[1], "run"))
        return run(argv[2], argv[3], argv[4], argv[5]);
    if (argc >= 2 && !strcmp(argv[1], "check"))
        return check(argc, argv);
    fprintf(stderr, "usage: hints_ckpt check|run ...\n");
    return 1;
}
