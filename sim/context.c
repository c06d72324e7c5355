/* sim/context.c — init, the one simulated device, and contexts.
 *
 * One device (ordinal 0) with the attributes of an H200 (compute capability 9.0, 132 SMs)
 * except its memory size, which is HMT_SIM_MEMORY. Contexts hold a legacy default stream
 * and a sticky error: once any operation in a context hits an illegal address every later
 * call that reports context errors returns CUDA_ERROR_ILLEGAL_ADDRESS, as on a GPU.
 * The current context is a per-thread stack as in the driver.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CTX_STACK 32
static __thread CUcontext tl_stack[CTX_STACK];
static __thread int tl_depth;

static struct CUctx_st *g_primary;      /* the device's primary context (ctx_mu) */
static int g_primary_refs;
static unsigned g_primary_flags;
static size_t g_limits[16];

/* ---- helpers ------------------------------------------------------------------------- */

static bool ctx_valid(CUcontext c) { return c && c->magic == SIM_MAGIC_CTX; }

CUresult sim_ctx_current(CUcontext *out)
{
    CUcontext c = tl_depth ? tl_stack[tl_depth - 1] : NULL;
    if (!ctx_valid(c)) return CUDA_ERROR_INVALID_CONTEXT;
    *out = c;
    return CUDA_SUCCESS;
}

CUresult sim_ctx_check(CUcontext c)
{
    int s = atomic_load(&c->sticky);
    return s ? (CUresult)s : CUDA_SUCCESS;
}

void sim_ctx_set_sticky(CUcontext c, CUresult r)
{
    int zero = 0;
    atomic_compare_exchange_strong(&c->sticky, &zero, (int)r);
    if (r == CUDA_ERROR_ILLEGAL_ADDRESS) atomic_store(&g_sim.illegal_address, true);
}

static CUresult ctx_new(unsigned flags, bool primary, CUcontext *out)
{
    struct CUctx_st *c = calloc(1, sizeof *c);
    if (!c) return CUDA_ERROR_OUT_OF_MEMORY;
    c->magic = SIM_MAGIC_CTX;
    c->flags = flags;
    c->primary = primary;
    c->id = atomic_fetch_add(&g_sim.next_id, 1);
    CUresult r = sim_stream_create(c, 0, 0, STREAM_LEGACY, &c->legacy);
    if (r != CUDA_SUCCESS) {
        free(c);
        return r;
    }
    *out = c;
    return CUDA_SUCCESS;
}

/* Waits for all work, stops every stream. The struct stays (handles may linger). */
static void ctx_teardown(CUcontext c)
{
    pthread_mutex_lock(&g_sim.ctx_mu);
    struct CUstream_st *list = c->streams;
    c->streams = NULL;
    pthread_mutex_unlock(&g_sim.ctx_mu);
    for (struct CUstream_st *s = list, *n; s; s = n) {
        n = s->next;
        sim_stream_wait_idle(s);
        sim_stream_stop(s);
    }
}

/* ---- init and version ---------------------------------------------------------------- */

SIM_EXPORT CUresult cuInit(unsigned int Flags)
{
    SIM_ENTER();
    if (Flags != 0) return CUDA_ERROR_INVALID_VALUE;
    CUresult r = sim_setup();
    if (r == CUDA_SUCCESS) atomic_store(&g_sim.initialized, 1);
    return r;
}

SIM_EXPORT CUresult cuDriverGetVersion(int *driverVersion)
{
    SIM_ENTER();
    if (!driverVersion) return CUDA_ERROR_INVALID_VALUE;
    *driverVersion = SIM_DRIVER_VERSION;
    return CUDA_SUCCESS;
}

/* ---- devices ------------------------------------------------------------------------- */

#define DEV_CHECK(d)                                                                     \
    do {                                                                                 \
        SIM_NEED_INIT();                                                                 \
        if ((d) != 0) return CUDA_ERROR_INVALID_DEVICE;                                  \
    } while (0)

