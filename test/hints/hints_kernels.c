/* hints_kernels.c — host kernels for the hints tests on the simulated driver (sim/include/
 * hmt_sim.h): a checksum that reads every byte of a tensor, and the fp32 -> bf16 cast a job
 * runs on the device after uploading in fp32 (the order-fallback case). The CUDA C versions
 * would be one thread per element; on the sim a kernel runs once and loops itself. */
#include "hmt_sim.h"

#include <stdint.h>
#include <string.h>

/* hints_sum32(const uint32_t *p, uint64_t nwords, uint64_t *out):
 * out[0] = sum of p[i] * (2i + 1) mod 2^64 — order-sensitive, so a stale or shifted byte shows. */
static void sum32(const hmt_sim_launch *l, void **params)
{
    (void)l;
    const uint32_t *p = *(const uint32_t **)params[0];
    uint64_t n = *(const uint64_t *)params[1];
    uint64_t *out = *(uint64_t **)params[2];
    uint64_t s = 0;
    for (uint64_t i = 0; i < n; i++)
        s += (uint64_t)p[i] * (2 * i + 1);
    *out = s;
}

/* hints_f32_to_bf16(const float *src, uint16_t *dst, uint64_t n): round to nearest even. */
static void f32_to_bf16(const hmt_sim_launch *l, void **params)
{
    (void)l;
    const float *src = *(const float **)params[0];
    uint16_t *dst = *(uint16_t **)params[1];
    uint64_t n = *(const uint64_t *)params[2];
    for (uint64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &src[i], 4);
        u += 0x7fffu + ((u >> 16) & 1u);
        dst[i] = (uint16_t)(u >> 16);
    }
}

static const hmt_sim_param three_ptrs[] = { {0, 8}, {8, 8}, {16, 8} };

__attribute__((visibility("default")))
const hmt_sim_kernel_desc hmt_sim_kernels[] = {
    { "hints_sum32", sum32, 3, three_ptrs },
    { "hints_f32_to_bf16", f32_to_bf16, 3, three_ptrs },
    { 0, 0, 0, 0 },
};
