/* sim/memory.c — cuMemAlloc family, pinned host memory and pointer attributes.
 *
 * A cuMemAlloc allocation is a VA range of the device range plus a run of the memfd mapped
 * read-write onto it (rounded up to 4 KiB pages; allocations of 2 MiB or more are 2 MiB
 * aligned as on a GPU). Its bytes count against HMT_SIM_MEMORY like VMM handles do.
 * cuMemFree waits for the context's work first, as the driver's implicit synchronisation
 * does. Pinned host memory is ordinary page-aligned host memory the sim remembers, so
 * that copies and pointer attributes can tell pinned from pageable; its device pointer is
 * its host address (unified addressing).
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

static CUresult need_ctx(CUcontext *c)
{
    SIM_NEED_INIT();
    CUresult r = sim_ctx_current(c);
    if (r != CUDA_SUCCESS) return r;
    return sim_ctx_check(*c);
}

/* mem_mu held. */
static CUresult alloc_locked(CUcontext c, size_t size, struct CUmemPoolHandle_st *pool, CUdeviceptr *out)
{
    size_t span = round_up(size, SIM_PAGE);
    size_t align = span >= SIM_GRANULARITY ? SIM_GRANULARITY : SIM_PAGE;
    sim_handle *h = calloc(1, sizeof *h);
    sim_region *reg = calloc(1, sizeof *reg);
    sim_mapping *m = calloc(1, sizeof *m);
    uintptr_t va = 0;
    uint64_t off;
    if (!h || !reg || !m) goto oom;
    if (sim_phys_alloc(span, true, &off)) goto oom;
    h->phys = off;
    h->size = span;
    h->device = true;
    h->refs = 1;
    h->id = atomic_fetch_add(&g_sim.next_id, 1);
    if (sim_arena_alloc(&g_sim.va, span, align, &va)) goto oom_phys;
    if (sim_va_map(va, span, off, PROT_READ | PROT_WRITE)) goto oom_va;
    *reg = (sim_region){.kind = REG_ALLOC, .va = va, .size = size, .span = span, .ctx = c,
                        .id = h->id, .h = h, .async = pool != NULL, .pool = pool};
    *m = (sim_mapping){.va = va, .size = span, .h = h,
                       .access = CU_MEM_ACCESS_FLAGS_PROT_READWRITE, .reg = reg};
    if (sim_map_insert(&g_sim.regions, va, span, reg)) goto oom_map;
    if (sim_map_insert(&g_sim.mappings, va, span, m)) {
        sim_map_remove(&g_sim.regions, va);
        goto oom_map;
    }
    if (pool) {
        pool->used += span;
        if (pool->used > pool->used_high) pool->used_high = pool->used;
    }
    *out = (CUdeviceptr)va;
    return CUDA_SUCCESS;
oom_map:
    sim_va_unmap(va, span);
oom_va:
    sim_arena_free(&g_sim.va, va, span);
oom_phys:
    sim_phys_free(off, span, true);
oom:
    free(h);
    free(reg);
    free(m);
    return CUDA_ERROR_OUT_OF_MEMORY;
}

static CUresult mem_alloc(CUdeviceptr *dptr, size_t size, bool managed)
{
    CUcontext c;
    CUresult r = need_ctx(&c);
    if (r != CUDA_SUCCESS) return r;
    if ((r = sim_capture_unsafe_call()) != CUDA_SUCCESS) return r;
    if (!dptr || size == 0) return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_sim.mem_mu);
    r = alloc_locked(c, size, NULL, dptr);
    if (r == CUDA_SUCCESS && managed) {
        sim_ent *e = sim_map_find(&g_sim.regions, (uintptr_t)*dptr);
        ((sim_region *)e->obj)->managed = true;
    }
    pthread_mutex_unlock(&g_sim.mem_mu);
    return r;
}

SIM_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
    SIM_ENTER();
    return mem_alloc(dptr, bytesize, false);
}