SIM_EXPORT CUresult cuDeviceGet(CUdevice *device, int ordinal)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!device) return CUDA_ERROR_INVALID_VALUE;
    if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE;
    *device = 0;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuDeviceGetCount(int *count)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!count) return CUDA_ERROR_INVALID_VALUE;
    *count = 1;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuDeviceGetName(char *name, int len, CUdevice dev)
{
    SIM_ENTER();
    DEV_CHECK(dev);
    if (!name || len <= 0) return CUDA_ERROR_INVALID_VALUE;
    snprintf(name, (size_t)len, "%s", "hmt-sim H200 (simulated)");
    return CUDA_SUCCESS;
}

static const CUuuid g_uuid = {{'h', 'm', 't', '-', 's', 'i', 'm', 0x13, 0x00, 0x90, 0x01,
                               0x32, 0x48, 0x32, 0x30, 0x30}};

SIM_EXPORT CUresult cuDeviceGetUuid(CUuuid *uuid, CUdevice dev)
{
    SIM_ENTER();
    DEV_CHECK(dev);
    if (!uuid) return CUDA_ERROR_INVALID_VALUE;
    *uuid = g_uuid;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev)
{
    SIM_ENTER();
    DEV_CHECK(dev);
    if (!uuid) return CUDA_ERROR_INVALID_VALUE;
    *uuid = g_uuid;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuDeviceGetLuid(char *luid, unsigned int *deviceNodeMask, CUdevice dev)
{
    SIM_ENTER();
    DEV_CHECK(dev);
    (void)luid;
    (void)deviceNodeMask;
    return CUDA_ERROR_NOT_SUPPORTED; /* Windows only */
}

SIM_EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
    SIM_ENTER();
    DEV_CHECK(dev);
    if (!bytes) return CUDA_ERROR_INVALID_VALUE;
    *bytes = g_opt.memory;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuDeviceGetPCIBusId(char *pciBusId, int len, CUdevice dev)
{
    SIM_ENTER();
    DEV_CHECK(dev);
    if (!pciBusId || len <= 0) return CUDA_ERROR_INVALID_VALUE;
    snprintf(pciBusId, (size_t)len, "0000:%02x:00.0", 0x1b);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuDeviceGetByPCIBusId(CUdevice *dev, const char *pciBusId)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!dev || !pciBusId) return CUDA_ERROR_INVALID_VALUE;
    if (strcasecmp(pciBusId, "0000:1b:00.0") != 0 && strcasecmp(pciBusId, "1b:00.0") != 0)
        return CUDA_ERROR_INVALID_DEVICE;
    *dev = 0;
    return CUDA_SUCCESS;
}

