/* res_common.h — what the residency tests share: checks, the sim's test-only entry points
 * (looked up at run time so a test skips on a real driver), context + module set-up, and a
 * host reference that runs the very same kernel functions on host memory. */
#ifndef RES_COMMON_H
#define RES_COMMON_H

#define _GNU_SOURCE
#include <cuda.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hmt_sim.h"

#define MIB (1024u * 1024u)

#define FAIL(...) do { fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
        fprintf(stderr, __VA_ARGS__); fprintf(stderr, "\n"); exit(1); } while (0)
#define CK(call) do { CUresult r_ = (call); if (r_ != CUDA_SUCCESS) \
        FAIL("%s -> %d", #call, (int)r_); } while (0)
#define SKIP(...) do { fprintf(stderr, "SKIP: "); fprintf(stderr, __VA_ARGS__); \
        fprintf(stderr, "\n"); exit(77); } while (0)

static inline void *res_sym(const char *name) { return dlsym(RTLD_DEFAULT, name); }

static inline size_t res_sim_peak(void)
{
    size_t (*f)(void) = (size_t (*)(void))res_sym("hmt_sim_peak_device_bytes");
    if (!f) SKIP("not on the sim");
    return f();
}
static inline size_t res_sim_bytes(void)
{
    size_t (*f)(void) = (size_t (*)(void))res_sym("hmt_sim_device_bytes");
    if (!f) SKIP("not on the sim");
    return f();
}
static inline int res_sim_illegal(void)
{
    int (*f)(void) = (int (*)(void))res_sym("hmt_sim_illegal_address");
    if (!f) SKIP("not on the sim");
    return f();
}
static inline int res_sim_fail_nth(const char *name, unsigned n, int result)
{
    int (*f)(const char *, unsigned, int) = (int (*)(const char *, unsigned, int))res_sym("hmt_sim_fail_nth");
    if (!f) SKIP("not on the sim");
    return f(name, n, result);
}
/* 1 when libhmt.so is loaded and engaged (the test was started with a budget). */
static inline int res_hmt_loaded(void) { return res_sym("hmt_instance") != NULL || res_sym("cuGetProcAddress") != NULL; }

static inline uint64_t res_env_size(const char *name)
{
    const char *s = getenv(name);
    if (!s || !*s) return 0;
    char *end;
    double v = strtod(s, &end);
    switch (*end) {
    case 'K': case 'k': v *= 1024.0; break;
    case 'M': case 'm': v *= 1024.0 * 1024; break;
    case 'G': case 'g': v *= 1024.0 * 1024 * 1024; break;
    default: break;
    }
    return (uint64_t)v;
}

static inline CUcontext res_init(void)
{
    CK(cuInit(0));
    CUdevice dev;
    CK(cuDeviceGet(&dev, 0));
    CUcontext ctx;
    CK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CK(cuCtxSetCurrent(ctx));
    return ctx;
}

static inline CUmodule res_module(void)
{
    CUmodule m;
    CK(cuModuleLoad(&m, RES_KERNELS_PATH));
    return m;
}

static inline CUfunction res_func(CUmodule m, const char *name)
{
    CUfunction f;
    CK(cuModuleGetFunction(&f, m, name));
    return f;
}

/* The host reference: the same kernel function from the same .so, run on host memory.
 * Not thread-safe on first use: call it once before starting threads. */
static inline hmt_sim_kernel_fn res_host_kernel(const char *name)
{
    static void *h;
    if (!h) h = dlopen(RES_KERNELS_PATH, RTLD_NOW | RTLD_LOCAL);
    if (!h) FAIL("dlopen %s: %s", RES_KERNELS_PATH, dlerror());
    const hmt_sim_kernel_desc *t = dlsym(h, HMT_SIM_KERNEL_TABLE);
    for (; t && t->name; t++)
        if (!strcmp(t->name, name)) return t->fn;
    FAIL("no host kernel %s", name);
}

static inline void res_host_axpy(float *y, const float *x, float a, int n)
{
    void *p[4] = { &y, &x, &a, &n };
    hmt_sim_launch l = { { 1, 1, 1 }, { 1, 1, 1 }, 0, NULL };
    res_host_kernel("axpy")(&l, p);
}

