/* sim_graph_update: changing an instantiated graph — cuGraphExecUpdate with a graph of the
 * same shape takes its parameters (and refuses a different topology with the driver's
 * result codes), cuGraphExecNodeSetParams / cuGraphExecMemsetNodeSetParams change one
 * node, the generic cuGraphAddNode builds nodes; launches in flight are unaffected. */
#include "sim_test.h"

static CUgraph fill_graph(CUfunction fill, CUdeviceptr a, uint32_t v, uint64_t n, bool extra_node)
{
    CUgraph g;
    CK(cuGraphCreate(&g, 0));
    CUgraphNodeParams p;
    memset(&p, 0, sizeof p);
    p.type = CU_GRAPH_NODE_TYPE_KERNEL;
    void *args[] = {&a, &v, &n};
    p.kernel = (CUDA_KERNEL_NODE_PARAMS_v3){.func = fill, .gridDimX = 1, .gridDimY = 1, .gridDimZ = 1,
                                            .blockDimX = 1, .blockDimY = 1, .blockDimZ = 1,
                                            .kernelParams = args};
    CUgraphNode k;
    CK(cuGraphAddNode(&k, g, NULL, NULL, 0, &p));
    if (extra_node) {
        CUgraphNode e;
        CK(cuGraphAddEmptyNode(&e, g, &k, 1));
    }
    return g;
}