static int attr_value(CUdevice_attribute a)
{
    switch (a) {
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: return 1024;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X: return 1024;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y: return 1024;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z: return 64;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X: return 2147483647;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y: return 65535;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z: return 65535;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: return 49152;
    case CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY: return 65536;
    case CU_DEVICE_ATTRIBUTE_WARP_SIZE: return 32;
    case CU_DEVICE_ATTRIBUTE_MAX_PITCH: return 2147483647;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK: return 65536;
    case CU_DEVICE_ATTRIBUTE_CLOCK_RATE: return 1980000;
    case CU_DEVICE_ATTRIBUTE_TEXTURE_ALIGNMENT: return 512;
    case CU_DEVICE_ATTRIBUTE_GPU_OVERLAP: return 1;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: return 132;
    case CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY: return 1;
    case CU_DEVICE_ATTRIBUTE_SURFACE_ALIGNMENT: return 512;
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS: return 1;
    case CU_DEVICE_ATTRIBUTE_ECC_ENABLED: return 1;
    case CU_DEVICE_ATTRIBUTE_PCI_BUS_ID: return 0x1b;
    case CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE: return 2619000;
    case CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH: return 6144;
    case CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE: return 50331648;
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR: return 2048;
    case CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT: return 3;
    case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING: return 1;
    case CU_DEVICE_ATTRIBUTE_TEXTURE_PITCH_ALIGNMENT: return 32;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: return 9;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: return 0;
    case CU_DEVICE_ATTRIBUTE_STREAM_PRIORITIES_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_GLOBAL_L1_CACHE_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_LOCAL_L1_CACHE_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR: return 233472;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR: return 65536;
    case CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY: return 1;
    case CU_DEVICE_ATTRIBUTE_SINGLE_TO_DOUBLE_PRECISION_PERF_RATIO: return 2;
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS: return 1;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_PREEMPTION_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM: return 1;
    case CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH: return 1;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: return 232448;
    case CU_DEVICE_ATTRIBUTE_HOST_REGISTER_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED: return 0;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR: return 32;
    case CU_DEVICE_ATTRIBUTE_MAX_PERSISTING_L2_CACHE_SIZE: return 32505856;
    case CU_DEVICE_ATTRIBUTE_MAX_ACCESS_POLICY_WINDOW_SIZE: return 134213632;
    case CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_WITH_CUDA_VMM_SUPPORTED: return 0;
    case CU_DEVICE_ATTRIBUTE_RESERVED_SHARED_MEMORY_PER_BLOCK: return 1024;
    case CU_DEVICE_ATTRIBUTE_READ_ONLY_HOST_REGISTER_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH: return 1;
    case CU_DEVICE_ATTRIBUTE_DEFERRED_MAPPING_CUDA_ARRAY_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_CAN_USE_64_BIT_STREAM_MEM_OPS: return 1;
    case CU_DEVICE_ATTRIBUTE_CAN_USE_STREAM_WAIT_VALUE_NOR: return 1;
    case CU_DEVICE_ATTRIBUTE_MEM_SYNC_DOMAIN_COUNT: return 4;
    case CU_DEVICE_ATTRIBUTE_TENSOR_MAP_ACCESS_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_UNIFIED_FUNCTION_POINTERS: return 1;
    case CU_DEVICE_ATTRIBUTE_NUMA_ID: return -1;
    case CU_DEVICE_ATTRIBUTE_HOST_NUMA_ID: return 0;
    case CU_DEVICE_ATTRIBUTE_HOST_NUMA_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_HOST_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED: return 1;
    default: return 0;
    }
}

SIM_EXPORT CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev)
{
    SIM_ENTER();
    DEV_CHECK(dev);
    if (!pi || (int)attrib <= 0 || attrib >= CU_DEVICE_ATTRIBUTE_MAX)
        return CUDA_ERROR_INVALID_VALUE;
    *pi = attr_value(attrib);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuDeviceComputeCapability(int *major, int *minor, CUdevice dev)
{
    SIM_ENTER();
    DEV_CHECK(dev);
    if (!major || !minor) return CUDA_ERROR_INVALID_VALUE;
    *major = 9;
    *minor = 0;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuDeviceCanAccessPeer(int *canAccessPeer, CUdevice dev, CUdevice peerDev)
{
    SIM_ENTER();
    DEV_CHECK(dev);
    if (!canAccessPeer) return CUDA_ERROR_INVALID_VALUE;
    if (peerDev != 0) return CUDA_ERROR_INVALID_DEVICE;
    *canAccessPeer = 0;
    return CUDA_SUCCESS;
}

/* ---- primary context ----------------------------------------------------------------- */

SIM_EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
    SIM_ENTER();
    DEV_CHECK(dev);
    if (!pctx) return CUDA_ERROR_INVALID_VALUE;
    /* The context is made outside ctx_mu (making its legacy stream takes ctx_mu); a
     * racing loser's context is kept unused, which only happens once. */
    pthread_mutex_lock(&g_sim.ctx_mu);
    bool have = g_primary != NULL;
    unsigned flags = g_primary_flags;
    pthread_mutex_unlock(&g_sim.ctx_mu);
    CUcontext made = NULL;
    if (!have) {
        CUresult r = ctx_new(flags, true, &made);
        if (r != CUDA_SUCCESS) return r;
    }
    pthread_mutex_lock(&g_sim.ctx_mu);
    if (!g_primary) g_primary = made;
    g_primary_refs++;
    *pctx = g_primary;
    pthread_mutex_unlock(&g_sim.ctx_mu);
    return CUDA_SUCCESS;
}

static CUresult primary_release(CUdevice dev)
{
    DEV_CHECK(dev);
    CUresult r = CUDA_SUCCESS;
    pthread_mutex_lock(&g_sim.ctx_mu);
    if (g_primary_refs == 0) r = CUDA_ERROR_INVALID_CONTEXT;
    else g_primary_refs--;
    pthread_mutex_unlock(&g_sim.ctx_mu);
    return r;
}

SIM_EXPORT CUresult cuDevicePrimaryCtxRelease(CUdevice dev)
{
    SIM_ENTER();
    return primary_release(dev);
}

SIM_EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
    SIM_ENTER();
    return primary_release(dev);
}

