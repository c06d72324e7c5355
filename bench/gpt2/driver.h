/* driver.h — the CUDA driver entry points hmt-gpt2 uses, resolved at run time.
 *
 * hmt-gpt2 is not linked against libcuda: it dlopens "libcuda.so.1" (whichever the loader
 * finds: the NVIDIA driver, or the simulated one when `hmt run` puts it first on
 * LD_LIBRARY_PATH) and looks each function up in the global scope, as a program linked
 * against libcuda would bind it. A preloaded libhmt.so therefore sees every call, exactly as
 * it would in an unmodified CUDA program. Each row names the exported variants to try, newest
 * first (the sim may export only the older one).
 */
#ifndef HMT_GPT2_DRIVER_H
#define HMT_GPT2_DRIVER_H

#include <cuda.h>

/* GPT2_DRV(field, prototype symbol from cuda.h, exported names to try...) */
#define GPT2_DRIVER_FUNCS(X)                                                                    \
    X(Init, cuInit, "cuInit")                                                                   \
    X(GetErrorName, cuGetErrorName, "cuGetErrorName")                                           \
    X(DeviceGet, cuDeviceGet, "cuDeviceGet")                                                    \
    X(DeviceGetName, cuDeviceGetName, "cuDeviceGetName")                                        \
    X(DeviceTotalMem, cuDeviceTotalMem, "cuDeviceTotalMem_v2")                                  \
    X(PrimaryCtxRetain, cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain")                   \
    X(PrimaryCtxRelease, cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2",             \
      "cuDevicePrimaryCtxRelease")                                                              \
    X(CtxSetCurrent, cuCtxSetCurrent, "cuCtxSetCurrent")                                        \
    X(ModuleLoad, cuModuleLoad, "cuModuleLoad")                                                 \
    X(ModuleUnload, cuModuleUnload, "cuModuleUnload")                                           \
    X(ModuleGetFunction, cuModuleGetFunction, "cuModuleGetFunction")                            \
    X(MemAlloc, cuMemAlloc, "cuMemAlloc_v2")                                                    \
    X(MemFree, cuMemFree, "cuMemFree_v2")                                                       \
    X(MemcpyHtoD, cuMemcpyHtoD, "cuMemcpyHtoD_v2")                                              \
    X(MemcpyDtoH, cuMemcpyDtoH, "cuMemcpyDtoH_v2")                                              \
    X(MemcpyDtoHAsync, cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2")                               \
    X(StreamCreate, cuStreamCreate, "cuStreamCreate")                                           \
    X(StreamDestroy, cuStreamDestroy, "cuStreamDestroy_v2", "cuStreamDestroy")                  \
    X(StreamSynchronize, cuStreamSynchronize, "cuStreamSynchronize")                            \
    X(EventCreate, cuEventCreate, "cuEventCreate")                                              \
    X(EventDestroy, cuEventDestroy, "cuEventDestroy_v2", "cuEventDestroy")                      \
    X(EventRecord, cuEventRecord, "cuEventRecord")                                              \
    X(EventSynchronize, cuEventSynchronize, "cuEventSynchronize")                               \
    X(EventElapsedTime, cuEventElapsedTime, "cuEventElapsedTime_v2", "cuEventElapsedTime")      \
    X(LaunchKernel, cuLaunchKernel, "cuLaunchKernel")

struct gpt2_driver {
#define GPT2_FIELD(field, proto, ...) __typeof__(proto) *field;
    GPT2_DRIVER_FUNCS(GPT2_FIELD)
#undef GPT2_FIELD
    int is_sim;     /* the sim's libcuda.so.1 (it exports hmt_sim_device_bytes) */
};
extern struct gpt2_driver drv;

/* Loads libcuda.so.1 and resolves every entry. 0, or -1 with a one-line message printed. */
int gpt2_driver_load(void);

/* cuMemAlloc_v2 that also counts what the job asked for: every device allocation of
 * hmt-gpt2 goes through it, so the footprint it prints is complete. */
CUresult gpt2_mem_alloc(CUdeviceptr *p, size_t bytes);
extern size_t gpt2_alloc_bytes, gpt2_alloc_count;
extern size_t gpt2_alloc_chunked;   /* each allocation rounded up to 2 MiB (hmt's chunk) */

/* "CUDA_ERROR_..." for r (never NULL). */
const char *gpt2_errname(CUresult r);

/* Calls a driver function and exits with one line naming it and the error on failure. */
#define CU(call) gpt2_check((call), #call, __FILE__, __LINE__)
void gpt2_check(CUresult r, const char *what, const char *file, int line);

#endif