int main(void)
{
    sim_test_ctx();
    CUmodule m = sim_test_kernels();
    CUfunction fill = sim_test_fn(m, "fill_u32");
    const uint64_t N = 32;
    CUdeviceptr a;
    CK(cuMemAlloc(&a, N * 4));
    uint32_t h[32];
    CUgraph g1 = fill_graph(fill, a, 3, N, false);
    CUgraphExec x;
    CK(cuGraphInstantiate(&x, g1, 0));
    CK(cuGraphLaunch(x, NULL));
    CK(cuMemcpyDtoH(h, a, sizeof h));
    CHECK(h[0] == 3);

    CUgraph g2 = fill_graph(fill, a, 9, N, false);
    CUgraphExecUpdateResultInfo info;
    CK(cuGraphExecUpdate(x, g2, &info));
    CHECK(info.result == CU_GRAPH_EXEC_UPDATE_SUCCESS);
    CK(cuGraphLaunch(x, NULL));
    CK(cuMemcpyDtoH(h, a, sizeof h));
    CHECK(h[N - 1] == 9);

    /* An exec outlives its graph and can still be updated. */
    CUgraph g4 = fill_graph(fill, a, 2, N, false);
    CUgraphExec x4;
    CK(cuGraphInstantiate(&x4, g4, 0));
    CK(cuGraphDestroy(g4));
    CK(cuGraphExecUpdate(x4, g2, &info));
    CK(cuGraphLaunch(x4, NULL));
    CK(cuMemcpyDtoH(h, a, sizeof h));
    CHECK(h[1] == 9);
    CK(cuGraphExecDestroy(x4));

    CUgraph g3 = fill_graph(fill, a, 1, N, true);
    EXPECT(CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE, cuGraphExecUpdate(x, g3, &info));
    CHECK(info.result == CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED);
    CK(cuGraphLaunch(x, NULL)); /* still the updated exec */
    CK(cuMemcpyDtoH(h, a, sizeof h));
    CHECK(h[0] == 9);

    /* One node, through the generic setter, addressed by the original graph's node. */
    CUgraphNode k1;
    size_t nn = 1;
    CK(cuGraphGetNodes(g1, &k1, &nn));
    CUgraphNodeParams p;
    memset(&p, 0, sizeof p);
    p.type = CU_GRAPH_NODE_TYPE_KERNEL;
    uint32_t v = 21;
    uint64_t n = N;
    void *args[] = {&a, &v, &n};
    p.kernel = (CUDA_KERNEL_NODE_PARAMS_v3){.func = fill, .gridDimX = 1, .gridDimY = 1, .gridDimZ = 1,
                                            .blockDimX = 1, .blockDimY = 1, .blockDimZ = 1,
                                            .kernelParams = args};
    CK(cuGraphExecNodeSetParams(x, k1, &p));
    CK(cuGraphLaunch(x, NULL));
    CK(cuMemcpyDtoH(h, a, sizeof h));
    CHECK(h[3] == 21);
    p.type = CU_GRAPH_NODE_TYPE_HOST;
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuGraphExecNodeSetParams(x, k1, &p)); /* type differs */

    /* Memset node via cuGraphAddNode, then changed in the exec. */
    CUgraph gm;
    CK(cuGraphCreate(&gm, 0));
    memset(&p, 0, sizeof p);
    p.type = CU_GRAPH_NODE_TYPE_MEMSET;
    p.memset = (CUDA_MEMSET_NODE_PARAMS_v2){.dst = a, .value = 4, .elementSize = 4, .width = N, .height = 1};
    CUgraphNode ms;
    CK(cuGraphAddNode(&ms, gm, NULL, NULL, 0, &p));
    CUgraphExec xm;
    CK(cuGraphInstantiate(&xm, gm, 0));
    CUDA_MEMSET_NODE_PARAMS mp = {.dst = a, .value = 6, .elementSize = 4, .width = N / 2, .height = 1};
    CK(cuGraphExecMemsetNodeSetParams(xm, ms, &mp, NULL));
    CK(cuGraphLaunch(xm, NULL));
    CK(cuMemcpyDtoH(h, a, sizeof h));
    CHECK(h[0] == 6 && h[N / 2 - 1] == 6 && h[N / 2] == 21);
    CUDA_MEMSET_NODE_PARAMS back;
    CK(cuGraphMemsetNodeGetParams(ms, &back));
    CHECK(back.value == 4); /* the graph is unchanged */

    /* Edges added after the nodes: the memset is inserted first but made to depend on the
     * kernel, so it runs last — also inside a child graph (clone with a forward edge). */
    CUgraph ge, outer;
    CK(cuGraphCreate(&ge, 0));
    CK(cuGraphCreate(&outer, 0));
    memset(&p, 0, sizeof p);
    p.type = CU_GRAPH_NODE_TYPE_MEMSET;
    p.memset = (CUDA_MEMSET_NODE_PARAMS_v2){.dst = a, .value = 7, .elementSize = 4, .width = N, .height = 1};
    CUgraphNode em, ek;
    CK(cuGraphAddNode(&em, ge, NULL, NULL, 0, &p));
    memset(&p, 0, sizeof p);
    p.type = CU_GRAPH_NODE_TYPE_KERNEL;
    v = 5;
    p.kernel = (CUDA_KERNEL_NODE_PARAMS_v3){.func = fill, .gridDimX = 1, .gridDimY = 1, .gridDimZ = 1,
                                            .blockDimX = 1, .blockDimY = 1, .blockDimZ = 1,
                                            .kernelParams = args};
    CK(cuGraphAddNode(&ek, ge, NULL, NULL, 0, &p));
    CK(cuGraphAddDependencies(ge, &ek, &em, NULL, 1));
    size_t ne = 0;
    CK(cuGraphGetEdges(ge, NULL, NULL, NULL, &ne));
    CHECK(ne == 1);
    CUgraphNode dn[2];
    size_t nd = 2;
    CK(cuGraphNodeGetDependentNodes(ek, dn, NULL, &nd));
    CHECK(nd == 1 && dn[0] == em);
    CUgraphNode cn;
    CK(cuGraphAddChildGraphNode(&cn, outer, NULL, 0, ge));
    CUgraphExec xo;
    CK(cuGraphInstantiate(&xo, outer, 0));
    CK(cuGraphLaunch(xo, NULL));
    CK(cuMemcpyDtoH(h, a, sizeof h));
    CHECK(h[0] == 7);
    CK(cuGraphRemoveDependencies(ge, &ek, &em, NULL, 1));
    CK(cuGraphGetEdges(ge, NULL, NULL, NULL, &ne));
    CHECK(ne == 0);
    CK(cuGraphDestroyNode(em));
    CK(cuGraphGetNodes(ge, NULL, &nn));
    CHECK(nn == 1);
    CK(cuGraphExecDestroy(xo));
    CK(cuGraphDestroy(ge));
    CK(cuGraphDestroy(outer));

    /* Capture dependencies replaced mid-capture. */
    CUstream s;
    CK(cuStreamCreate(&s, 0));
    CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED));
    CK(cuLaunchKernel(fill, 1, 1, 1, 1, 1, 1, 0, s, args, NULL));
    CK(cuStreamUpdateCaptureDependencies(s, NULL, NULL, 0, CU_STREAM_SET_CAPTURE_DEPENDENCIES));
    CK(cuLaunchKernel(fill, 1, 1, 1, 1, 1, 1, 0, s, args, NULL));
    CUgraph gc;
    CK(cuStreamEndCapture(s, &gc));
    CUgraphNode two[2];
    nn = 2;
    CK(cuGraphGetNodes(gc, two, &nn));
    CHECK(nn == 2);
    CK(cuGraphNodeGetDependencies(two[1], NULL, NULL, &nd));
    CHECK(nd == 0);
    CK(cuGraphDestroy(gc));
    CK(cuStreamDestroy(s));

    CK(cuGraphExecDestroy(x));
    CK(cuGraphExecDestroy(xm));
    CK(cuGraphDestroy(g1));
    CK(cuGraphDestroy(g2));
    CK(cuGraphDestroy(g3));
    CK(cuGraphDestroy(gm));
    CK(cuMemFree(a));
    return 0;
}