static CUresult primary_set_flags(CUdevice dev, unsigned flags)
{
    DEV_CHECK(dev);
    pthread_mutex_lock(&g_sim.ctx_mu);
    g_primary_flags = flags;
    if (g_primary) g_primary->flags = flags;
    pthread_mutex_unlock(&g_sim.ctx_mu);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuDevicePrimaryCtxSetFlags(CUdevice dev, unsigned int flags)
{
    SIM_ENTER();
    return primary_set_flags(dev, flags);
}

SIM_EXPORT CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice dev, unsigned int flags)
{
    SIM_ENTER();
    return primary_set_flags(dev, flags);
}

SIM_EXPORT CUresult cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int *flags, int *active)
{
    SIM_ENTER();
    DEV_CHECK(dev);
    if (!flags || !active) return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_sim.ctx_mu);
    *flags = g_primary_flags;
    *active = g_primary_refs > 0;
    pthread_mutex_unlock(&g_sim.ctx_mu);
    return CUDA_SUCCESS;
}

static CUresult primary_reset(CUdevice dev)
{
    DEV_CHECK(dev);
    /* Memory is not freed: the sim keeps allocations across a reset (documented). */
    pthread_mutex_lock(&g_sim.ctx_mu);
    g_primary_refs = 0;
    pthread_mutex_unlock(&g_sim.ctx_mu);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuDevicePrimaryCtxReset(CUdevice dev)
{
    SIM_ENTER();
    return primary_reset(dev);
}

SIM_EXPORT CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev)
{
    SIM_ENTER();
    return primary_reset(dev);
}

/* ---- context stack -------------------------------------------------------------------- */

static CUresult ctx_create(CUcontext *pctx, unsigned flags, CUdevice dev)
{
    DEV_CHECK(dev);
    if (!pctx) return CUDA_ERROR_INVALID_VALUE;
    CUcontext c;
    CUresult r = ctx_new(flags, false, &c);
    if (r != CUDA_SUCCESS) return r;
    if (tl_depth >= CTX_STACK) return CUDA_ERROR_INVALID_VALUE;
    tl_stack[tl_depth++] = c;
    *pctx = c;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuCtxCreate(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
    SIM_ENTER();
    return ctx_create(pctx, flags, dev);
}

SIM_EXPORT CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
    SIM_ENTER();
    return ctx_create(pctx, flags, dev);
}

SIM_EXPORT CUresult cuCtxCreate_v3(CUcontext *pctx, CUexecAffinityParam *paramsArray,
                                   int numParams, unsigned int flags, CUdevice dev)
{
    SIM_ENTER();
    if (numParams < 0 || (numParams > 0 && !paramsArray)) return CUDA_ERROR_INVALID_VALUE;
    return ctx_create(pctx, flags, dev);
}

SIM_EXPORT CUresult cuCtxCreate_v4(CUcontext *pctx, CUctxCreateParams *ctxCreateParams,
                                   unsigned int flags, CUdevice dev)
{
    SIM_ENTER();
    (void)ctxCreateParams; /* exec affinity / CIG: accepted, not modelled */
    return ctx_create(pctx, flags, dev);
}

