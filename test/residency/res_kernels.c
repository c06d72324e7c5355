/* res_kernels.c — the residency tests' kernels as host functions for the sim (hmt_sim.h):
 * the same names and parameter lists a CUDA C module would have. Each kernel touches every
 * element it is given, so a chunk that is not mapped makes the sim report an illegal address.
 *   axpy(float *y, const float *x, float a, int n)         y = a*x + y
 *   pair_axpy(struct {float *y; const float *x;} p, float a, int n)   same, pointers in a struct
 *   slow_add(float *y, float v, int n, int ms)              sleeps ms, then y += v
 *   fill(float *y, float v, int n)                          y = v
 *   packed_fill(struct __attribute__((packed, aligned(4))) {int n; float *y;} p, float v)
 *                                                           y = v; y at byte 4 of the struct
 *   split_fill(unsigned lo, unsigned hi, float v, int n)    y = v, y = (hi << 32) | lo */
#include <stdint.h>
#include <string.h>
#include <time.h>
#include "hmt_sim.h"

struct pair { float *y; const float *x; };

static void axpy(const hmt_sim_launch *l, void **p)
{
    (void)l;
    float *y = *(float **)p[0];
    const float *x = *(const float **)p[1];
    float a = *(float *)p[2];
    int n = *(int *)p[3];
    for (int i = 0; i < n; i++) y[i] = a * x[i] + y[i];
}

static void pair_axpy(const hmt_sim_launch *l, void **p)
{
    (void)l;
    struct pair pr = *(struct pair *)p[0];
    float a = *(float *)p[1];
    int n = *(int *)p[2];
    for (int i = 0; i < n; i++) pr.y[i] = a * pr.x[i] + pr.y[i];
}

static void slow_add(const hmt_sim_launch *l, void **p)
{
    (void)l;
    float *y = *(float **)p[0];
    float v = *(float *)p[1];
    int n = *(int *)p[2];
    int ms = *(int *)p[3];
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
    for (int i = 0; i < n; i++) y[i] += v;
}

static void fill(const hmt_sim_launch *l, void **p)
{
    (void)l;
    float *y = *(float **)p[0];
    float v = *(float *)p[1];
    int n = *(int *)p[2];
    for (int i = 0; i < n; i++) y[i] = v;
}

struct __attribute__((packed, aligned(4))) packed_arg { int n; float *y; };

static void packed_fill(const hmt_sim_launch *l, void **p)
{
    (void)l;
    struct packed_arg a;
    memcpy(&a, p[0], sizeof a);
    float v = *(float *)p[1];
    for (int i = 0; i < a.n; i++) a.y[i] = v;
}

static void split_fill(const hmt_sim_launch *l, void **p)
{
    (void)l;
    uint64_t a = ((uint64_t)*(unsigned *)p[1] << 32) | *(unsigned *)p[0];
    float *y = (float *)(uintptr_t)a;
    float v = *(float *)p[2];
    int n = *(int *)p[3];
    for (int i = 0; i < n; i++) y[i] = v;
}

static const hmt_sim_param axpy_p[] = { { 0, 8 }, { 8, 8 }, { 16, 4 }, { 20, 4 } };
static const hmt_sim_param pair_p[] = { { 0, 16 }, { 16, 4 }, { 20, 4 } };
static const hmt_sim_param slow_p[] = { { 0, 8 }, { 8, 4 }, { 12, 4 }, { 16, 4 } };
static const hmt_sim_param fill_p[] = { { 0, 8 }, { 8, 4 }, { 12, 4 } };
static const hmt_sim_param packed_p[] = { { 0, 12 }, { 12, 4 } };
static const hmt_sim_param split_p[] = { { 0, 4 }, { 4, 4 }, { 8, 4 }, { 12, 4 } };

__attribute__((visibility("default"))) const hmt_sim_kernel_desc hmt_sim_kernels[] = {
    { "axpy", axpy, 4, axpy_p },
    { "pair_axpy", pair_axpy, 3, pair_p },
    { "slow_add", slow_add, 4, slow_p },
    { "fill", fill, 3, fill_p },
    { "packed_fill", packed_fill, 2, packed_p },
    { "split_fill", split_fill, 4, split_p },
    { NULL, NULL, 0, NULL },
};
