/* res_refs — references a launch must see, each a case hmt once got wrong (budget 8 MiB, an
 * 8 MiB evictor z pushes everything else out before each launch):
 *   packed        a pointer at a 4-byte offset in a by-value packed struct; missed by an
 *                 8-byte-aligned scan, the kernel wrote through an evicted VA (700); and a
 *                 pointer passed as two adjacent 32-bit parameters (lo, hi)
 *   graph_update  a kernel node re-pointed from a (4 MiB) to b (6 MiB) with
 *                 cuGraphExecKernelNodeSetParams / cuGraphExecNodeSetParams: the launch needs
 *                 b only; keeping a's reference too (a union) failed with OUT_OF_MEMORY
 *   tag_reuse     hints tag a 2 MiB tensor at the start of an 8 MiB block; the program
 *                 memsets the whole block (caching-allocator reuse) and launches over all of
 *                 it from the base: a surviving tag narrowed the launch to 2 MiB (700)
 * Each mode checks every byte against a host mirror and that the sim saw no illegal access. */
#include <xxhash.h>
#include "res_common.h"

#define N6 (6 * MIB / 4)
static CUdeviceptr z;
static void evict_all(void) { CK(cuMemsetD8(z, 0x5a, 8 * MIB)); }

static void expect_value(CUdeviceptr d, size_t n, float v, const char *what)
{
    float *h = malloc(n * 4);
    for (size_t i = 0; i < n; i++) h[i] = v;
    res_expect(d, h, n * 4, what);
    free(h);
}

static int packed(CUmodule m)
{
    struct __attribute__((packed, aligned(4))) { int n; CUdeviceptr y; } arg;
    CUdeviceptr y;
    CK(cuMemAlloc(&y, 6 * MIB));
    CK(cuMemsetD32(y, 0, N6));
    evict_all();
    arg.n = (int)N6; arg.y = y;
    float v = 3.0f;
    void *p[2] = { &arg, &v };
    CK(cuLaunchKernel(res_func(m, "packed_fill"), 1, 1, 1, 1, 1, 1, 0, NULL, p, NULL));
    CK(cuCtxSynchronize());
    evict_all();
    expect_value(y, N6, 3.0f, "packed struct, kernelParams");
    /* the same through `extra` (one packed buffer) */
    unsigned char buf[16];
    size_t sz = sizeof buf;
    v = 4.0f;
    memcpy(buf, &arg, 12); memcpy(buf + 12, &v, 4);
    evict_all();                                  /* the check above brought y back */
    void *extra[] = { CU_LAUNCH_PARAM_BUFFER_POINTER, buf, CU_LAUNCH_PARAM_BUFFER_SIZE, &sz, CU_LAUNCH_PARAM_END };
    CK(cuLaunchKernel(res_func(m, "packed_fill"), 1, 1, 1, 1, 1, 1, 0, NULL, NULL, extra));
    CK(cuCtxSynchronize());
    evict_all();
    expect_value(y, N6, 4.0f, "packed struct, extra");
    /* lo and hi halves as two parameters: only a scan of the laid-out buffer sees them */
    unsigned lo = (unsigned)y, hi = (unsigned)(y >> 32);
    int n = (int)N6;
    v = 6.0f;
    evict_all();                                  /* the check above brought y back */
    void *p2[4] = { &lo, &hi, &v, &n };
    CK(cuLaunchKernel(res_func(m, "split_fill"), 1, 1, 1, 1, 1, 1, 0, NULL, p2, NULL));
    CK(cuCtxSynchronize());
    evict_all();
    expect_value(y, N6, 6.0f, "pointer in two 32-bit parameters");
    return 0;
}

static int graph_update(CUmodule m)
{
    CUdeviceptr a, b;
    CK(cuMemAlloc(&a, 4 * MIB));
    CK(cuMemAlloc(&b, 6 * MIB));
    CK(cuMemsetD32(a, 0, MIB));
    CK(cuMemsetD32(b, 0, N6));
    CUstream s;
    CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CUgraph g;
    CUgraphNode kn;
    CUgraphExec e;
    CUdeviceptr ptr = a;
    float v = 1.0f;
    int n = (int)MIB;
    void *pa[3] = { &ptr, &v, &n };
    CUDA_KERNEL_NODE_PARAMS kp;
    memset(&kp, 0, sizeof kp);
    kp.func = res_func(m, "fill");
    kp.gridDimX = kp.gridDimY = kp.gridDimZ = kp.blockDimX = kp.blockDimY = kp.blockDimZ = 1;
    kp.kernelParams = pa;
    CK(cuGraphCreate(&g, 0));
    CK(cuGraphAddKernelNode(&kn, g, NULL, 0, &kp));
    CK(cuGraphInstantiate(&e, g, 0));
    CK(cuGraphLaunch(e, s));
    CK(cuStreamSynchronize(s));
    /* re-point to b: a and b (10 MiB) cannot be resident together, b alone can */
    ptr = b; v = 2.0f; n = (int)N6;
    CK(cuGraphExecKernelNodeSetParams(e, kn, &kp));
    evict_all();
    CK(cuGraphLaunch(e, s));
    CK(cuStreamSynchronize(s));
    evict_all();
    expect_value(b, N6, 2.0f, "b after the re-pointed node");
    expect_value(a, MIB, 1.0f, "a after the first launch");
    /* and back to a through the generic setter: b's reference goes */
    ptr = a; v = 5.0f; n = (int)MIB;
    CUgraphNodeParams np;
    memset(&np, 0, sizeof np);
    np.type = CU_GRAPH_NODE_TYPE_KERNEL;
    np.kernel.func = kp.func;
    np.kernel.gridDimX = np.kernel.gridDimY = np.kernel.gridDimZ = 1;
    np.kernel.blockDimX = np.kernel.blockDimY = np.kernel.blockDimZ = 1;
    np.kernel.kernelParams = pa;
    CK(cuGraphExecNodeSetParams(e, kn, &np));
    evict_all();
    CK(cuGraphLaunch(e, s));
    CK(cuStreamSynchronize(s));
    evict_all();
    expect_value(a, MIB, 5.0f, "a after cuGraphExecNodeSetParams");
    CK(cuGraphExecDestroy(e));
    CK(cuGraphDestroy(g));
    return 0;
}