static CUresult ctx_destroy(CUcontext ctx)
{
    SIM_NEED_INIT();
    if (!ctx_valid(ctx)) return CUDA_ERROR_INVALID_CONTEXT;
    if (ctx->primary) return CUDA_ERROR_INVALID_CONTEXT;
    /* Remove it from this thread's stack wherever it is. */
    for (int i = 0; i < tl_depth; i++)
        if (tl_stack[i] == ctx) {
            memmove(&tl_stack[i], &tl_stack[i + 1], (size_t)(tl_depth - i - 1) * sizeof(CUcontext));
            tl_depth--;
            i--;
        }
    ctx_teardown(ctx);
    sim_stream_wait_idle(ctx->legacy);
    sim_stream_stop(ctx->legacy);
    ctx->magic = 0; /* the struct is kept so stale handles fail cleanly */
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuCtxDestroy(CUcontext ctx)
{
    SIM_ENTER();
    return ctx_destroy(ctx);
}

SIM_EXPORT CUresult cuCtxDestroy_v2(CUcontext ctx)
{
    SIM_ENTER();
    return ctx_destroy(ctx);
}

static CUresult ctx_push(CUcontext ctx)
{
    SIM_NEED_INIT();
    if (!ctx_valid(ctx)) return CUDA_ERROR_INVALID_CONTEXT;
    if (tl_depth >= CTX_STACK) return CUDA_ERROR_INVALID_VALUE;
    tl_stack[tl_depth++] = ctx;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuCtxPushCurrent(CUcontext ctx)
{
    SIM_ENTER();
    return ctx_push(ctx);
}

SIM_EXPORT CUresult cuCtxPushCurrent_v2(CUcontext ctx)
{
    SIM_ENTER();
    return ctx_push(ctx);
}

static CUresult ctx_pop(CUcontext *pctx)
{
    SIM_NEED_INIT();
    if (tl_depth == 0) return CUDA_ERROR_INVALID_CONTEXT;
    CUcontext c = tl_stack[--tl_depth];
    if (pctx) *pctx = c;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuCtxPopCurrent(CUcontext *pctx)
{
    SIM_ENTER();
    return ctx_pop(pctx);
}

SIM_EXPORT CUresult cuCtxPopCurrent_v2(CUcontext *pctx)
{
    SIM_ENTER();
    return ctx_pop(pctx);
}

SIM_EXPORT CUresult cuCtxSetCurrent(CUcontext ctx)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!ctx) {
        if (tl_depth) tl_depth--;
        return CUDA_SUCCESS;
    }
    if (!ctx_valid(ctx)) return CUDA_ERROR_INVALID_CONTEXT;
    if (tl_depth) tl_stack[tl_depth - 1] = ctx;
    else tl_stack[tl_depth++] = ctx;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuCtxGetCurrent(CUcontext *pctx)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!pctx) return CUDA_ERROR_INVALID_VALUE;
    *pctx = tl_depth ? tl_stack[tl_depth - 1] : NULL;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuCtxGetDevice(CUdevice *device)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    CUcontext c;
    CUresult r = sim_ctx_current(&c);
    if (r != CUDA_SUCCESS) return r;
    if (!device) return CUDA_ERROR_INVALID_VALUE;
    *device = c->device;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuCtxGetDevice_v2(CUdevice *device, CUcontext ctx)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    CUcontext c = ctx;
    if (!c) {
        CUresult r = sim_ctx_current(&c);
        if (r != CUDA_SUCCESS) return r;
    }
    if (!ctx_valid(c)) return CUDA_ERROR_INVALID_CONTEXT;
    if (!device) return CUDA_ERROR_INVALID_VALUE;
    *device = c->device;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuCtxGetFlags(unsigned int *flags)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    CUcontext c;
    CUresult r = sim_ctx_current(&c);
    if (r != CUDA_SUCCESS) return r;
    if (!flags) return CUDA_ERROR_INVALID_VALUE;
    *flags = c->flags;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuCtxSetFlags(unsigned int flags)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    CUcontext c;
    CUresult r = sim_ctx_current(&c);
    if (r != CUDA_SUCCESS) return r;
    c->flags = flags;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuCtxGetId(CUcontext ctx, unsigned long long *ctxId)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    CUcontext c = ctx;
    if (!c) {
        CUresult r = sim_ctx_current(&c);
        if (r != CUDA_SUCCESS) return r;
    }
    if (!ctx_valid(c)) return CUDA_ERROR_INVALID_CONTEXT;
    if (!ctxId) return CUDA_ERROR_INVALID_VALUE;
    *ctxId = c->id;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuCtxGetApiVersion(CUcontext ctx, unsigned int *version)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (ctx && !ctx_valid(ctx)) return CUDA_ERROR_INVALID_CONTEXT;
    if (!version) return CUDA_ERROR_INVALID_VALUE;
    *version = 3020; /* what the driver reports for contexts made by the v2+ API */
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuCtxGetStreamPriorityRange(int *leastPriority, int *greatestPriority)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (leastPriority) *leastPriority = 0;
    if (greatestPriority) *greatestPriority = -5;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuCtxGetLimit(size_t *pvalue, CUlimit limit)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!pvalue || (unsigned)limit >= 16) return CUDA_ERROR_INVALID_VALUE;
    size_t v = g_limits[limit];
    if (!v) {
        switch (limit) {
        case CU_LIMIT_STACK_SIZE: v = 1024; break;
        case CU_LIMIT_PRINTF_FIFO_SIZE: v = 1 << 20; break;
        case CU_LIMIT_MALLOC_HEAP_SIZE: v = 8 << 20; break;
        case CU_LIMIT_DEV_RUNTIME_PENDING_LAUNCH_COUNT: v = 2048; break;
        case CU_LIMIT_MAX_L2_FETCH_GRANULARITY: v = 32; break;
        default: break;
        }
    }
    *pvalue = v;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuCtxSetLimit(CUlimit limit, size_t value)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if ((unsigned)limit >= 16) return CUDA_ERROR_INVALID_VALUE;
    g_limits[limit] = value;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuCtxGetCacheConfig(CUfunc_cache *pconfig)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!pconfig) return CUDA_ERROR_INVALID_VALUE;
    *pconfig = CU_FUNC_CACHE_PREFER_NONE;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuCtxSetCacheConfig(CUfunc_cache config)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    (void)config;
    return CUDA_SUCCESS;
}

