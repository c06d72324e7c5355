/* sim/vmm.c — the virtual memory management API with the driver's rules.
 *
 * cuMemAddressReserve takes VA from the device range (nothing mapped: any touch faults).
 * cuMemCreate takes physical memory from the memfd: device-located handles count against
 * HMT_SIM_MEMORY, host-located ones (CU_MEM_LOCATION_TYPE_HOST / HOST_NUMA) do not.
 * cuMemMap = mmap(MAP_FIXED) of the handle's memfd range with PROT_NONE — no access until
 * cuMemSetAccess (mprotect). cuMemUnmap puts the range back to a PROT_NONE reservation;
 * like the driver it does not wait for work in flight, so a kernel still using the range
 * faults and the context gets CUDA_ERROR_ILLEGAL_ADDRESS.
 * Speed without changing what faults: an unmapped handle's page tables are kept aside
 * ("parked", PROT_NONE, outside the device range) and moved to the next VA the handle is
 * mapped at (mremap), and cuMemSetAccess fills the page tables of a fresh mapping in one call
 * — otherwise every cuMemMap costs one host page fault per 4 KiB on first touch, which
 * made eviction + fault-in on the sim several times slower than the copies themselves.
 * Rules enforced with CUDA_ERROR_INVALID_VALUE: sizes/addresses multiples of 2 MiB;
 * map only inside a reservation, onto VA that is not mapped, offset 0, size <= handle;
 * unmap whole mappings only; set access only on mapped VA; free a reservation only whole
 * and with nothing mapped in it (the last is the sim's choice, stricter than documented).
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14 */
#endif
/* Largest cuMemSetAccess range whose page tables are filled at the call (see there). */
#define SIM_POPULATE_MAX ((size_t)64 << 20)

static bool aligned(uintptr_t v) { return v % SIM_GRANULARITY == 0; }

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4 /* Linux 5.7; shared mappings since 5.13 */
#endif

/* Parked page tables (mem_mu): at most one per handle, keyed by the handle's address; obj is
 * a sim_ent holding the parked VA and size. Filled mappings (mem_mu): mappings whose page
 * tables are already filled (moved from a park, or populated), keyed by VA. */
static sim_map g_parked, g_filled;

/* On cuMemUnmap of one mapping: keep its page tables aside if the handle has none parked
 * yet. The range is made PROT_NONE first and then moved away with MREMAP_DONTUNMAP, which
 * leaves a PROT_NONE, table-less mapping behind that sim_va_unmap then replaces: at no
 * moment is the old VA accessible or a hole another mmap could take. Failure (older kernel)
 * just leaves the tables to be dropped. */
