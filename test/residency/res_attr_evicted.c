/* res_attr_evicted.c — invariant 6 on pointer attributes the driver itself answers:
 * CU_POINTER_ATTRIBUTE_ACCESS_FLAGS and SYNC_MEMOPS (get, and cuPointerSetAttribute) on an
 * allocation whose every chunk is evicted. hmt asked the driver at a resident address of the
 * allocation and, with none, answered CUDA_ERROR_INVALID_VALUE; cuPointerSetAttribute went to
 * the driver at an unmapped address and failed too. Without hmt all succeed. Also the plural
 * form on resident memory: HOST_POINTER of device memory is NULL, and an attribute the driver
 * refuses (P2P_TOKENS on the sim) fails the call, as without hmt (hmt answered success).
 * The child prints
 * each result and value; the parent compares a run without hmt and one with a 4 MiB budget
 * (the 4 MiB allocation evicts the 2 MiB one), and checks the allocation was evicted.
 *
 * usage: res_attr_evicted */
#include "res_common.h"

static int child(void)
{
    res_init();
    CUdeviceptr a, c;
    CK(cuMemAlloc(&a, 2 * MIB));
    CK(cuMemsetD8(a, 1, 2 * MIB));
    /* the plural form on resident memory, with an attribute the driver refuses */
    CUpointer_attribute at[3] = { CU_POINTER_ATTRIBUTE_HOST_POINTER, CU_POINTER_ATTRIBUTE_P2P_TOKENS,
                                  CU_POINTER_ATTRIBUTE_MEMORY_TYPE };
    unsigned long long vals[3][4];
    memset(vals, 0x5a, sizeof vals);
    void *d[3] = { vals[0], vals[1], vals[2] };
    CUresult rp = cuPointerGetAttributes(1, at, d, a);
    CUresult rq = cuPointerGetAttributes(3, at, d, a);
    char head[96];
    snprintf(head, sizeof head, "plural %d:%llx %d ", (int)rp, vals[0][0], (int)rq);
    CK(cuMemAlloc(&c, 4 * MIB));           /* the whole budget: a leaves */
    CK(cuMemsetD8(c, 2, 4 * MIB));
    CK(cuCtxSynchronize());
    char line[512];
    int n = snprintf(line, sizeof line, "%s", head);
    for (int round = 0; round < 2; round++) {
        unsigned long long v = 7;
        CUresult r = cuPointerGetAttribute(&v, CU_POINTER_ATTRIBUTE_ACCESS_FLAGS, a + 5);
        n += snprintf(line + n, sizeof line - (size_t)n, "access %d:%llu ", (int)r, v & 0xff);
        unsigned int s = 7;
        r = cuPointerGetAttribute(&s, CU_POINTER_ATTRIBUTE_SYNC_MEMOPS, a);
        n += snprintf(line + n, sizeof line - (size_t)n, "sync %d:%u ", (int)r, s);
        unsigned int one = 1;
        r = cuPointerSetAttribute(&one, CU_POINTER_ATTRIBUTE_SYNC_MEMOPS, a);
        n += snprintf(line + n, sizeof line - (size_t)n, "set %d ", (int)r);
    }
    printf("%s\n", line);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "child")) return child();
    char out0[512], out1[512];
    int rc = res_run_child(argv[0], "attrs", 0, NULL, out0, sizeof out0);
    if (rc != 0) FAIL("run without hmt failed (%d): %s", rc, out0);
    char stats[64];
    snprintf(stats, sizeof stats, "/tmp/res_attr_evicted.%d.json", (int)getpid());
    char e_stats[96];
    snprintf(e_stats, sizeof e_stats, "HMT_STATS=%s", stats);
    const char *env[] = { "HMT_HBM_LIMIT=4M", e_stats, NULL };
    rc = res_run_child(argv[0], "attrs", 1, env, out1, sizeof out1);
    double ev = res_stat(stats, "evictions");
    unlink(stats);
    printf("without hmt: %swith hmt:    %s  evictions %.0f\n", out0, out1, ev);
    if (rc != 0) FAIL("run with hmt failed (%d): %s", rc, out1);
    if (!(ev >= 1)) FAIL("the allocation was not evicted: the test tests nothing");
    if (strcmp(out0, out1)) FAIL("attribute answers differ with hmt");
    return 0;
}
