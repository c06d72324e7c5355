/* sim/pool.c — memory pools for stream-ordered allocation (cuMemPool*, cuMemAllocFromPoolAsync).
 *
 * The device has a default pool and a settable current pool, as in CUDA 11.2+. The sim
 * never caches freed blocks — a free returns the bytes to the device at once — so pools
 * only carry attributes and usage counters (reserved = used). Pools live forever once
 * made (a destroyed pool's handle then fails cleanly); all pool state is under mem_mu.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define SIM_MAGIC_POOL 0x504f4f4cu

static struct CUmemPoolHandle_st g_default_pool = {
    .magic = SIM_MAGIC_POOL,
    .props = {.allocType = CU_MEM_ALLOCATION_TYPE_PINNED,
              .location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0}},
    .reuse = {1, 1, 1},
};
static struct CUmemPoolHandle_st *g_current_pool = &g_default_pool;
static struct CUmemPoolHandle_st *g_pools; /* made by cuMemPoolCreate, never freed */

CUresult sim_alloc_async(CUdeviceptr *dptr, size_t size, struct CUmemPoolHandle_st *pool,
                         CUstream h, bool ptsz);

struct CUmemPoolHandle_st *sim_pool_current(void) { return g_current_pool; }

bool sim_pool_valid(struct CUmemPoolHandle_st *p) { return p && p->magic == SIM_MAGIC_POOL; }

static bool valid_locked(CUmemoryPool p) { return sim_pool_valid(p); }

SIM_EXPORT CUresult cuDeviceGetDefaultMemPool(CUmemoryPool *pool_out, CUdevice dev)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    if (!pool_out) return CUDA_ERROR_INVALID_VALUE;
    *pool_out = &g_default_pool;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuDeviceGetMemPool(CUmemoryPool *pool, CUdevice dev)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    if (!pool) return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_sim.mem_mu);
    *pool = g_current_pool;
    pthread_mutex_unlock(&g_sim.mem_mu);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuDeviceSetMemPool(CUdevice dev, CUmemoryPool pool)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    CUresult r = CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_sim.mem_mu);
    if (valid_locked(pool) && pool->props.location.type == CU_MEM_LOCATION_TYPE_DEVICE) {
        g_current_pool = pool;
        r = CUDA_SUCCESS;
    }
    pthread_mutex_unlock(&g_sim.mem_mu);
    return r;
}

SIM_EXPORT CUresult cuMemPoolCreate(CUmemoryPool *pool, const CUmemPoolProps *props)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!pool || !props || props->allocType != CU_MEM_ALLOCATION_TYPE_PINNED)
        return CUDA_ERROR_INVALID_VALUE;
    if (props->location.type != CU_MEM_LOCATION_TYPE_DEVICE) return CUDA_ERROR_NOT_SUPPORTED;
    if (props->location.id != 0) return CUDA_ERROR_INVALID_DEVICE;
    if (props->handleTypes != CU_MEM_HANDLE_TYPE_NONE) return CUDA_ERROR_NOT_SUPPORTED;
    struct CUmemPoolHandle_st *p = calloc(1, sizeof *p);
    if (!p) return CUDA_ERROR_OUT_OF_MEMORY;
    *p = (struct CUmemPoolHandle_st){.magic = SIM_MAGIC_POOL, .props = *props, .reuse = {1, 1, 1}};
    pthread_mutex_lock(&g_sim.mem_mu);
    p->next = g_pools;
    g_pools = p;
    pthread_mutex_unlock(&g_sim.mem_mu);
    *pool = p;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuMemPoolDestroy(CUmemoryPool pool)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    CUresult r = CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_sim.mem_mu);
    if (valid_locked(pool) && pool != &g_default_pool) {
        /* Outstanding allocations stay valid until freed, as in CUDA; the struct is kept
         * for them (g_pools: pools are few). */
        pool->magic = 0;
        if (g_current_pool == pool) g_current_pool = &g_default_pool;
        r = CUDA_SUCCESS;
    }
    pthread_mutex_unlock(&g_sim.mem_mu);
    return r;
}

