/* space.c — managed allocations as the program sees them: the allocation map (VA range ->
 * hmt_alloc) and the handlers that hand out, free and describe managed device memory
 * (cuMemAlloc_v2, cuMemAllocPitch_v2, cuMemFree_v2, cuMemGetAddressRange_v2,
 * cuPointerGetAttribute(s), cuMemGetInfo_v2).
 *
 * The map is a sorted array searched by binary search under hmt_map_lock; allocations are
 * few (thousands) next to lookups, so inserts may be O(n). Two atomics bound the managed VA
 * so that the launch scan rejects most 8-byte values without the lock. Memory hmt did not
 * allocate (cuMemAllocAsync/pools, the program's own VMM mappings, host memory) is never in
 * the map and every handler forwards it untouched (invariant 5). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "residency.h"

pthread_mutex_t hmt_map_lock = PTHREAD_MUTEX_INITIALIZER;

static struct hmt_alloc **map;
static size_t map_n, map_cap;
static _Atomic uint64_t map_lo = UINT64_MAX, map_hi = 0;

int hmt_space_maybe(CUdeviceptr addr)
{
    return addr >= atomic_load_explicit(&map_lo, memory_order_relaxed) &&
           addr < atomic_load_explicit(&map_hi, memory_order_relaxed);
}

int hmt_space_maybe_any(void)
{
    return atomic_load_explicit(&map_hi, memory_order_relaxed) != 0;
}

/* index of the last allocation with base <= addr, or -1 */
static long floor_index(CUdeviceptr addr)
{
    long lo = 0, hi = (long)map_n - 1, r = -1;
    while (lo <= hi) {
        long mid = lo + (hi - lo) / 2;
        if (map[mid]->base <= addr) { r = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return r;
}

struct hmt_alloc *hmt_space_find(CUdeviceptr addr)
{
    if (!hmt_space_maybe(addr)) return NULL;
    long i = floor_index(addr);
    if (i < 0) return NULL;
    struct hmt_alloc *a = map[i];
    return addr < a->base + a->reserved ? a : NULL;
}

static void update_bounds(void)
{
    uint64_t lo = UINT64_MAX, hi = 0;
    if (map_n) { lo = map[0]->base; hi = map[map_n - 1]->base + map[map_n - 1]->reserved; }
    atomic_store(&map_lo, lo);
    atomic_store(&map_hi, hi);
}

void hmt_space_insert(struct hmt_alloc *a)
{
    if (map_n == map_cap) {
        size_t nc = map_cap ? map_cap * 2 : 64;
        struct hmt_alloc **nm = realloc(map, nc * sizeof(*nm));
        if (!nm) abort();   /* out of host memory inside the driver shim: nothing sane left */
        map = nm; map_cap = nc;
    }
    long i = floor_index(a->base) + 1;
    memmove(&map[i + 1], &map[i], (map_n - (size_t)i) * sizeof(*map));
    map[i] = a;
    map_n++;
    update_bounds();
}

void hmt_space_remove(struct hmt_alloc *a)
{
    long i = floor_index(a->base);
    if (i < 0 || map[i] != a) return;
    memmove(&map[i], &map[i + 1], (map_n - (size_t)i - 1) * sizeof(*map));
    map_n--;
    update_bounds();
}

void hmt_space_each(void (*fn)(struct hmt_alloc *, void *), void *arg)
{
    for (size_t i = 0; i < map_n; i++) fn(map[i], arg);
}

/* ---- handlers ---------------------------------------------------------------------- */

CUresult hmt_h_mem_alloc(CUresult (*real)(CUdeviceptr *, size_t), CUdeviceptr *dptr, size_t bytes)
{
    if (!hmt_engaged || !dptr || bytes == 0 || !hmt_res_managing()) return real(dptr, bytes);
    return hmt_res_alloc(dptr, bytes);
}

CUresult hmt_h_mem_alloc_pitch(CUresult (*real)(CUdeviceptr *, size_t *, size_t, size_t, unsigned int),
                               CUdeviceptr *dptr, size_t *pitch, size_t width, size_t height,
                               unsigned int elem)
{
    if (!hmt_engaged || !dptr || !pitch || !width || !height || !hmt_res_managing())
        return real(dptr, pitch, width, height, elem);
    if (elem != 4 && elem != 8 && elem != 16) return CUDA_ERROR_INVALID_VALUE;
    /* The pitch is the driver's own choice (its alignment is not an attribute: the texture
     * pitch alignment is smaller than what cuMemAllocPitch uses), so ask it with one row,
     * and give that row back at once. */
    CUdeviceptr probe = 0;
    size_t p = 0;
    CUresult pr = real(&probe, &p, width, 1, elem);
    if (pr != CUDA_SUCCESS) return pr;
    hmt_real.cuMemFree_v2(probe);
    if (!p) return CUDA_ERROR_INVALID_VALUE;
    if (height > SIZE_MAX / p) return CUDA_ERROR_INVALID_VALUE;
    CUresult r = hmt_res_alloc(dptr, p * height);
    if (r == CUDA_SUCCESS) *pitch = p;
    return r;
}

CUresult hmt_h_mem_free(CUresult (*real)(CUdeviceptr), CUdeviceptr dptr)
{
    if (!hmt_engaged || !hmt_space_maybe(dptr)) return real(dptr);
    CUresult r = hmt_res_free(dptr);
    return r == CUDA_ERROR_NOT_FOUND ? real(dptr) : r;
}

/* Snapshot of what the program may ask about one managed pointer. */
struct ptr_info { CUdeviceptr base; size_t size; uint64_t id; CUdeviceptr resident_addr; };

static int lookup_info(CUdeviceptr p, struct ptr_info *pi)
{
    if (!hmt_space_maybe(p)) return 0;
    pthread_mutex_lock(&hmt_map_lock);
    struct hmt_alloc *a = hmt_space_find(p);
    if (a && p >= a->base + a->size) a = NULL;   /* in the rounding tail: not the program's */
    if (a) {
        pi->base = a->base; pi->size = a->size; pi->id = a->id; pi->resident_addr = 0;
        size_t ci = (p - a->base) / hmt_res.chunk;
        if (a->chunks[ci].state == HMT_CHUNK_RESIDENT) pi->resident_addr = p;
        else
            for (uint32_t i = 0; i < a->nchunks; i++)
                if (a->chunks[i].state == HMT_CHUNK_RESIDENT) {
                    pi->resident_addr = a->base + (CUdeviceptr)i * hmt_res.chunk; break;
                }
    }
    pthread_mutex_unlock(&hmt_map_lock);
    return a != NULL;
}

CUresult hmt_h_mem_get_address_range(CUresult (*real)(CUdeviceptr *, size_t *, CUdeviceptr),
                                     CUdeviceptr *pbase, size_t *psize, CUdeviceptr dptr)
{
    struct ptr_info pi;
    if (!hmt_engaged || !lookup_info(dptr, &pi)) return real(pbase, psize, dptr);
    if (pbase) *pbase = pi.base;
    if (psize) *psize = pi.size;
    return CUDA_SUCCESS;
}

/* One attribute of a managed pointer, as the driver answers for cuMemAlloc memory. */
/* CUDA_ERROR_NOT_FOUND: ask the driver about a resident address of the same allocation. */
static CUresult managed_attr(const struct ptr_info *pi, void *data, CUpointer_attribute attr,
                             CUdeviceptr p)
{
    switch (attr) {
    case CU_POINTER_ATTRIBUTE_CONTEXT: *(CUcontext *)data = hmt_res.ctx; return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE: *(unsigned int *)data = CU_MEMORYTYPE_DEVICE; return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER: *(CUdeviceptr *)data = p; return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_HOST_POINTER: return CUDA_ERROR_INVALID_VALUE;
    case CU_POINTER_ATTRIBUTE_BUFFER_ID: *(unsigned long long *)data = pi->id; return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_IS_MANAGED: *(unsigned int *)data = 0; return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL: *(int *)data = hmt_res.ordinal; return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR: *(CUdeviceptr *)data = pi->base; return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE: *(size_t *)data = pi->size; return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_MAPPED: *(unsigned int *)data = 1; return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE: *(unsigned int *)data = 0; return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES: *(unsigned long long *)data = 0; return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE: *(CUmemoryPool *)data = NULL; return CUDA_SUCCESS;
    default:
        /* Anything else (access flags, sync memops, ...): what the driver says about a
         * resident chunk of the same allocation. */
        return CUDA_ERROR_NOT_FOUND;
    }
}

/* With no chunk of the allocation resident there is no mapping to ask: the answers the
 * driver gives for cuMemAlloc memory. hmt maps every chunk read-write; sync memops is the
 * driver's default (0), as a set on evicted memory is not kept (res_attr_evicted). */
static CUresult evicted_attr(void *data, CUpointer_attribute attr)
{
    switch (attr) {
    case CU_POINTER_ATTRIBUTE_ACCESS_FLAGS:
        *(unsigned int *)data = CU_POINTER_ATTRIBUTE_ACCESS_FLAG_READWRITE;   /* an enum */
        return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS: *(unsigned int *)data = 0; return CUDA_SUCCESS;
    default: return CUDA_ERROR_INVALID_VALUE;
    }
}

CUresult hmt_h_pointer_get_attribute(CUresult (*real)(void *, CUpointer_attribute, CUdeviceptr),
                                     void *data, CUpointer_attribute attr, CUdeviceptr p)
{
    struct ptr_info pi;
    if (!hmt_engaged || !data || !lookup_info(p, &pi)) return real(data, attr, p);
    CUresult r = managed_attr(&pi, data, attr, p);
    if (r != CUDA_ERROR_NOT_FOUND) return r;
    return pi.resident_addr ? real(data, attr, pi.resident_addr) : evicted_attr(data, attr);
}

CUresult hmt_h_pointer_set_attribute(CUresult (*real)(const void *, CUpointer_attribute, CUdeviceptr),
                                     const void *value, CUpointer_attribute attr, CUdeviceptr p)
{
    struct ptr_info pi;
    if (!hmt_engaged || !value || !lookup_info(p, &pi)) return real(value, attr, p);
    /* The driver at a resident address of the allocation (its own checks, its own answer);
     * with none, sync memops (the one settable attribute) is accepted as for cuMemAlloc
     * memory, with nothing mapped to apply it to. */
    if (pi.resident_addr) return real(value, attr, pi.resident_addr);
    return attr == CU_POINTER_ATTRIBUTE_SYNC_MEMOPS ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult hmt_h_pointer_get_attributes(CUresult (*real)(unsigned int, CUpointer_attribute *, void **, CUdeviceptr),
                                      unsigned int n, CUpointer_attribute *attrs, void **data,
                                      CUdeviceptr p)
{
    struct ptr_info pi;
    if (!hmt_engaged || !attrs || !data || !lookup_info(p, &pi)) return real(n, attrs, data, p);
    /* Answer attribute by attribute; those the driver must answer go through the
     * single-attribute entry at a resident address of the same allocation. */
    for (unsigned i = 0; i < n; i++) {
        if (!data[i]) continue;
        if (attrs[i] == CU_POINTER_ATTRIBUTE_HOST_POINTER) {   /* the plural form: NULL */
            *(void **)data[i] = NULL;
            continue;
        }
        CUresult r = managed_attr(&pi, data[i], attrs[i], p);
        if (r != CUDA_ERROR_NOT_FOUND) continue;
        if (!pi.resident_addr) {
            (void)evicted_attr(data[i], attrs[i]);   /* others are left as they are */
            continue;
        }
        /* what the driver refuses (an attribute it does not know) it refuses for the whole
         * call, as without hmt (invariant 6) */
        r = real(1, &attrs[i], &data[i], pi.resident_addr);
        if (r != CUDA_SUCCESS) return r;
    }
    return CUDA_SUCCESS;
}

CUresult hmt_h_mem_get_info(CUresult (*real)(size_t *, size_t *), size_t *free_b, size_t *total_b)
{
    if (!hmt_engaged || !hmt_res_managing()) return real(free_b, total_b);
    /* The driver checks the arguments (NULL outputs are refused): call it as given. */
    CUresult r = real(free_b, total_b);
    if (r != CUDA_SUCCESS) return r;
    uint64_t res = hmt_res_resident();
    uint64_t budget = hmt_res.budget;
    uint64_t left = budget > res ? budget - res : 0;
    if (left < *free_b) *free_b = (size_t)left;
    if (budget < *total_b) *total_b = (size_t)budget;
    return CUDA_SUCCESS;
}
