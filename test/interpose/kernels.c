/* kernels.c — host kernels for the interpose tests and the launch bench, in the sim's
 * hmt_sim_kernels form (sim/include/hmt_sim.h). Both take 8 pointer parameters, the shape
 * the launch-overhead benchmark measures:
 *   add8(p0..p7):  for each non-NULL pi, *(uint32_t *)pi += 1 (one thread's worth; the grid
 *                  is ignored so a test can count launches);
 *   noop8(p0..p7): touches nothing. */
#include "hmt_sim.h"
#include <stdint.h>

static void add8(const hmt_sim_launch *l, void **params)
{
    (void)l;
    for (int i = 0; i < 8; i++) {
        uint32_t *p = *(uint32_t **)params[i];
        if (p)
            *p += 1;
    }
}

static void noop8(const hmt_sim_launch *l, void **params)
{
    (void)l;
    (void)params;
}

static const hmt_sim_param p8[8] = { { 0, 8 }, { 8, 8 }, { 16, 8 }, { 24, 8 },
                                     { 32, 8 }, { 40, 8 }, { 48, 8 }, { 56, 8 } };

__attribute__((visibility("default"))) const hmt_sim_kernel_desc hmt_sim_kernels[] = {
    { "add8", add8, 8, p8 },
    { "noop8", noop8, 8, p8 },
    { 0, 0, 0, 0 },
};
