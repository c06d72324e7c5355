/* sim/space.c — the simulated device's address space and physical memory.
 *
 * Device addresses live in one host VA range reserved at start (PROT_NONE, MAP_NORESERVE),
 * so they are disjoint from every host allocation and any touch of a part of it that is
 * not mapped faults. Physical device memory is one memfd: an allocation takes an offset
 * range of it (counted against HMT_SIM_MEMORY) and is mapped into the device range with
 * mmap(MAP_FIXED); releasing it punches a hole so the pages go back to the host.
 * Address maps are sorted arrays searched by bisection: small, and cheap enough at the
 * allocation counts a driver sees.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

sim_global g_sim = {
    .once = PTHREAD_ONCE_INIT,
    .ctx_mu = PTHREAD_MUTEX_INITIALIZER,
    .mem_mu = PTHREAD_MUTEX_INITIALIZER,
    .q_mu = PTHREAD_MUTEX_INITIALIZER,
    .stat_mu = PTHREAD_MUTEX_INITIALIZER,
    .done_cv = PTHREAD_COND_INITIALIZER,
    .memfd = -1,
    .next_id = 1,
};

/* ---- sorted maps -------------------------------------------------------------------- */

size_t sim_map_lower(sim_map *m, uintptr_t addr)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->v[mid].start + m->v[mid].size <= addr) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

sim_ent *sim_map_find(sim_map *m, uintptr_t addr)
{
    size_t i = sim_map_lower(m, addr);
    if (i < m->n && m->v[i].start <= addr && addr < m->v[i].start + m->v[i].size)
        return &m->v[i];
    return NULL;
}

static int grow(sim_ent **v, size_t *cap, size_t need)
{
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap * 2 : 64;
    while (nc < need) nc *= 2;
    sim_ent *nv = realloc(*v, nc * sizeof *nv);
    if (!nv) return -ENOMEM;
    *v = nv;
    *cap = nc;
    return 0;
}

int sim_map_insert(sim_map *m, uintptr_t start, size_t size, void *obj)
{
    if (grow(&m->v, &m->cap, m->n + 1)) return -ENOMEM;
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->v[mid].start < start) lo = mid + 1;
        else hi = mid;
    }
    memmove(&m->v[lo + 1], &m->v[lo], (m->n - lo) * sizeof *m->v);
    m->v[lo] = (sim_ent){start, size, obj};
    m->n++;
    return 0;
}

void *sim_map_remove(sim_map *m, uintptr_t start)
{
    sim_ent *e = sim_map_find(m, start);
    if (!e || e->start != start) return NULL;
    void *obj = e->obj;
    size_t i = (size_t)(e - m->v);
    memmove(&m->v[i], &m->v[i + 1], (m->n - i - 1) * sizeof *m->v);
    m->n--;
    return obj;
}

/* ---- arenas: sorted free extents, first fit ----------------------------------------- */

int sim_arena_init(sim_arena *a, uintptr_t start, size_t size)
{
    if (grow(&a->v, &a->cap, 1)) return -ENOMEM;
    a->v[0] = (sim_ent){start, size, NULL};
    a->n = 1;
    return 0;
}

static void arena_cut(sim_arena *a, size_t i, uintptr_t s, size_t size)
{
    /* Remove [s, s+size) from free extent i; caller ensures it is inside and that there
     * is room for one more extent. */
    sim_ent e = a->v[i];
    uintptr_t end = s + size, eend = e.start + e.size;
    if (s == e.start && end == eend) {
        memmove(&a->v[i], &a->v[i + 1], (a->n - i - 1) * sizeof *a->v);
        a->n--;
    } else if (s == e.start) {
        a->v[i].start = end;
        a->v[i].size = eend - end;
    } else if (end == eend) {
        a->v[i].size = s - e.start;
    } else {
        memmove(&a->v[i + 2], &a->v[i + 1], (a->n - i - 1) * sizeof *a->v);
        a->v[i].size = s - e.start;
        a->v[i + 1] = (sim_ent){end, eend - end, NULL};
        a->n++;
    }
}

