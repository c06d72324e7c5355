/* res_graph — a CUDA graph under eviction. Two axpy launches are captured from a stream into
 * a graph; between graph launches ten other buffers run through direct launches, so the
 * graph's buffers are evicted each time and its launch must fault them in first (snapshot at
 * instantiate). Then a kernel node is pointed at two other buffers with
 * cuGraphExecKernelNodeSetParams: the refreshed snapshot must bring those in. A second,
 * explicit graph has a memset node, a child graph with a kernel node, and a memcpy node.
 * Results are
 * compared bitwise with a run without hmt; "negative" skips fault-in and must hit 700. */
#include "res_common.h"

#define NBUF 12
#define BUF (4u * MIB)
#define N ((int)(BUF / sizeof(float)))

#define CKC(call) do { CUresult r_ = (call); if (r_ != CUDA_SUCCESS) { \
        printf("error=%d at %s\n", (int)r_, #call); fflush(stdout); exit(2); } } while (0)

static CUfunction f;
static CUstream s;
static CUdeviceptr b[NBUF];

static void direct(int r)
{
    for (int i = 2; i < NBUF; i++) {
        int j = i + 1 < NBUF ? i + 1 : 2;
        CUdeviceptr y = b[j], x = b[i];
        float a = 0.25f * (float)(r + 1);
        int n = N;
        void *p[4] = { &y, &x, &a, &n };
        CKC(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, s, p, NULL));
    }
}