static inline CUresult res_axpy(CUfunction f, CUstream s, CUdeviceptr y, CUdeviceptr x, float a, int n)
{
    void *p[4] = { &y, &x, &a, &n };
    return cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, s, p, NULL);
}

static inline void res_pattern(float *h, size_t n, unsigned seed)
{
    uint32_t v = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        v = v * 1664525u + 1013904223u;
        h[i] = (float)(v >> 8) / (float)(1u << 24) - 0.5f;
    }
}

/* ---- running a test body in a child, with or without hmt --------------------------------
 * hmt's counters are written at exit (HMT_STATS), and "bitwise equal to a run without hmt"
 * needs a run without it: so a test's parent runs its own binary as a child twice and
 * compares. The child's first stdout line comes back in `out`. */
#include <sys/wait.h>
#include <unistd.h>
#include <cjson/cJSON.h>

static inline int res_run_child(char *self, const char *mode, int with_hmt, const char *const *env,
                                char *out, size_t outsz)
{
    int fd[2];
    if (pipe(fd)) FAIL("pipe");
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) FAIL("fork");
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]); close(fd[1]);
        unsetenv("HMT_HBM_LIMIT");
        unsetenv("HMT_STATS");
        unsetenv("HMT_TEST_SKIP_FAULTIN");
        unsetenv("HMT_TEST_SKIP_FENCES");
        if (with_hmt) setenv("LD_PRELOAD", RES_HMT_PATH, 1); else unsetenv("LD_PRELOAD");
        for (int i = 0; env && env[i]; i++) putenv((char *)env[i]);
        char *argv[] = { self, "child", (char *)mode, NULL };
        execv(self, argv);
        _exit(127);
    }
    close(fd[1]);
    size_t n = 0;
    ssize_t k;
    while (n + 1 < outsz && (k = read(fd[0], out + n, outsz - 1 - n)) > 0) n += (size_t)k;
    out[n] = 0;
    char sink[256];
    while (read(fd[0], sink, sizeof sink) > 0) {}
    close(fd[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* A number from the HMT_STATS JSON at path; -1 when absent. */
static inline double res_stat(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    cJSON *root = cJSON_Parse(buf);
    cJSON *it = root ? cJSON_GetObjectItemCaseSensitive(root, key) : NULL;
    double v = cJSON_IsNumber(it) ? it->valuedouble : -1;
    cJSON_Delete(root);
    return v;
}

static inline uint64_t res_fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) { h ^= b[i]; h *= 1099511628211ull; }
    return h;
}
#define RES_FNV_INIT 1469598103934665603ull

/* main() of a test whose body runs with hmt and a budget: the parent runs itself as a child
 * with LD_PRELOAD=libhmt.so and HMT_HBM_LIMIT=budget and passes its exit status on. */
static inline int res_main_with_hmt(int argc, char **argv, const char *budget, int (*body)(void))
{
    if (argc >= 2 && !strcmp(argv[1], "child")) return body();
    char env_b[64];
    snprintf(env_b, sizeof env_b, "HMT_HBM_LIMIT=%s", budget);
    const char *env[] = { env_b, NULL };
    static char out[8192];
    int rc = res_run_child(argv[0], "body", 1, env, out, sizeof out);
    fputs(out, stdout);
    return rc;
}

/* Fills [d, d+bytes) with the pattern of `seed` through a host buffer. */
static inline void res_put(CUdeviceptr d, size_t bytes, unsigned seed, float *mirror)
{
    res_pattern(mirror, bytes / sizeof(float), seed);
    CK(cuMemcpyHtoD(d, mirror, bytes));
}

/* Compares device bytes with the host mirror. */
static inline void res_expect(CUdeviceptr d, const void *mirror, size_t bytes, const char *what)
{
    void *h = malloc(bytes);
    CK(cuMemcpyDtoH(h, d, bytes));
    if (memcmp(h, mirror, bytes)) FAIL("%s: device bytes differ from the expected", what);
    free(h);
}
#endif
