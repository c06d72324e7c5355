/* res_meminfo — cuMemGetInfo_v2 is consistent with the budget: total = budget, and free =
 * budget - what hmt has mapped (which is what the sim counts), through eviction. */
#include "res_common.h"

static void check(const char *when)
{
    size_t f, t;
    CK(cuMemGetInfo(&f, &t));
    if (t != 16 * MIB) FAIL("%s: total %zu, not the budget", when, t);
    if (f > t) FAIL("%s: free %zu above total", when, f);
    if (f != t - res_sim_bytes()) FAIL("%s: free %zu but %zu mapped", when, f, res_sim_bytes());
}

static int body(void)
{
    res_init();
    check("start");
    CUdeviceptr a, b, c;
    CK(cuMemAlloc(&a, 6 * MIB));
    check("after 6M");
    CK(cuMemAlloc(&b, 6 * MIB));
    check("after 12M");
    CK(cuMemAlloc(&c, 12 * MIB));
    check("after 24M (eviction)");
    size_t f, t;
    CK(cuMemGetInfo(&f, &t));
    if (f != 16 * MIB - 12 * MIB && f != 0 && f != 2 * MIB && f != 4 * MIB) FAIL("free %zu", f);
    CK(cuMemFree(c));
    check("after freeing 12M");
    CK(cuMemFree(a));
    CK(cuMemFree(b));
    check("after freeing all");
    CK(cuMemGetInfo(&f, &t));
    if (f != t) FAIL("free %zu != total %zu with nothing allocated", f, t);
    printf("cuMemGetInfo consistent with the budget: ok\n");
    return 0;
}

int main(int argc, char **argv) { return res_main_with_hmt(argc, argv, "16M", body); }