SIM_EXPORT CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags)
{
    SIM_ENTER();
    if (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST)
        return CUDA_ERROR_INVALID_VALUE;
    /* Device memory is host-addressable in the sim, so managed memory is just memory
     * (no migration); it answers IS_MANAGED = 1. */
    return mem_alloc(dptr, bytesize, true);
}

SIM_EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pPitch, size_t WidthInBytes,
                                       size_t Height, unsigned int ElementSizeBytes)
{
    SIM_ENTER();
    if (!pPitch || !WidthInBytes || !Height ||
        (ElementSizeBytes != 4 && ElementSizeBytes != 8 && ElementSizeBytes != 16))
        return CUDA_ERROR_INVALID_VALUE;
    size_t pitch = round_up(WidthInBytes, 512);
    CUresult r = mem_alloc(dptr, pitch * Height, false);
    if (r == CUDA_SUCCESS) *pPitch = pitch;
    return r;
}

CUresult sim_mem_free(uintptr_t va)
{
    pthread_mutex_lock(&g_sim.mem_mu);
    sim_ent *e = sim_map_find(&g_sim.regions, va);
    sim_region *reg = e ? e->obj : NULL;
    if (!reg || reg->kind != REG_ALLOC || reg->va != va) {
        pthread_mutex_unlock(&g_sim.mem_mu);
        return CUDA_ERROR_INVALID_VALUE;
    }
    sim_va_unmap(va, reg->span);
    free(sim_map_remove(&g_sim.mappings, va));
    sim_map_remove(&g_sim.regions, va);
    sim_handle_unref(reg->h);
    sim_arena_free(&g_sim.va, va, reg->span);
    if (reg->pool) reg->pool->used -= reg->span;
    pthread_mutex_unlock(&g_sim.mem_mu);
    free(reg);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr)
{
    SIM_ENTER();
    CUcontext c;
    CUresult r = need_ctx(&c);
    if (r != CUDA_SUCCESS) return r;
    if (dptr == 0) return CUDA_SUCCESS;
    if ((r = sim_capture_unsafe_call()) != CUDA_SUCCESS) return r;
    /* Implicit synchronisation: work already queued may still use the memory. */
    r = sim_ctx_sync(c);
    if (r != CUDA_SUCCESS) return r;
    return sim_mem_free((uintptr_t)dptr);
}

SIM_EXPORT CUresult cuMemGetInfo_v2(size_t *free_b, size_t *total)
{
    SIM_ENTER();
    CUcontext c;
    CUresult r = need_ctx(&c);
    if (r != CUDA_SUCCESS) return r;
    if (!free_b || !total) return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_sim.mem_mu);
    *total = g_opt.memory;
    *free_b = g_opt.memory - g_sim.device_bytes;
    pthread_mutex_unlock(&g_sim.mem_mu);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuMemGetAddressRange_v2(CUdeviceptr *pbase, size_t *psize, CUdeviceptr dptr)
{
    SIM_ENTER();
    CUcontext c;
    CUresult r = need_ctx(&c);
    if (r != CUDA_SUCCESS) return r;
    r = CUDA_ERROR_NOT_FOUND;
    pthread_mutex_lock(&g_sim.mem_mu);
    sim_ent *e = sim_map_find(&g_sim.mappings, (uintptr_t)dptr);
    if (e) {
        sim_mapping *m = e->obj;
        uintptr_t base = m->va;
        size_t size = m->size;
        if (m->reg->kind == REG_ALLOC) size = m->reg->size;
        if ((uintptr_t)dptr < base + size) {
            if (pbase) *pbase = base;
            if (psize) *psize = size;
            r = CUDA_SUCCESS;
        }
    }
    pthread_mutex_unlock(&g_sim.mem_mu);
    return r;
}

/* ---- stream-ordered allocation ------------------------------------------------------- */

