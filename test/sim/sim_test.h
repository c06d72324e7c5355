/* test/sim/sim_test.h — helpers shared by the sim's own tests: checked driver calls,
 * the test kernel module, and a context on device 0. Each test is one program: exit 0
 * pass, 1 fail, 77 skip.
 */
#ifndef HMT_TEST_SIM_TEST_H
#define HMT_TEST_SIM_TEST_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <cuda.h>
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmt_sim.h"

#define FAIL(...)                                                                        \
    do {                                                                                 \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                  \
        fprintf(stderr, __VA_ARGS__);                                                    \
        fputc('\n', stderr);                                                             \
        exit(1);                                                                         \
    } while (0)

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) FAIL("check failed: %s", #cond);                                    \
    } while (0)

/* Expect a driver call to return `want`. */
#define EXPECT(want, call)                                                               \
    do {                                                                                 \
        CUresult r_ = (call);                                                            \
        if (r_ != (want)) {                                                              \
            const char *n_ = NULL;                                                       \
            cuGetErrorName(r_, &n_);                                                     \
            FAIL("%s returned %d (%s), expected %d", #call, (int)r_, n_ ? n_ : "?",      \
                 (int)(want));                                                           \
        }                                                                                \
    } while (0)
#define CK(call) EXPECT(CUDA_SUCCESS, call)

/* cuInit + primary context of device 0 made current. */
static inline CUcontext sim_test_ctx(void)
{
    CUdevice dev;
    CUcontext ctx;
    CK(cuInit(0));
    CK(cuDeviceGet(&dev, 0));
    CK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CK(cuCtxSetCurrent(ctx));
    return ctx;
}

/* The test kernel module (test/sim/kernels_test.c). */
static inline CUmodule sim_test_kernels(void)
{
    CUmodule m;
    CK(cuModuleLoad(&m, SIM_TEST_KERNELS));
    return m;
}

static inline CUfunction sim_test_fn(CUmodule m, const char *name)
{
    CUfunction f;
    CK(cuModuleGetFunction(&f, m, name));
    return f;
}

/* Test-only entry points, resolved at run time so a real driver reports "skip". */
static inline void *sim_test_hook(const char *name)
{
    void *p = dlsym(RTLD_DEFAULT, name);
    if (!p) {
        fprintf(stderr, "skip: %s not present (not the sim)\n", name);
        exit(77);
    }
    return p;
}

/* A gate: work queued on a stream after gate_hold() waits until gate_open(), so tests
 * order things without relying on timing (cuStreamWaitValue32 on a pinned word). */
typedef struct sim_gate { volatile uint32_t *word; CUdeviceptr dptr; } sim_gate;

static inline sim_gate gate_new(void)
{
    sim_gate g;
    CK(cuMemAllocHost((void **)&g.word, sizeof *g.word));
    *g.word = 0;
    CK(cuMemHostGetDevicePointer(&g.dptr, (void *)(uintptr_t)g.word, 0));
    return g;
}

static inline void gate_hold(sim_gate *g, CUstream s)
{
    __atomic_store_n(g->word, 0, __ATOMIC_SEQ_CST);
    CK(cuStreamWaitValue32(s, g->dptr, 1, CU_STREAM_WAIT_VALUE_EQ));
}

static inline void gate_open(sim_gate *g) { __atomic_store_n(g->word, 1, __ATOMIC_SEQ_CST); }

#define KERNEL_LAUNCH(f, stream, ...)                                                    \
    do {                                                                                 \
        void *args_[] = {__VA_ARGS__};                                                   \
        CK(cuLaunchKernel((f), 1, 1, 1, 1, 1, 1, 0, (stream), args_, NULL));             \
    } while (0)

#endif