int sim_arena_alloc(sim_arena *a, size_t size, size_t align, uintptr_t *out)
{
    if (grow(&a->v, &a->cap, a->n + 1)) return -ENOMEM;
    if (align == 0) align = 1;
    for (size_t i = 0; i < a->n; i++) {
        uintptr_t s = (a->v[i].start + align - 1) / align * align;
        if (s < a->v[i].start || s - a->v[i].start > a->v[i].size) continue;
        if (a->v[i].start + a->v[i].size - s < size) continue;
        arena_cut(a, i, s, size);
        *out = s;
        return 0;
    }
    return -ENOMEM;
}

int sim_arena_take(sim_arena *a, uintptr_t start, size_t size)
{
    if (grow(&a->v, &a->cap, a->n + 1)) return -ENOMEM;
    sim_ent *e = sim_map_find((sim_map *)a, start);
    if (!e || start + size > e->start + e->size || start + size < start) return -EEXIST;
    arena_cut(a, (size_t)(e - a->v), start, size);
    return 0;
}

void sim_arena_free(sim_arena *a, uintptr_t start, size_t size)
{
    size_t i = sim_map_lower((sim_map *)a, start);
    /* i: first free extent ending after start; merge with neighbours. */
    bool left = i > 0 && a->v[i - 1].start + a->v[i - 1].size == start;
    bool right = i < a->n && a->v[i].start == start + size;
    if (left && right) {
        a->v[i - 1].size += size + a->v[i].size;
        memmove(&a->v[i], &a->v[i + 1], (a->n - i - 1) * sizeof *a->v);
        a->n--;
    } else if (left) {
        a->v[i - 1].size += size;
    } else if (right) {
        a->v[i].start = start;
        a->v[i].size += size;
    } else {
        if (grow(&a->v, &a->cap, a->n + 1)) return; /* leaks the extent; never in practice */
        memmove(&a->v[i + 1], &a->v[i], (a->n - i) * sizeof *a->v);
        a->v[i] = (sim_ent){start, size, NULL};
        a->n++;
    }
}

/* ---- one-time setup ----------------------------------------------------------------- */

void sim_stats_setup(void);

/* After fork() the child has none of the stream workers, like a CUDA process whose child
 * may not use the parent's CUDA state: every call needing init fails there
 * (CUDA_ERROR_NOT_INITIALIZED) instead of hanging, and the child never writes the parent's
 * stats file. */
static void forked_child(void)
{
    atomic_store(&g_sim.initialized, 0);
    g_sim.init_rc = CUDA_ERROR_NOT_INITIALIZED;
    g_opt.stats = NULL;
}