static void park(sim_mapping *m)
{
    if (sim_map_find(&g_parked, (uintptr_t)m->h) || !sim_map_find(&g_filled, m->va)) return;
    if (mprotect((void *)m->va, m->size, PROT_NONE) != 0) return;
    sim_ent *pk = malloc(sizeof *pk);
    if (!pk) return;
    void *p = mremap((void *)m->va, m->size, m->size, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
    if (p == MAP_FAILED) { free(pk); return; }
    *pk = (sim_ent){(uintptr_t)p, m->size, NULL};
    if (sim_map_insert(&g_parked, (uintptr_t)m->h, 1, pk)) { munmap(p, m->size); free(pk); }
}

/* Drops h's parked page tables (if any); returns the parked VA if its size is `size` and
 * want is set (the caller then owns it), else 0. */
static uintptr_t unpark(sim_handle *h, size_t size, bool want)
{
    sim_ent *e = sim_map_find(&g_parked, (uintptr_t)h);
    if (!e || e->start != (uintptr_t)h) return 0;
    sim_ent *pk = e->obj;
    uintptr_t p = pk->start;
    size_t psize = pk->size;
    free(pk);
    sim_map_remove(&g_parked, (uintptr_t)h);
    if (want && psize == size) return p;
    munmap((void *)p, psize);
    return 0;
}

/* space.c, when a handle's memory goes (mem_mu held). */
void sim_vmm_handle_gone(sim_handle *h) { unpark(h, 0, false); }

static CUresult vmm_ready(void)
{
    SIM_NEED_INIT();
    CUcontext c;
    if (sim_ctx_current(&c) == CUDA_SUCCESS) return sim_ctx_check(c);
    return CUDA_SUCCESS;
}

static CUresult check_prop(const CUmemAllocationProp *prop, bool *device)
{
    if (!prop || prop->type != CU_MEM_ALLOCATION_TYPE_PINNED) return CUDA_ERROR_INVALID_VALUE;
    switch (prop->location.type) {
    case CU_MEM_LOCATION_TYPE_DEVICE:
        if (prop->location.id != 0) return CUDA_ERROR_INVALID_DEVICE;
        *device = true;
        break;
    case CU_MEM_LOCATION_TYPE_HOST:
        *device = false;
        break;
    case CU_MEM_LOCATION_TYPE_HOST_NUMA:
        if (prop->location.id != 0) return CUDA_ERROR_INVALID_VALUE;
        *device = false;
        break;
    default: /* HOST_NUMA_CURRENT and the rest are invalid for cuMemCreate */
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (prop->requestedHandleTypes != CU_MEM_HANDLE_TYPE_NONE) return CUDA_ERROR_NOT_SUPPORTED;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuMemGetAllocationGranularity(size_t *granularity,
                                                  const CUmemAllocationProp *prop,
                                                  CUmemAllocationGranularity_flags option)
{
    SIM_ENTER();
    CUresult r = vmm_ready();
    if (r != CUDA_SUCCESS) return r;
    bool dev;
    if (!granularity) return CUDA_ERROR_INVALID_VALUE;
    if ((r = check_prop(prop, &dev)) != CUDA_SUCCESS && r != CUDA_ERROR_NOT_SUPPORTED) return r;
    if (option != CU_MEM_ALLOC_GRANULARITY_MINIMUM && option != CU_MEM_ALLOC_GRANULARITY_RECOMMENDED)
        return CUDA_ERROR_INVALID_VALUE;
    *granularity = SIM_GRANULARITY;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t alignment,
                                        CUdeviceptr addr, unsigned long long flags)
{
    SIM_ENTER();
    CUresult r = vmm_ready();
    if (r != CUDA_SUCCESS) return r;
    if (!ptr || size == 0 || !aligned(size) || flags != 0) return CUDA_ERROR_INVALID_VALUE;
    if (alignment & (alignment - 1)) return CUDA_ERROR_INVALID_VALUE;
    if (alignment < SIM_GRANULARITY) alignment = SIM_GRANULARITY;
    sim_region *reg = calloc(1, sizeof *reg);
    if (!reg) return CUDA_ERROR_OUT_OF_MEMORY;
    pthread_mutex_lock(&g_sim.mem_mu);
    uintptr_t va = 0;
    bool got = false;
    if (addr && (uintptr_t)addr % alignment == 0 && sim_in_device_range((uintptr_t)addr, size))
        got = sim_arena_take(&g_sim.va, (uintptr_t)addr, size) == 0;
    if (got) va = (uintptr_t)addr;
    else if (sim_arena_alloc(&g_sim.va, size, alignment, &va) == 0) got = true;
    if (got) {
        *reg = (sim_region){.kind = REG_RESERVE, .va = va, .size = size, .span = size,
                            .id = atomic_fetch_add(&g_sim.next_id, 1)};
        if (sim_map_insert(&g_sim.regions, va, size, reg)) {
            sim_arena_free(&g_sim.va, va, size);
            got = false;
        }
    }
    pthread_mutex_unlock(&g_sim.mem_mu);
    if (!got) {
        free(reg);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    *ptr = (CUdeviceptr)va;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size)
{
    SIM_ENTER();
    CUresult r = vmm_ready();
    if (r != CUDA_SUCCESS) return r;
    pthread_mutex_lock(&g_sim.mem_mu);
    sim_ent *e = sim_map_find(&g_sim.regions, (uintptr_t)ptr);
    sim_region *reg = e ? e->obj : NULL;
    r = CUDA_ERROR_INVALID_VALUE;
    if (reg && reg->kind == REG_RESERVE && reg->va == (uintptr_t)ptr && reg->span == size) {
        size_t i = sim_map_lower(&g_sim.mappings, reg->va);
        bool busy = i < g_sim.mappings.n && g_sim.mappings.v[i].start < reg->va + reg->span;
        if (!busy) {
            sim_map_remove(&g_sim.regions, reg->va);
            sim_arena_free(&g_sim.va, reg->va, reg->span);
            free(reg);
            r = CUDA_SUCCESS;
        }
    }
    pthread_mutex_unlock(&g_sim.mem_mu);
    return r;
}

SIM_EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size,
                                const CUmemAllocationProp *prop, unsigned long long flags)
{
    SIM_ENTER();
    CUresult r = vmm_ready();
    if (r != CUDA_SUCCESS) return r;
    bool device;
    if (!handle || flags != 0) return CUDA_ERROR_INVALID_VALUE;
    if ((r = check_prop(prop, &device)) != CUDA_SUCCESS) return r;
    if (size == 0 || !aligned(size)) return CUDA_ERROR_INVALID_VALUE;
    sim_handle *h = calloc(1, sizeof *h);
    if (!h) return CUDA_ERROR_OUT_OF_MEMORY;
    pthread_mutex_lock(&g_sim.mem_mu);
    uint64_t off;
    if (sim_phys_alloc(size, device, &off)) {
        r = CUDA_ERROR_OUT_OF_MEMORY;
    } else {
        *h = (sim_handle){.magic = 0x484e444c, .phys = off, .size = size, .refs = 1,
                          .device = device, .prop = *prop,
                          .id = atomic_fetch_add(&g_sim.next_id, 1)};
        if (sim_map_insert(&g_sim.handles, (uintptr_t)h, 1, h)) {
            sim_phys_free(off, size, device);
            r = CUDA_ERROR_OUT_OF_MEMORY;
        }
    }
    pthread_mutex_unlock(&g_sim.mem_mu);
    if (r != CUDA_SUCCESS) {
        free(h);
        return r;
    }
    *handle = (CUmemGenericAllocationHandle)(uintptr_t)h;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle handle)
{
    SIM_ENTER();
    CUresult r = vmm_ready();
    if (r != CUDA_SUCCESS) return r;
    pthread_mutex_lock(&g_sim.mem_mu);
    sim_handle *h = sim_handle_lookup(handle);
    if (h) sim_handle_unref(h);
    pthread_mutex_unlock(&g_sim.mem_mu);
    return h ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

SIM_EXPORT CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset,
                             CUmemGenericAllocationHandle handle, unsigned long long flags)
{
    SIM_ENTER();
    CUresult r = vmm_ready();
    if (r != CUDA_SUCCESS) return r;
    if (offset != 0 || flags != 0 || size == 0 || !aligned(ptr) || !aligned(size))
        return CUDA_ERROR_INVALID_VALUE;
    sim_mapping *m = calloc(1, sizeof *m);
    if (!m) return CUDA_ERROR_OUT_OF_MEMORY;
    r = CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_sim.mem_mu);
    sim_handle *h = sim_handle_lookup(handle);
    sim_ent *e = sim_map_find(&g_sim.regions, (uintptr_t)ptr);
    sim_region *reg = e ? e->obj : NULL;
    if (!h) goto out;
    if (size > h->size) goto out;
    if (!reg || reg->kind != REG_RESERVE || (uintptr_t)ptr + size > reg->va + reg->span) goto out;
    size_t i = sim_map_lower(&g_sim.mappings, (uintptr_t)ptr);
    if (i < g_sim.mappings.n && g_sim.mappings.v[i].start < (uintptr_t)ptr + size) goto out;
    /* The handle's parked page tables, moved here (MREMAP_FIXED replaces the reservation
     * atomically; still PROT_NONE); else a fresh mapping. */
    uintptr_t parked = unpark(h, size, true);
    bool filled = false;
    if (parked) {
        void *p = mremap((void *)parked, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)ptr);
        if (p == (void *)ptr) filled = true;
        else munmap((void *)parked, size);
    }
    if (!filled && sim_va_map((uintptr_t)ptr, size, h->phys, PROT_NONE)) {
        r = CUDA_ERROR_OUT_OF_MEMORY;
        goto out;
    }
    *m = (sim_mapping){.va = (uintptr_t)ptr, .size = size, .h = h,
                       .access = CU_MEM_ACCESS_FLAGS_PROT_NONE, .reg = reg};
    if (sim_map_insert(&g_sim.mappings, m->va, size, m)) {
        sim_va_unmap(m->va, size);
        r = CUDA_ERROR_OUT_OF_MEMORY;
        goto out;
    }
    if (filled) (void)sim_map_insert(&g_filled, m->va, size, NULL);
    h->maps++;
    m = NULL;
    r = CUDA_SUCCESS;
out:
    pthread_mutex_unlock(&g_sim.mem_mu);
    free(m);
    return r;
}

SIM_EXPORT CUresult cuMemUnmap(CUdeviceptr ptr, size_t size)
{
    SIM_ENTER();
    CUresult r = vmm_ready();
    if (r != CUDA_SUCCESS) return r;
    if (size == 0 || !aligned(ptr) || !aligned(size)) return CUDA_ERROR_INVALID_VALUE;
    uintptr_t a = (uintptr_t)ptr, end = a + size;
    pthread_mutex_lock(&g_sim.mem_mu);
    /* The range must be exactly a run of whole, contiguous VMM mappings. */
    size_t i = sim_map_lower(&g_sim.mappings, a), j = i;
    uintptr_t at = a;
    while (j < g_sim.mappings.n && at < end) {
        sim_mapping *m = g_sim.mappings.v[j].obj;
        if (m->va != at || m->reg->kind != REG_RESERVE || m->va + m->size > end) break;
        at += m->size;
        j++;
    }
    if (at != end) {
        pthread_mutex_unlock(&g_sim.mem_mu);
        return CUDA_ERROR_INVALID_VALUE;
    }
    for (size_t k = i; k < j; k++) {
        sim_mapping *m = g_sim.mappings.v[i].obj;
        park(m);
        sim_map_remove(&g_filled, m->va);
        sim_va_unmap(m->va, m->size);
        sim_map_remove(&g_sim.mappings, m->va);
        sim_handle_unmapped(m->h);
        free(m);
    }
    pthread_mutex_unlock(&g_sim.mem_mu);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuMemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc *desc,
                                   size_t count)
{
    SIM_ENTER();
    CUresult r = vmm_ready();
    if (r != CUDA_SUCCESS) return r;
    if (!desc || count == 0 || size == 0 || !aligned(ptr) || !aligned(size))
        return CUDA_ERROR_INVALID_VALUE;
    int prot = -1;
    CUmemAccess_flags flags = CU_MEM_ACCESS_FLAGS_PROT_NONE;
    for (size_t k = 0; k < count; k++) {
        const CUmemAccessDesc *d = &desc[k];
        if (d->flags != CU_MEM_ACCESS_FLAGS_PROT_NONE && d->flags != CU_MEM_ACCESS_FLAGS_PROT_READ &&
            d->flags != CU_MEM_ACCESS_FLAGS_PROT_READWRITE)
            return CUDA_ERROR_INVALID_VALUE;
        if (d->location.type == CU_MEM_LOCATION_TYPE_DEVICE) {
            if (d->location.id != 0) return CUDA_ERROR_INVALID_DEVICE;
            flags = d->flags;
            prot = d->flags == CU_MEM_ACCESS_FLAGS_PROT_READWRITE ? PROT_READ | PROT_WRITE
                   : d->flags == CU_MEM_ACCESS_FLAGS_PROT_READ    ? PROT_READ
                                                                  : PROT_NONE;
        } else if (d->location.type != CU_MEM_LOCATION_TYPE_HOST &&
                   d->location.type != CU_MEM_LOCATION_TYPE_HOST_NUMA) {
            return CUDA_ERROR_INVALID_VALUE;
        }
    }
    uintptr_t a = (uintptr_t)ptr, end = a + size;
    pthread_mutex_lock(&g_sim.mem_mu);
    /* Every byte of the range must be mapped (VMM mappings only). */
    size_t i = sim_map_lower(&g_sim.mappings, a), j = i;
    uintptr_t at = a;
    while (j < g_sim.mappings.n && at < end) {
        sim_mapping *m = g_sim.mappings.v[j].obj;
        if (m->va > at || m->reg->kind != REG_RESERVE) break;
        at = m->va + m->size;
        j++;
    }
    if (at < end) {
        pthread_mutex_unlock(&g_sim.mem_mu);
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (prot >= 0) {
        if (mprotect((void *)a, size, prot) != 0) {
            pthread_mutex_unlock(&g_sim.mem_mu);
            return CUDA_ERROR_INVALID_VALUE;
        }
        for (size_t k = i; k < j; k++) ((sim_mapping *)g_sim.mappings.v[k].obj)->access = flags;
        /* Fill the page tables of fresh mappings now (one call, read faults with fault-around)
         * rather than one page fault per 4 KiB on first touch: a real driver's memory is
         * committed and mapped when this returns. Access rules are unchanged (protections
         * and unmapped VA still fault). Bounded, so a test that maps a large handle and never
         * touches it does not commit host memory; failure (older kernels) only costs speed. */
        for (size_t k = i; prot != PROT_NONE && k < j; k++) {
            sim_mapping *m = g_sim.mappings.v[k].obj;
            if (m->size > SIM_POPULATE_MAX || sim_map_find(&g_filled, m->va)) continue;
            uintptr_t lo = m->va > a ? m->va : a, hi = m->va + m->size < end ? m->va + m->size : end;
            if (madvise((void *)lo, hi - lo, MADV_POPULATE_READ) == 0 && lo == m->va &&
                hi == m->va + m->size)
                (void)sim_map_insert(&g_filled, m->va, m->size, NULL);
        }
    }
    pthread_mutex_unlock(&g_sim.mem_mu);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuMemGetAccess(unsigned long long *flags, const CUmemLocation *location,
                                   CUdeviceptr ptr)
{
    SIM_ENTER();
    CUresult r = vmm_ready();
    if (r != CUDA_SUCCESS) return r;
    if (!flags || !location) return CUDA_ERROR_INVALID_VALUE;
    if (location->type == CU_MEM_LOCATION_TYPE_DEVICE && location->id != 0)
        return CUDA_ERROR_INVALID_DEVICE;
    pthread_mutex_lock(&g_sim.mem_mu);
    sim_ent *e = sim_map_find(&g_sim.mappings, (uintptr_t)ptr);
    sim_mapping *m = e ? e->obj : NULL;
    if (m && m->reg->kind == REG_RESERVE) {
        *flags = location->type == CU_MEM_LOCATION_TYPE_DEVICE ? m->access
                                                               : CU_MEM_ACCESS_FLAGS_PROT_NONE;
        r = CUDA_SUCCESS;
    } else {
        r = CUDA_ERROR_INVALID_VALUE;
    }
    pthread_mutex_unlock(&g_sim.mem_mu);
    return r;
}

SIM_EXPORT CUresult cuMemRetainAllocationHandle(CUmemGenericAllocationHandle *handle, void *addr)
{
    SIM_ENTER();
    CUresult r = vmm_ready();
    if (r != CUDA_SUCCESS) return r;
    if (!handle) return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_sim.mem_mu);
    sim_ent *e = sim_map_find(&g_sim.mappings, (uintptr_t)addr);
    sim_mapping *m = e ? e->obj : NULL;
    if (m && m->reg->kind == REG_RESERVE) {
        m->h->refs++;
        *handle = (CUmemGenericAllocationHandle)(uintptr_t)m->h;
        r = CUDA_SUCCESS;
    } else {
        r = CUDA_ERROR_INVALID_VALUE;
    }
    pthread_mutex_unlock(&g_sim.mem_mu);
    return r;
}

SIM_EXPORT CUresult cuMemGetAllocationPropertiesFromHandle(CUmemAllocationProp *prop,
                                                           CUmemGenericAllocationHandle handle)
{
    SIM_ENTER();
    CUresult r = vmm_ready();
    if (r != CUDA_SUCCESS) return r;
    if (!prop) return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_sim.mem_mu);
    sim_handle *h = sim_handle_lookup(handle);
    if (h) *prop = h->prop;
    pthread_mutex_unlock(&g_sim.mem_mu);
    return h ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
