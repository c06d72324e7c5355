/* res_passthrough — invariant 7: with libhmt.so preloaded but no budget and no hints, hmt
 * changes nothing the program can observe. The same probe runs without hmt, with hmt and no
 * settings (must print the same), and with a budget (must differ: proof the probe sees hmt). */
#include "res_common.h"

static int probe(void)
{
    res_init();
    CUdeviceptr a;
    CK(cuMemAlloc(&a, 3 * MIB));
    CUmemGenericAllocationHandle hd;
    CUresult retain = cuMemRetainAllocationHandle(&hd, (void *)(uintptr_t)a);
    if (retain == CUDA_SUCCESS) cuMemRelease(hd);
    size_t f, t, rs = 0;
    CK(cuMemGetInfo(&f, &t));
    CUdeviceptr base;
    CK(cuMemGetAddressRange(&base, &rs, a + 100));
    printf("retain=%d total=%zu free=%zu range=%zu dev=%zu\n", (int)retain, t, f, rs, res_sim_bytes());
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "child")) return probe();
    char o0[512], o1[512], o2[512];
    const char *none[] = { NULL };
    const char *budget[] = { "HMT_HBM_LIMIT=64M", NULL };
    if (res_run_child(argv[0], "p", 0, none, o0, sizeof o0)) FAIL("without hmt: %s", o0);
    if (res_run_child(argv[0], "p", 1, none, o1, sizeof o1)) FAIL("with hmt: %s", o1);
    if (res_run_child(argv[0], "p", 1, budget, o2, sizeof o2)) FAIL("with budget: %s", o2);
    printf("without hmt: %swith hmt:    %swith budget: %s", o0, o1, o2);
    if (strcmp(o0, o1)) FAIL("hmt without settings changed what the program sees");
    if (!strcmp(o0, o2)) FAIL("the probe cannot see hmt even with a budget");
    return 0;
}