#define WN (2 * MIB)
static int tag_reuse(CUmodule m)
{
    float *w = malloc(WN);
    res_pattern(w, WN / 4, 42);
    CUdeviceptr seg;
    CK(cuMemAlloc(&seg, 8 * MIB));
    CK(cuMemcpyHtoD(seg, w, WN));                 /* names [seg, seg+2M) "w" */
    CK(cuMemsetD8(seg, 7, 8 * MIB));              /* block reused: an 8 MiB tensor written on the device */
    evict_all();
    CUdeviceptr y = seg;
    float v = 9.0f;
    int n = (int)(2 * MIB);
    void *p[3] = { &y, &v, &n };
    CK(cuLaunchKernel(res_func(m, "fill"), 1, 1, 1, 1, 1, 1, 0, NULL, p, NULL));
    CK(cuCtxSynchronize());
    evict_all();
    expect_value(seg, 2 * MIB, 9.0f, "the reused block");
    free(w);
    return 0;
}

static int body(const char *mode)
{
    res_init();
    CUmodule m = res_module();
    CK(cuMemAlloc(&z, 8 * MIB));
    int rc = 1;
    if (!strcmp(mode, "packed")) rc = packed(m);
    else if (!strcmp(mode, "graph_update")) rc = graph_update(m);
    else if (!strcmp(mode, "tag_reuse")) rc = tag_reuse(m);
    if (res_sim_illegal()) FAIL("%s: the sim saw an illegal address", mode);
    return rc;
}

/* The hints file for tag_reuse: one CPU-tier tensor "w" of 2 MiB, fingerprinted like the
 * hints room does (XXH64 of the first 64 KiB, seeded with the byte size). */
static void write_hints(const char *path)
{
    float *w = malloc(WN);
    res_pattern(w, WN / 4, 42);
    unsigned long long fp = XXH64(w, 65536, WN);
    FILE *f = fopen(path, "w");
    if (!f) FAIL("cannot write %s", path);
    fprintf(f, "{\"format\":\"hmt-tier-hints\",\"version\":1,\"tiers\":["
               "{\"name\":\"HBM\",\"setup_us\":1,\"bandwidth_gbps\":800},"
               "{\"name\":\"CPU\",\"setup_us\":5,\"bandwidth_gbps\":150},"
               "{\"name\":\"SSD\",\"setup_us\":30,\"bandwidth_gbps\":10}],"
               "\"tensors\":[{\"name\":\"w\",\"module\":\"m\",\"tier\":\"CPU\",\"order\":0,"
               "\"dtype\":\"F32\",\"shape\":[%d],\"numel\":%d,\"bytes\":%d,"
               "\"fingerprints\":{\"F32\":\"%016llx\"}}]}\n",
            (int)(WN / 4), (int)(WN / 4), (int)WN, fp);
    fclose(f);
    free(w);
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "child")) return body(argv[2]);
    const char *mode = argc > 1 ? argv[1] : "packed";
    static char hints_env[256], path[200];
    const char *env[3] = { "HMT_HBM_LIMIT=8M", NULL, NULL };
    if (!strcmp(mode, "tag_reuse")) {
        snprintf(path, sizeof path, "/tmp/res_refs_hints.%d.json", (int)getpid());
        write_hints(path);
        snprintf(hints_env, sizeof hints_env, "HMT_HINTS=%s", path);
        env[1] = hints_env;
    }
    static char out[8192];
    int rc = res_run_child(argv[0], mode, 0, env, out, sizeof out);
    if (!rc) rc = res_run_child(argv[0], mode, 1, env, out, sizeof out) ? 2 : 0;
    if (path[0]) unlink(path);
    fputs(out, stdout);
    if (rc == 1) FAIL("%s without hmt failed (the test itself is wrong)", mode);
    if (rc) FAIL("%s with hmt failed", mode);
    return 0;
}