static void setup_once(void)
{
    sim_options_load();
    g_sim.va_size = g_opt.va_size;
    /* Sanitizer runtimes (TSan above all) leave less contiguous address space; halve the
     * range until it fits, down to twice the device memory. */
    void *p = MAP_FAILED;
    for (;;) {
        p = mmap(NULL, g_sim.va_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
        if (p != MAP_FAILED || g_sim.va_size / 2 < 2 * g_opt.memory) break;
        g_sim.va_size = g_sim.va_size / 2 / SIM_GRANULARITY * SIM_GRANULARITY;
    }
    if (g_sim.va_size != g_opt.va_size && p != MAP_FAILED && g_opt.verbose)
        sim_warn("device address range reduced to %zu bytes (HMT_SIM_VA)", g_sim.va_size);
    if (p == MAP_FAILED) {
        sim_warn("cannot reserve %zu bytes of address space for the device range; set "
                 "HMT_SIM_VA smaller", g_sim.va_size);
        g_sim.init_rc = CUDA_ERROR_OUT_OF_MEMORY;
        return;
    }
    /* Align the base to the VMM granularity so reservations come out aligned. */
    uintptr_t base = ((uintptr_t)p + SIM_GRANULARITY - 1) / SIM_GRANULARITY * SIM_GRANULARITY;
    g_sim.va_base = base;
    g_sim.va_size = (g_sim.va_size - (base - (uintptr_t)p)) / SIM_GRANULARITY * SIM_GRANULARITY;
    g_sim.memfd = memfd_create("hmt-sim-device", MFD_CLOEXEC);
    if (g_sim.memfd < 0 || ftruncate(g_sim.memfd, (off_t)g_sim.va_size) != 0) {
        sim_warn("cannot create the device memory file (memfd_create/ftruncate failed)");
        g_sim.init_rc = CUDA_ERROR_OUT_OF_MEMORY;
        return;
    }
    /* Keep the first granule unused so no device pointer is ever the range base. */
    if (sim_arena_init(&g_sim.va, base + SIM_GRANULARITY, g_sim.va_size - SIM_GRANULARITY) ||
        sim_arena_init(&g_sim.phys, 0, g_sim.va_size)) {
        g_sim.init_rc = CUDA_ERROR_OUT_OF_MEMORY;
        return;
    }
    sim_fault_install();
    sim_stats_setup();
    pthread_atfork(NULL, NULL, forked_child);
    g_sim.init_rc = CUDA_SUCCESS;
}

CUresult sim_setup(void)
{
    pthread_once(&g_sim.once, setup_once);
    return (CUresult)g_sim.init_rc;
}

bool sim_in_device_range(uintptr_t a, size_t n)
{
    return g_sim.va_base && a >= g_sim.va_base && a - g_sim.va_base < g_sim.va_size &&
           n <= g_sim.va_size - (a - g_sim.va_base);
}

int sim_phys_alloc(size_t size, bool device, uint64_t *off)
{
    if (device && g_sim.device_bytes + size > g_opt.memory) return -ENOMEM;
    uintptr_t o;
    if (sim_arena_alloc(&g_sim.phys, size, SIM_PAGE, &o)) return -ENOMEM;
    *off = o;
    if (device) {
        g_sim.device_bytes += size;
        if (g_sim.device_bytes > g_sim.peak_device_bytes)
            g_sim.peak_device_bytes = g_sim.device_bytes;
    } else {
        g_sim.host_vmm_bytes += size;
    }
    return 0;
}

void sim_phys_free(uint64_t off, size_t size, bool device)
{
    /* Give the pages back to the host; the offset range is reusable. */
    (void)fallocate(g_sim.memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
                    (off_t)size);
    sim_arena_free(&g_sim.phys, off, size);
    if (device) g_sim.device_bytes -= size;
    else g_sim.host_vmm_bytes -= size;
}

int sim_va_map(uintptr_t va, size_t size, uint64_t off, int prot)
{
    void *p = mmap((void *)va, size, prot, MAP_SHARED | MAP_FIXED, g_sim.memfd, (off_t)off);
    return p == MAP_FAILED ? -errno : 0;
}

int sim_va_unmap(uintptr_t va, size_t size)
{
    void *p = mmap((void *)va, size, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
    return p == MAP_FAILED ? -errno : 0;
}

sim_handle *sim_handle_lookup(CUmemGenericAllocationHandle h)
{
    sim_ent *e = sim_map_find(&g_sim.handles, (uintptr_t)h);
    if (!e || e->start != (uintptr_t)h) return NULL;
    sim_handle *sh = e->obj;
    return sh->refs > 0 ? sh : NULL;
}

void sim_vmm_handle_gone(sim_handle *h);   /* vmm.c: drops its parked page tables */

static void handle_maybe_free(sim_handle *h)
{
    if (h->refs > 0 || h->maps > 0) return;
    sim_vmm_handle_gone(h);
    sim_phys_free(h->phys, h->size, h->device);
    sim_map_remove(&g_sim.handles, (uintptr_t)h);
    h->magic = 0;
    free(h);
}

void sim_handle_unref(sim_handle *h)
{
    h->refs--;
    handle_maybe_free(h);
}

void sim_handle_unmapped(sim_handle *h)
{
    h->maps--;
    handle_maybe_free(h);
}

sim_host *sim_host_find(uintptr_t p, size_t n)
{
    sim_ent *e = sim_map_find(&g_sim.hosts, p);
    if (!e) return NULL;
    if (n > e->size - (p - e->start)) return NULL;
    return e->obj;
}
