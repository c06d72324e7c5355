/* hmt_sim.h — the contract between the simulated CUDA driver (sim/, libcuda.so.1) and
 * the code that runs on it: host-side kernels supplied by workloads, and the test-only
 * entry points tests use for fault injection.
 *
 * Kernels. A workload that runs on a GPU ships CUDA C kernels; to run on the sim it also
 * ships the same kernels as host C functions in a shared object (ELF .so) with the same
 * kernel names and parameter lists. The .so exports one table, `hmt_sim_kernels`, and the
 * sim's cuModuleLoad/cuModuleLoadData accept that .so (by path, or its bytes). Parameter
 * layouts come from the table (or from a PTX file's .entry declarations, when a PTX module
 * is loaded and a host .so of the same basename sits beside it), so cuFuncGetParamInfo
 * answers as the driver does on a GPU.
 *
 * A host kernel runs once per launch, on the launching stream's worker thread, and loops
 * over the grid itself. It receives the launch geometry and an array of pointers to each
 * parameter's bytes (the kernelParams convention; the sim unpacks an `extra` buffer into
 * this form using the layout). Device pointers are plain host-addressable pointers into the
 * sim's device range: touching one that is unmapped or without access aborts the launch
 * and makes the context report CUDA_ERROR_ILLEGAL_ADDRESS, as a GPU fault does.
 */
#ifndef HMT_SIM_H
#define HMT_SIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hmt_sim_dim3 { unsigned x, y, z; } hmt_sim_dim3;

/* Launch geometry handed to a host kernel. */
typedef struct hmt_sim_launch {
    hmt_sim_dim3 grid;          /* gridDim */
    hmt_sim_dim3 block;         /* blockDim */
    unsigned shared_bytes;      /* dynamic shared memory requested */
    void *stream;               /* the CUstream it was launched on (informational) */
} hmt_sim_launch;

/* A host kernel: params[i] points at parameter i's bytes (size/offset from the table). */
typedef void (*hmt_sim_kernel_fn)(const hmt_sim_launch *launch, void **params);

/* One parameter: byte offset in the packed parameter buffer and size, as PTX lays it out
 * (each parameter aligned to its natural alignment, at most 8 unless stated). */
typedef struct hmt_sim_param { uint16_t offset, size; } hmt_sim_param;

typedef struct hmt_sim_kernel_desc {
    const char *name;               /* the kernel's (extern "C") name; NULL ends the table */
    hmt_sim_kernel_fn fn;
    unsigned nparams;
    const hmt_sim_param *params;    /* nparams entries */
} hmt_sim_kernel_desc;

/* The symbol a host-kernel .so must export: an array ended by an entry whose name is NULL. */
#define HMT_SIM_KERNEL_TABLE "hmt_sim_kernels"

/* ---- Test-only entry points, exported by the sim's libcuda.so.1 only. -----------------
 * Tests look them up with dlsym(RTLD_DEFAULT, ...) so that the same test binary can report
 * "skipped" (77) when run on a real driver. */

/* Make the nth (1-based) future call of driver function `name` (exported name, e.g.
 * "cuMemCreate") fail with `result` instead of running. n = 0 clears. Thread-safe. */
int hmt_sim_fail_nth(const char *name, unsigned n, int result);

/* Physical device bytes currently allocated and the peak so far. */
size_t hmt_sim_device_bytes(void);
size_t hmt_sim_peak_device_bytes(void);

/* 1 once any operation hit an illegal address (the context is then broken). */
int hmt_sim_illegal_address(void);

/* Writes the HMT_SIM_STATS JSON object now to `path` ("-" = stderr); 0 or -errno. */
int hmt_sim_write_stats(const char *path);

#ifdef __cplusplus
}
#endif
#endif