CUresult sim_alloc_async(CUdeviceptr *dptr, size_t size, struct CUmemPoolHandle_st *pool,
                         CUstream h, bool ptsz)
{
    struct CUstream_st *s;
    CUresult r = sim_stream_resolve(h, ptsz, &s);
    if (r != CUDA_SUCCESS) return r;
    pthread_mutex_lock(&g_sim.q_mu);
    bool capturing = s->cap != NULL;
    pthread_mutex_unlock(&g_sim.q_mu);
    if (capturing) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED; /* no mem-alloc nodes */
    if ((r = sim_ctx_check(s->ctx)) != CUDA_SUCCESS) return r;
    if (!dptr || size == 0) return CUDA_ERROR_INVALID_VALUE;
    /* Memory is taken now; stream order only matters for reuse, which the sim never
     * does before the free has run. */
    pthread_mutex_lock(&g_sim.mem_mu);
    if (!pool) pool = sim_pool_current();
    r = sim_pool_valid(pool) ? alloc_locked(s->ctx, size, pool, dptr) : CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_unlock(&g_sim.mem_mu);
    return r;
}

SIM_EXPORT CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
    SIM_ENTER();
    return sim_alloc_async(dptr, bytesize, NULL, hStream, false);
}

SIM_EXPORT CUresult cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
    SIM_ENTER();
    return sim_alloc_async(dptr, bytesize, NULL, hStream, true);
}

static CUresult free_async(CUdeviceptr dptr, CUstream h, bool ptsz)
{
    struct CUstream_st *s;
    CUresult r = sim_stream_resolve(h, ptsz, &s);
    if (r != CUDA_SUCCESS) return r;
    pthread_mutex_lock(&g_sim.mem_mu);
    sim_ent *e = sim_map_find(&g_sim.regions, (uintptr_t)dptr);
    bool ok = e && ((sim_region *)e->obj)->kind == REG_ALLOC && e->start == (uintptr_t)dptr;
    pthread_mutex_unlock(&g_sim.mem_mu);
    if (!ok) return CUDA_ERROR_INVALID_VALUE;
    sim_work w = {.kind = W_FREE, .free = {(uintptr_t)dptr}};
    return sim_submit(s, &w);
}

SIM_EXPORT CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream)
{
    SIM_ENTER();
    return free_async(dptr, hStream, false);
}

SIM_EXPORT CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream hStream)
{
    SIM_ENTER();
    return free_async(dptr, hStream, true);
}

/* ---- pinned host memory --------------------------------------------------------------- */