static int child(void)
{
    res_init();
    f = res_func(res_module(), "axpy");
    CKC(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    float *h = malloc(BUF);
    for (int i = 0; i < NBUF; i++) {
        CKC(cuMemAlloc(&b[i], BUF));
        res_pattern(h, (size_t)N, 100u + (unsigned)i);
        CKC(cuMemcpyHtoD(b[i], h, BUF));
    }
    /* capture: b1 += 0.5*b0; b0 += 0.25*b1 */
    CKC(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
    CUdeviceptr y = b[1], x = b[0];
    float a = 0.5f;
    int n = N;
    void *p[4] = { &y, &x, &a, &n };
    CKC(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, s, p, NULL));
    CUdeviceptr y2 = b[0], x2 = b[1];
    float a2 = 0.25f;
    void *p2[4] = { &y2, &x2, &a2, &n };
    CKC(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, s, p2, NULL));
    CUgraph g;
    CKC(cuStreamEndCapture(s, &g));
    CUgraphExec e;
    CKC(cuGraphInstantiate(&e, g, 0));
    for (int r = 0; r < 3; r++) {
        CKC(cuGraphLaunch(e, s));
        direct(r);
    }
    /* exec update: the first kernel node now works on b5 <- b4 */
    size_t nn = 0;
    CKC(cuGraphGetNodes(g, NULL, &nn));
    CUgraphNode nodes[8];
    CKC(cuGraphGetNodes(g, nodes, &nn));
    CUgraphNode kn = NULL;
    for (size_t i = 0; i < nn && !kn; i++) {
        CUgraphNodeType t;
        CKC(cuGraphNodeGetType(nodes[i], &t));
        CUDA_KERNEL_NODE_PARAMS kp;
        if (t == CU_GRAPH_NODE_TYPE_KERNEL && cuGraphKernelNodeGetParams(nodes[i], &kp) == CUDA_SUCCESS &&
            *(CUdeviceptr *)kp.kernelParams[0] == b[1])
            kn = nodes[i];
    }
    if (!kn) { printf("error=-1 no kernel node\n"); return 2; }
    CUDA_KERNEL_NODE_PARAMS kp;
    memset(&kp, 0, sizeof kp);
    CUdeviceptr y3 = b[5], x3 = b[4];
    float a3 = 0.75f;
    void *p3[4] = { &y3, &x3, &a3, &n };
    kp.func = f; kp.gridDimX = kp.gridDimY = kp.gridDimZ = 1;
    kp.blockDimX = kp.blockDimY = kp.blockDimZ = 1; kp.kernelParams = p3;
    CKC(cuGraphExecKernelNodeSetParams(e, kn, &kp));
    for (int r = 3; r < 5; r++) {
        direct(r);
        CKC(cuGraphLaunch(e, s));
    }
    /* an explicit graph with the other node kinds: memset b6 -> child graph {b7 += 0.5*b6}
     * -> memcpy b7 -> b8; its snapshot must cover memset, child-graph and memcpy nodes */
    CUcontext ctx;
    CKC(cuCtxGetCurrent(&ctx));
    CUgraph g2, gc;
    CKC(cuGraphCreate(&g2, 0));
    CKC(cuGraphCreate(&gc, 0));
    CUDA_MEMSET_NODE_PARAMS ms;
    memset(&ms, 0, sizeof ms);
    ms.dst = b[6]; ms.value = 0x3f800000u; ms.elementSize = 4; ms.width = (size_t)N; ms.height = 1;
    CUgraphNode nset, nchild, ncopy, nk;
    CKC(cuGraphAddMemsetNode(&nset, g2, NULL, 0, &ms, ctx));
    CUdeviceptr y4 = b[7], x4 = b[6];
    float a4 = 0.5f;
    void *p4[4] = { &y4, &x4, &a4, &n };
    CUDA_KERNEL_NODE_PARAMS k4;
    memset(&k4, 0, sizeof k4);
    k4.func = f; k4.gridDimX = k4.gridDimY = k4.gridDimZ = 1;
    k4.blockDimX = k4.blockDimY = k4.blockDimZ = 1; k4.kernelParams = p4;
    CKC(cuGraphAddKernelNode(&nk, gc, NULL, 0, &k4));
    CKC(cuGraphAddChildGraphNode(&nchild, g2, &nset, 1, gc));
    CUDA_MEMCPY3D cp;
    memset(&cp, 0, sizeof cp);
    cp.srcMemoryType = CU_MEMORYTYPE_DEVICE; cp.srcDevice = b[7];
    cp.dstMemoryType = CU_MEMORYTYPE_DEVICE; cp.dstDevice = b[8];
    cp.WidthInBytes = BUF; cp.Height = 1; cp.Depth = 1;
    CKC(cuGraphAddMemcpyNode(&ncopy, g2, &nchild, 1, &cp, ctx));
    CUgraphExec e2;
    CKC(cuGraphInstantiate(&e2, g2, 0));
    for (int r = 5; r < 7; r++) {
        direct(r);
        CKC(cuGraphLaunch(e2, s));
    }
    CKC(cuStreamSynchronize(s));
    CKC(cuGraphExecDestroy(e2));
    uint64_t hash = RES_FNV_INIT;
    for (int i = 0; i < NBUF; i++) {
        CKC(cuMemcpyDtoH(h, b[i], BUF));
        hash = res_fnv(hash, h, BUF);
    }
    CKC(cuGraphExecDestroy(e));
    printf("hash=%016llx peak=%zu\n", (unsigned long long)hash, res_sim_peak());
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "child")) return child();
    int negative = argc > 1 && !strcmp(argv[1], "negative");
    char o0[512], o1[512], stats[256], env_stats[300];
    snprintf(stats, sizeof stats, "/tmp/res_graph_%d.json", (int)getpid());
    snprintf(env_stats, sizeof env_stats, "HMT_STATS=%s", stats);
    int rc = res_run_child(argv[0], "g", 0, NULL, o0, sizeof o0);
    if (rc == 2 && strstr(o0, "error=801")) SKIP("the driver has no graphs: %s", o0);
    if (rc) FAIL("without hmt (%d): %s", rc, o0);
    const char *env[] = { "HMT_HBM_LIMIT=16M", env_stats, negative ? "HMT_TEST_SKIP_FAULTIN=1" : NULL, NULL };
    rc = res_run_child(argv[0], "g", 1, env, o1, sizeof o1);
    if (negative) {
        unlink(stats);
        if (rc == 2 && strstr(o1, "error=700")) { printf("negative control: %s", o1); return 0; }
        FAIL("graph without fault-in did not hit an illegal address (%d): %s", rc, o1);
    }
    if (rc) FAIL("with hmt (%d): %s", rc, o1);
    double gl = res_stat(stats, "graph_launches"), ev = res_stat(stats, "evictions");
    unlink(stats);
    unsigned long long h0, h1;
    size_t p0, p1;
    if (sscanf(o0, "hash=%llx peak=%zu", &h0, &p0) != 2 || sscanf(o1, "hash=%llx peak=%zu", &h1, &p1) != 2)
        FAIL("bad output '%s' '%s'", o0, o1);
    printf("graph: without hmt %016llx, with hmt %016llx; graph_launches %.0f evictions %.0f sim peak %zu\n",
           h0, h1, gl, ev, p1);
    if (h0 != h1) FAIL("graph results differ with hmt");
    if (gl < 7 || ev <= 0) FAIL("graph launches were not managed under eviction");
    if (p1 > 16 * MIB) FAIL("sim peak above the budget");
    return 0;
}