SIM_EXPORT CUresult cuMemPoolTrimTo(CUmemoryPool pool, size_t minBytesToKeep)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    (void)minBytesToKeep; /* nothing is cached */
    pthread_mutex_lock(&g_sim.mem_mu);
    bool ok = valid_locked(pool);
    pthread_mutex_unlock(&g_sim.mem_mu);
    return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

static CUresult pool_attr(CUmemoryPool pool, CUmemPool_attribute attr, void *value, bool set)
{
    SIM_NEED_INIT();
    if (!value) return CUDA_ERROR_INVALID_VALUE;
    CUresult r = CUDA_SUCCESS;
    pthread_mutex_lock(&g_sim.mem_mu);
    if (!valid_locked(pool)) {
        r = CUDA_ERROR_INVALID_VALUE;
    } else {
        switch (attr) {
        case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES:
        case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC:
        case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES: {
            int *slot = &pool->reuse[attr - CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES];
            if (set) *slot = *(int *)value != 0;
            else *(int *)value = *slot;
            break;
        }
        case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD:
            if (set) pool->release_threshold = *(cuuint64_t *)value;
            else *(cuuint64_t *)value = pool->release_threshold;
            break;
        case CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT:
        case CU_MEMPOOL_ATTR_USED_MEM_CURRENT:
            if (set) r = CUDA_ERROR_INVALID_VALUE;
            else *(cuuint64_t *)value = pool->used;
            break;
        case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH:
        case CU_MEMPOOL_ATTR_USED_MEM_HIGH:
            /* Only resetting to 0 is allowed. */
            if (set) {
                if (*(cuuint64_t *)value != 0) r = CUDA_ERROR_INVALID_VALUE;
                else pool->used_high = pool->used;
            } else {
                *(cuuint64_t *)value = pool->used_high;
            }
            break;
        default:
            r = CUDA_ERROR_INVALID_VALUE;
        }
    }
    pthread_mutex_unlock(&g_sim.mem_mu);
    return r;
}

SIM_EXPORT CUresult cuMemPoolSetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void *value)
{
    SIM_ENTER();
    return pool_attr(pool, attr, value, true);
}

SIM_EXPORT CUresult cuMemPoolGetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void *value)
{
    SIM_ENTER();
    return pool_attr(pool, attr, value, false);
}

SIM_EXPORT CUresult cuMemPoolSetAccess(CUmemoryPool pool, const CUmemAccessDesc *map, size_t count)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (count && !map) return CUDA_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < count; i++)
        if (map[i].location.type == CU_MEM_LOCATION_TYPE_DEVICE && map[i].location.id != 0)
            return CUDA_ERROR_INVALID_DEVICE;
    pthread_mutex_lock(&g_sim.mem_mu);
    bool ok = valid_locked(pool);
    pthread_mutex_unlock(&g_sim.mem_mu);
    return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

SIM_EXPORT CUresult cuMemPoolGetAccess(CUmemAccess_flags *flags, CUmemoryPool memPool,
                                       CUmemLocation *location)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!flags || !location) return CUDA_ERROR_INVALID_VALUE;
    if (location->type == CU_MEM_LOCATION_TYPE_DEVICE && location->id != 0)
        return CUDA_ERROR_INVALID_DEVICE;
    pthread_mutex_lock(&g_sim.mem_mu);
    bool ok = valid_locked(memPool);
    pthread_mutex_unlock(&g_sim.mem_mu);
    if (!ok) return CUDA_ERROR_INVALID_VALUE;
    *flags = location->type == CU_MEM_LOCATION_TYPE_DEVICE ? CU_MEM_ACCESS_FLAGS_PROT_READWRITE
                                                           : CU_MEM_ACCESS_FLAGS_PROT_NONE;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
                                            CUstream hStream)
{
    SIM_ENTER();
    if (!pool) return CUDA_ERROR_INVALID_VALUE;
    return sim_alloc_async(dptr, bytesize, pool, hStream, false);
}

SIM_EXPORT CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t bytesize,
                                                 CUmemoryPool pool, CUstream hStream)
{
    SIM_ENTER();
    if (!pool) return CUDA_ERROR_INVALID_VALUE;
    return sim_alloc_async(dptr, bytesize, pool, hStream, true);
}
