/* test/sim/kernels_test.c — host kernels for tests on the sim (target sim_test_kernels,
 * a MODULE library: <build>/test/sim/libsim_test_kernels.so). Any room may load it with
 * cuModuleLoad; the kernels and their parameter layouts (offset, size as PTX lays them
 * out) are:
 *   fill_u32(u32 *p, u32 v, u64 n)                    p[i] = v
 *   add_u32(u32 *dst, const u32 *a, const u32 *b, u64 n)  dst[i] = a[i] + b[i]
 *   copy_u32(u32 *dst, const u32 *src, u64 n)          dst[i] = src[i]
 *   copy_through(u32 *dst, u32 *const *pp, u64 n)     dst[i] = (*pp)[i]: the source
 *                                    pointer is read from device memory (invisible to a
 *                                    parameter scan)
 *   read_sum(const u8 *p, u64 n, u64 *out)             *out = sum of p[0..n)
 *   sleep_us(u32 us)                                   sleeps (ordering tests)
 *   inc_u32(u32 *p)                                    ++*p
 *   noop()
 * Each loops over n itself; the grid is ignored (a host kernel runs once per launch).
 */
#include <stdint.h>
#include <time.h>

#include "hmt_sim.h"

#define EXPORT __attribute__((visibility("default")))
#define PARAM(i, T) (*(T *)params[i])

static void fill_u32(const hmt_sim_launch *l, void **params)
{
    (void)l;
    uint32_t *p = PARAM(0, uint32_t *), v = PARAM(1, uint32_t);
    uint64_t n = PARAM(2, uint64_t);
    for (uint64_t i = 0; i < n; i++) p[i] = v;
}

static void add_u32(const hmt_sim_launch *l, void **params)
{
    (void)l;
    uint32_t *d = PARAM(0, uint32_t *);
    const uint32_t *a = PARAM(1, const uint32_t *), *b = PARAM(2, const uint32_t *);
    uint64_t n = PARAM(3, uint64_t);
    for (uint64_t i = 0; i < n; i++) d[i] = a[i] + b[i];
}

static void copy_u32(const hmt_sim_launch *l, void **params)
{
    (void)l;
    uint32_t *d = PARAM(0, uint32_t *);
    const uint32_t *s = PARAM(1, const uint32_t *);
    uint64_t n = PARAM(2, uint64_t);
    for (uint64_t i = 0; i < n; i++) d[i] = s[i];
}

static void copy_through(const hmt_sim_launch *l, void **params)
{
    (void)l;
    uint32_t *d = PARAM(0, uint32_t *);
    uint32_t *const *pp = PARAM(1, uint32_t *const *);
    uint64_t n = PARAM(2, uint64_t);
    const uint32_t *s = *pp;
    for (uint64_t i = 0; i < n; i++) d[i] = s[i];
}

static void read_sum(const hmt_sim_launch *l, void **params)
{
    (void)l;
    const volatile uint8_t *p = PARAM(0, const uint8_t *);
    uint64_t n = PARAM(1, uint64_t), s = 0;
    for (uint64_t i = 0; i < n; i++) s += p[i];
    *PARAM(2, uint64_t *) = s;
}

static void sleep_us(const hmt_sim_launch *l, void **params)
{
    (void)l;
    uint32_t us = PARAM(0, uint32_t);
    struct timespec ts = {us / 1000000, (long)(us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void inc_u32(const hmt_sim_launch *l, void **params)
{
    (void)l;
    (*PARAM(0, uint32_t *))++;
}

static void noop(const hmt_sim_launch *l, void **params) { (void)l, (void)params; }

static const hmt_sim_param p_fill[] = {{0, 8}, {8, 4}, {16, 8}};
static const hmt_sim_param p_add[] = {{0, 8}, {8, 8}, {16, 8}, {24, 8}};
static const hmt_sim_param p_copy[] = {{0, 8}, {8, 8}, {16, 8}};
static const hmt_sim_param p_sum[] = {{0, 8}, {8, 8}, {16, 8}};
static const hmt_sim_param p_sleep[] = {{0, 4}};
static const hmt_sim_param p_inc[] = {{0, 8}};

EXPORT const hmt_sim_kernel_desc hmt_sim_kernels[] = {
    {"fill_u32", fill_u32, 3, p_fill},
    {"add_u32", add_u32, 4, p_add},
    {"copy_u32", copy_u32, 3, p_copy},
    {"copy_through", copy_through, 3, p_copy},
    {"read_sum", read_sum, 3, p_sum},
    {"sleep_us", sleep_us, 1, p_sleep},
    {"inc_u32", inc_u32, 1, p_inc},
    {"noop", noop, 0, NULL},
    {NULL, NULL, 0, NULL},
};