CUresult sim_ctx_sync(CUcontext c)
{
    CUresult cr = sim_capture_unsafe_call(); /* a device-wide sync cannot be captured */
    if (cr != CUDA_SUCCESS) return cr;
    pthread_mutex_lock(&g_sim.ctx_mu);
    size_t n = 0;
    for (struct CUstream_st *s = c->streams; s; s = s->next) n++;
    struct CUstream_st **v = calloc(n + 1, sizeof *v);
    if (!v) {
        pthread_mutex_unlock(&g_sim.ctx_mu);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    n = 0;
    for (struct CUstream_st *s = c->streams; s; s = s->next) v[n++] = s;
    pthread_mutex_unlock(&g_sim.ctx_mu);
    /* Streams are never freed (only stopped), so waiting without ctx_mu is safe. */
    for (size_t i = 0; i < n; i++) sim_stream_wait_idle(v[i]);
    free(v);
    sim_stream_wait_idle(c->legacy);
    return sim_ctx_check(c);
}

SIM_EXPORT CUresult cuCtxSynchronize(void)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    CUcontext c;
    CUresult r = sim_ctx_current(&c);
    if (r != CUDA_SUCCESS) return r;
    if ((r = sim_capture_ctx_sync_check(c)) != CUDA_SUCCESS) return r;
    return sim_ctx_sync(c);
}

SIM_EXPORT CUresult cuCtxSynchronize_v2(CUcontext ctx)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    CUcontext c = ctx;
    if (!c) {
        CUresult r = sim_ctx_current(&c);
        if (r != CUDA_SUCCESS) return r;
    }
    if (!ctx_valid(c)) return CUDA_ERROR_INVALID_CONTEXT;
    CUresult r = sim_capture_ctx_sync_check(c);
    if (r != CUDA_SUCCESS) return r;
    return sim_ctx_sync(c);
}
