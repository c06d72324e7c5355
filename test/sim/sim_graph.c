/* sim_graph: a graph built by hand (memset -> kernel -> memcpy, plus a child graph) runs
 * its nodes in dependency order when launched; nodes can be enumerated and read back;
 * exec kernel-node parameter updates apply to later launches only; stream capture
 * (including a fork/join across two streams through events) builds the same kind of
 * graph, and synchronising a capturing stream invalidates the capture. */
#include "sim_test.h"

int main(void)
{
    sim_test_ctx();
    CUmodule m = sim_test_kernels();
    CUfunction fill = sim_test_fn(m, "fill_u32"), add = sim_test_fn(m, "add_u32");
    const size_t N = 256;
    CUdeviceptr a, b, c;
    CK(cuMemAlloc(&a, N * 4));
    CK(cuMemAlloc(&b, N * 4));
    CK(cuMemAlloc(&c, N * 4));
    uint32_t *h = calloc(N, 4);
    CUstream s;
    CK(cuStreamCreate(&s, 0));

    /* ---- by hand ---- */
    CUgraph g, child;
    CK(cuGraphCreate(&g, 0));
    CK(cuGraphCreate(&child, 0));
    CUgraphNode ms, kn, cp, ch;
    CUDA_MEMSET_NODE_PARAMS mp = {.dst = b, .pitch = 0, .value = 5, .elementSize = 4,
                                  .width = N, .height = 1};
    CK(cuGraphAddMemsetNode(&ms, g, NULL, 0, &mp, NULL));
    uint32_t val = 3;
    uint64_t n = N;
    void *fargs[] = {&a, &val, &n};
    CUDA_KERNEL_NODE_PARAMS kp = {.func = fill, .gridDimX = 1, .gridDimY = 1, .gridDimZ = 1,
                                  .blockDimX = 1, .blockDimY = 1, .blockDimZ = 1,
                                  .kernelParams = fargs};
    CK(cuGraphAddKernelNode(&kn, g, &ms, 1, &kp));
    val = 99; /* the node copied its parameters when added */
    /* child graph: c = a + b */
    CUgraphNode cadd;
    void *aargs[] = {&c, &a, &b, &n};
    CUDA_KERNEL_NODE_PARAMS ap = kp;
    ap.func = add;
    ap.kernelParams = aargs;
    CK(cuGraphAddKernelNode(&cadd, child, NULL, 0, &ap));
    CUgraphNode deps[2] = {ms, kn};
    CK(cuGraphAddChildGraphNode(&ch, g, deps, 2, child));
    CUDA_MEMCPY3D cpy = {.srcMemoryType = CU_MEMORYTYPE_DEVICE, .srcDevice = c,
                         .dstMemoryType = CU_MEMORYTYPE_HOST, .dstHost = h,
                         .WidthInBytes = N * 4, .Height = 1, .Depth = 1};
    CK(cuGraphAddMemcpyNode(&cp, g, &ch, 1, &cpy, NULL));

    size_t nn = 0;
    CK(cuGraphGetNodes(g, NULL, &nn));
    CHECK(nn == 4);
    CUgraphNode nodes[4];
    CK(cuGraphGetNodes(g, nodes, &nn));
    CUgraphNodeType t;
    CK(cuGraphNodeGetType(nodes[0], &t));
    CHECK(t == CU_GRAPH_NODE_TYPE_MEMSET);
    CK(cuGraphNodeGetType(kn, &t));
    CHECK(t == CU_GRAPH_NODE_TYPE_KERNEL);
    CK(cuGraphNodeGetType(ch, &t));
    CHECK(t == CU_GRAPH_NODE_TYPE_GRAPH);
    CK(cuGraphNodeGetType(cp, &t));
    CHECK(t == CU_GRAPH_NODE_TYPE_MEMCPY);
    CUgraph emb;
    CK(cuGraphChildGraphNodeGetGraph(ch, &emb));
    CK(cuGraphGetNodes(emb, NULL, &nn));
    CHECK(nn == 1);
    CUDA_KERNEL_NODE_PARAMS rp;
    CK(cuGraphKernelNodeGetParams(kn, &rp));
    CHECK(rp.func == fill && rp.gridDimX == 1);
    CHECK(*(CUdeviceptr *)rp.kernelParams[0] == a && *(uint32_t *)rp.kernelParams[1] == 3);
    size_t nd;
    CK(cuGraphNodeGetDependencies(ch, NULL, NULL, &nd));
    CHECK(nd == 2);

    CUgraphExec x;
    CK(cuGraphInstantiate(&x, g, 0));
    CK(cuGraphLaunch(x, s));
    CK(cuStreamSynchronize(s));
    for (size_t i = 0; i < N; i++) CHECK(h[i] == 8);

    /* Exec update: later launches see it; the graph itself is unchanged. */
    uint32_t val2 = 10;
    void *fargs2[] = {&a, &val2, &n};
    CUDA_KERNEL_NODE_PARAMS kp2 = kp;
    kp2.kernelParams = fargs2;
    CK(cuGraphExecKernelNodeSetParams(x, kn, &kp2));
    CK(cuGraphLaunch(x, s));
    CK(cuStreamSynchronize(s));
    for (size_t i = 0; i < N; i++) CHECK(h[i] == 15);
    CK(cuGraphKernelNodeGetParams(kn, &rp));
    CHECK(*(uint32_t *)rp.kernelParams[1] == 3);
    CK(cuGraphExecDestroy(x));
    CK(cuGraphDestroy(g));
    CK(cuGraphDestroy(child));

    /* ---- stream capture with fork/join ---- */
    CUstream s2;
    CK(cuStreamCreate(&s2, 0));
    CUstreamCaptureStatus st;
    CK(cuStreamIsCapturing(s, &st));
    CHECK(st == CU_STREAM_CAPTURE_STATUS_NONE);
    uint32_t *hp; /* captured copies need pinned memory; allocating it is not capturable */
    CK(cuMemAllocHost((void **)&hp, N * 4));
    CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
    CK(cuStreamIsCapturing(s, &st));
    CHECK(st == CU_STREAM_CAPTURE_STATUS_ACTIVE);
    CUevent fork, join;
    CK(cuEventCreate(&fork, 0));
    CK(cuEventCreate(&join, 0));
    uint32_t v1 = 1, v2 = 2;
    void *f1[] = {&a, &v1, &n}, *f2[] = {&b, &v2, &n};
    CK(cuLaunchKernel(fill, 1, 1, 1, 1, 1, 1, 0, s, f1, NULL));
    CK(cuEventRecord(fork, s));
    CK(cuStreamWaitEvent(s2, fork, 0));
    CK(cuStreamIsCapturing(s2, &st));
    CHECK(st == CU_STREAM_CAPTURE_STATUS_ACTIVE);
    CK(cuLaunchKernel(fill, 1, 1, 1, 1, 1, 1, 0, s2, f2, NULL));
    CK(cuEventRecord(join, s2));
    CK(cuStreamWaitEvent(s, join, 0));
    CK(cuLaunchKernel(add, 1, 1, 1, 1, 1, 1, 0, s, aargs, NULL));
    CK(cuMemcpyDtoHAsync(hp, c, N * 4, s));
    cuuint64_t id;
    CUgraph cg;
    const CUgraphNode *cdeps;
    size_t ncdeps;
    CK(cuStreamGetCaptureInfo(s, &st, &id, &cg, &cdeps, NULL, &ncdeps));
    CHECK(st == CU_STREAM_CAPTURE_STATUS_ACTIVE && ncdeps == 1);
    memset(hp, 0, N * 4);
    CK(cuStreamEndCapture(s, &g));
    CK(cuStreamIsCapturing(s2, &st));
    CHECK(st == CU_STREAM_CAPTURE_STATUS_NONE);
    for (size_t i = 0; i < N; i++) CHECK(hp[i] == 0); /* captured, not run */
    CK(cuGraphGetNodes(g, NULL, &nn));
    CHECK(nn == 4);
    CUgraphNode cn[4];
    CK(cuGraphGetNodes(g, cn, &nn));
    CK(cuGraphNodeGetDependencies(cn[2], NULL, NULL, &nd)); /* add depends on both fills */
    CHECK(nd == 2);
    CK(cuGraphInstantiateWithFlags(&x, g, 0));
    CK(cuGraphLaunch(x, s2));
    CK(cuStreamSynchronize(s2));
    for (size_t i = 0; i < N; i++) CHECK(hp[i] == 3);
    CK(cuGraphExecDestroy(x));
    CK(cuGraphDestroy(g));
    /* Events recorded during a capture that has ended carry no capture meaning. */
    CK(cuStreamWaitEvent(s2, join, 0));
    CK(cuStreamIsCapturing(s2, &st));
    CHECK(st == CU_STREAM_CAPTURE_STATUS_NONE);
    CK(cuStreamSynchronize(s2));

    /* What a capture cannot hold: each is refused and invalidates the capture — a copy to
     * pageable memory, an allocation (an "unsafe" call in GLOBAL mode), work on the legacy
     * stream (an implicit dependency), synchronising the capturing stream. */
    CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
    EXPECT(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, cuMemcpyDtoHAsync(h, c, N * 4, s));
    EXPECT(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, cuStreamEndCapture(s, &g));
    CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
    CUdeviceptr tmp;
    EXPECT(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, cuMemAlloc(&tmp, 64));
    EXPECT(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, cuStreamEndCapture(s, &g));
    CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED));
    CK(cuMemAlloc(&tmp, 64)); /* relaxed: allowed */
    EXPECT(CUDA_ERROR_STREAM_CAPTURE_IMPLICIT, cuMemsetD8Async(tmp, 0, 64, NULL));
    EXPECT(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, cuStreamEndCapture(s, &g));
    CK(cuMemFree(tmp));
    CUstreamCaptureMode mode = CU_STREAM_CAPTURE_MODE_RELAXED;
    CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
    CK(cuThreadExchangeStreamCaptureMode(&mode)); /* this thread opts out of the checks */
    CK(cuMemAlloc(&tmp, 64));
    CK(cuThreadExchangeStreamCaptureMode(&mode));
    CHECK(mode == CU_STREAM_CAPTURE_MODE_RELAXED);
    CK(cuStreamEndCapture(s, &g));
    CK(cuGraphDestroy(g));
    CK(cuMemFree(tmp));

    CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED));
    EXPECT(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, cuCtxSynchronize()); /* in any mode */
    EXPECT(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, cuStreamEndCapture(s, &g));

    /* Synchronising a capturing stream is not allowed and invalidates the capture. */
    CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED));
    EXPECT(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, cuStreamSynchronize(s));
    CK(cuStreamIsCapturing(s, &st));
    CHECK(st == CU_STREAM_CAPTURE_STATUS_INVALIDATED);
    EXPECT(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, cuStreamEndCapture(s, &g));
    CHECK(g == NULL);
    EXPECT(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, cuStreamBeginCapture(NULL, CU_STREAM_CAPTURE_MODE_GLOBAL));

    CK(cuStreamDestroy(s));
    CK(cuStreamDestroy(s2));
    CK(cuEventDestroy(fork));
    CK(cuEventDestroy(join));
    CK(cuMemFree(a));
    CK(cuMemFree(b));
    CK(cuMemFree(c));
    CK(cuMemFreeHost(hp));
    free(h);
    return 0;
}