static CUresult host_alloc(void **pp, size_t size, unsigned flags)
{
    CUcontext c;
    CUresult r = need_ctx(&c);
    if (r != CUDA_SUCCESS) return r;
    if ((r = sim_capture_unsafe_call()) != CUDA_SUCCESS) return r;
    if (!pp || size == 0) return CUDA_ERROR_INVALID_VALUE;
    if (flags & ~(unsigned)(CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP |
                            CU_MEMHOSTALLOC_WRITECOMBINED))
        return CUDA_ERROR_INVALID_VALUE;
    size_t span = round_up(size, SIM_PAGE);
    void *p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return CUDA_ERROR_OUT_OF_MEMORY;
    sim_host *h = calloc(1, sizeof *h);
    if (!h) {
        munmap(p, span);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    *h = (sim_host){.p = (uintptr_t)p, .size = size, .flags = flags | CU_MEMHOSTALLOC_DEVICEMAP,
                    .ctx = c, .id = atomic_fetch_add(&g_sim.next_id, 1)};
    pthread_mutex_lock(&g_sim.mem_mu);
    int rc = sim_map_insert(&g_sim.hosts, (uintptr_t)p, size, h);
    if (!rc) g_sim.pinned_bytes += size;
    pthread_mutex_unlock(&g_sim.mem_mu);
    if (rc) {
        munmap(p, span);
        free(h);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    *pp = p;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuMemAllocHost_v2(void **pp, size_t bytesize)
{
    SIM_ENTER();
    return host_alloc(pp, bytesize, 0);
}

SIM_EXPORT CUresult cuMemHostAlloc(void **pp, size_t bytesize, unsigned int Flags)
{
    SIM_ENTER();
    return host_alloc(pp, bytesize, Flags);
}

/* Takes the pinned host region that starts at p out of the host map (and its bytes off the
 * pinned count) for cuMemFreeHost (registered false: allocated by the sim) or
 * cuMemHostUnregister (registered true); `bad` when p starts no such region. The caller
 * releases *out. Takes mem_mu alone (lock order, internal.h). */
static CUresult host_take(void *p, bool registered, CUresult bad, sim_host **out)
{
    CUcontext c;
    CUresult r = need_ctx(&c);
    if (r != CUDA_SUCCESS) return r;
    if ((r = sim_capture_unsafe_call()) != CUDA_SUCCESS) return r;
    pthread_mutex_lock(&g_sim.mem_mu);
    sim_ent *e = sim_map_find(&g_sim.hosts, (uintptr_t)p);
    sim_host *h = e ? e->obj : NULL;
    if (!h || h->p != (uintptr_t)p || h->registered != registered) {
        pthread_mutex_unlock(&g_sim.mem_mu);
        return bad;
    }
    sim_map_remove(&g_sim.hosts, h->p);
    g_sim.pinned_bytes -= h->size;
    pthread_mutex_unlock(&g_sim.mem_mu);
    *out = h;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuMemFreeHost(void *p)
{
    SIM_ENTER();
    sim_host *h;
    CUresult r = host_take(p, false, CUDA_ERROR_INVALID_VALUE, &h);
    if (r != CUDA_SUCCESS) return r;
    munmap(p, round_up(h->size, SIM_PAGE));
    free(h);
    return CUDA_SUCCESS;
}

static CUresult host_register(void *p, size_t size, unsigned flags)
{
    CUcontext c;
    CUresult r = need_ctx(&c);
    if (r != CUDA_SUCCESS) return r;
    if ((r = sim_capture_unsafe_call()) != CUDA_SUCCESS) return r;
    if (!p || size == 0) return CUDA_ERROR_INVALID_VALUE;
    if (flags & ~(unsigned)(CU_MEMHOSTREGISTER_PORTABLE | CU_MEMHOSTREGISTER_DEVICEMAP |
                            CU_MEMHOSTREGISTER_IOMEMORY | CU_MEMHOSTREGISTER_READ_ONLY))
        return CUDA_ERROR_INVALID_VALUE;
    if (sim_in_device_range((uintptr_t)p, 1)) return CUDA_ERROR_INVALID_VALUE;
    sim_host *h = calloc(1, sizeof *h);
    if (!h) return CUDA_ERROR_OUT_OF_MEMORY;
    *h = (sim_host){.p = (uintptr_t)p, .size = size, .flags = flags, .registered = true,
                    .ctx = c, .id = atomic_fetch_add(&g_sim.next_id, 1)};
    pthread_mutex_lock(&g_sim.mem_mu);
    size_t i = sim_map_lower(&g_sim.hosts, (uintptr_t)p);
    if (i < g_sim.hosts.n && g_sim.hosts.v[i].start < (uintptr_t)p + size) {
        r = CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
    } else if (sim_map_insert(&g_sim.hosts, (uintptr_t)p, size, h)) {
        r = CUDA_ERROR_OUT_OF_MEMORY;
    } else {
        g_sim.pinned_bytes += size;
    }
    pthread_mutex_unlock(&g_sim.mem_mu);
    if (r != CUDA_SUCCESS) free(h);
    return r;
}

SIM_EXPORT CUresult cuMemHostRegister_v2(void *p, size_t bytesize, unsigned int Flags)
{
    SIM_ENTER();
    return host_register(p, bytesize, Flags);
}

SIM_EXPORT CUresult cuMemHostRegister(void *p, size_t bytesize, unsigned int Flags)
{
    SIM_ENTER();
    return host_register(p, bytesize, Flags);
}

SIM_EXPORT CUresult cuMemHostUnregister(void *p)
{
    SIM_ENTER();
    sim_host *h;
    CUresult r = host_take(p, true, CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED, &h);
    if (r != CUDA_SUCCESS) return r;
    free(h);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr *pdptr, void *p, unsigned int Flags)
{
    SIM_ENTER();
    CUcontext c;
    CUresult r = need_ctx(&c);
    if (r != CUDA_SUCCESS) return r;
    if (!pdptr || Flags != 0) return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_sim.mem_mu);
    sim_host *h = sim_host_find((uintptr_t)p, 1);
    pthread_mutex_unlock(&g_sim.mem_mu);
    if (!h) return CUDA_ERROR_INVALID_VALUE;
    *pdptr = (CUdeviceptr)(uintptr_t)p;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuMemHostGetFlags(unsigned int *pFlags, void *p)
{
    SIM_ENTER();
    CUcontext c;
    CUresult r = need_ctx(&c);
    if (r != CUDA_SUCCESS) return r;
    if (!pFlags) return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_sim.mem_mu);
    sim_host *h = sim_host_find((uintptr_t)p, 1);
    if (h) *pFlags = h->flags;
    pthread_mutex_unlock(&g_sim.mem_mu);
    return h ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* ---- pointer attributes ----------------------------------------------------------------- */

typedef struct ptr_info {
    bool known, device, host_located, vmm, managed;
    CUcontext ctx;
    uintptr_t range_start, map_base;
    size_t range_size, map_size;
    unsigned long long id;
    unsigned access;
    unsigned long long handle_types;
    CUmemoryPool pool;
} ptr_info;

static void lookup(uintptr_t p, ptr_info *pi)
{
    memset(pi, 0, sizeof *pi);
    pthread_mutex_lock(&g_sim.mem_mu);
    sim_ent *e = sim_map_find(&g_sim.mappings, p);
    if (e) {
        sim_mapping *m = e->obj;
        pi->known = true;
        pi->device = true;
        if (m->reg->kind == REG_ALLOC) {
            pi->ctx = m->reg->ctx;
            pi->range_start = m->reg->va;
            pi->range_size = m->reg->size;
            pi->id = m->reg->id;
            pi->access = CU_POINTER_ATTRIBUTE_ACCESS_FLAG_READWRITE;
            pi->pool = m->reg->pool;
            pi->managed = m->reg->managed;
        } else {
            pi->vmm = true;
            pi->host_located = !m->h->device;
            pi->range_start = m->va;
            pi->range_size = m->size;
            pi->id = m->h->id;
            pi->access = m->access == CU_MEM_ACCESS_FLAGS_PROT_READWRITE
                             ? CU_POINTER_ATTRIBUTE_ACCESS_FLAG_READWRITE
                         : m->access == CU_MEM_ACCESS_FLAGS_PROT_READ
                             ? CU_POINTER_ATTRIBUTE_ACCESS_FLAG_READ
                             : CU_POINTER_ATTRIBUTE_ACCESS_FLAG_NONE;
            pi->handle_types = m->h->prop.requestedHandleTypes;
        }
        pi->map_base = m->va;
        pi->map_size = m->size;
    } else if (!sim_in_device_range(p, 1)) {
        sim_host *h = sim_host_find(p, 1);
        if (h) {
            pi->known = true;
            pi->ctx = h->ctx;
            pi->range_start = h->p;
            pi->range_size = h->size;
            pi->map_base = h->p;
            pi->map_size = h->size;
            pi->id = h->id;
            pi->access = CU_POINTER_ATTRIBUTE_ACCESS_FLAG_READWRITE;
        }
    }
    pthread_mutex_unlock(&g_sim.mem_mu);
}

/* Writes one attribute; unknown pointers get zeros when `lenient` (cuPointerGetAttributes). */
static CUresult attr_one(void *data, CUpointer_attribute a, uintptr_t p, const ptr_info *pi,
                         bool lenient)
{
    if (!data) return CUDA_ERROR_INVALID_VALUE;
    if (!pi->known && !lenient) return CUDA_ERROR_INVALID_VALUE;
    bool k = pi->known;
    switch (a) {
    case CU_POINTER_ATTRIBUTE_CONTEXT: *(CUcontext *)data = pi->ctx; break;
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
        *(unsigned *)data = !k ? 0 : (pi->device && !pi->host_located) ? CU_MEMORYTYPE_DEVICE
                                                                       : CU_MEMORYTYPE_HOST;
        break;
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER: *(CUdeviceptr *)data = k ? p : 0; break;
    case CU_POINTER_ATTRIBUTE_HOST_POINTER:
        if (k && pi->device && !lenient) return CUDA_ERROR_INVALID_VALUE;
        *(void **)data = k && !pi->device ? (void *)p : NULL;
        break;
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS: *(int *)data = 0; break;
    case CU_POINTER_ATTRIBUTE_BUFFER_ID: *(unsigned long long *)data = pi->id; break;
    case CU_POINTER_ATTRIBUTE_IS_MANAGED: *(int *)data = pi->managed; break;
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL: *(int *)data = k ? 0 : -2; break;
    case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE:
        *(int *)data = k && pi->device && !pi->vmm;
        break;
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR: *(CUdeviceptr *)data = pi->range_start; break;
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE: *(size_t *)data = pi->range_size; break;
    case CU_POINTER_ATTRIBUTE_MAPPED: *(int *)data = k; break;
    case CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES:
        *(unsigned long long *)data = pi->handle_types;
        break;
    case CU_POINTER_ATTRIBUTE_IS_GPU_DIRECT_RDMA_CAPABLE: *(int *)data = 0; break;
    case CU_POINTER_ATTRIBUTE_ACCESS_FLAGS: *(unsigned *)data = pi->access; break;
    case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE: *(CUmemoryPool *)data = pi->pool; break;
    case CU_POINTER_ATTRIBUTE_MAPPING_SIZE: *(size_t *)data = pi->map_size; break;
    case CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR: *(void **)data = (void *)pi->map_base; break;
    case CU_POINTER_ATTRIBUTE_MEMORY_BLOCK_ID: *(unsigned long long *)data = pi->id; break;
    case CU_POINTER_ATTRIBUTE_IS_HW_DECOMPRESS_CAPABLE: *(int *)data = 0; break;
    default: return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuPointerGetAttribute(void *data, CUpointer_attribute attribute,
                                          CUdeviceptr ptr)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    ptr_info pi;
    lookup((uintptr_t)ptr, &pi);
    return attr_one(data, attribute, (uintptr_t)ptr, &pi, false);
}

SIM_EXPORT CUresult cuPointerGetAttributes(unsigned int numAttributes,
                                           CUpointer_attribute *attributes, void **data,
                                           CUdeviceptr ptr)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!attributes || !data) return CUDA_ERROR_INVALID_VALUE;
    ptr_info pi;
    lookup((uintptr_t)ptr, &pi);
    for (unsigned i = 0; i < numAttributes; i++) {
        CUresult r = attr_one(data[i], attributes[i], (uintptr_t)ptr, &pi, true);
        if (r != CUDA_SUCCESS) return r;
    }
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuPointerSetAttribute(const void *value, CUpointer_attribute attribute,
                                          CUdeviceptr ptr)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    ptr_info pi;
    lookup((uintptr_t)ptr, &pi);
    if (!value || !pi.known || attribute != CU_POINTER_ATTRIBUTE_SYNC_MEMOPS)
        return CUDA_ERROR_INVALID_VALUE;
    return CUDA_SUCCESS;
}
