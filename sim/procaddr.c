/* sim/procaddr.c — the sim's cuGetProcAddress (CUDA 11.3 ABI) and cuGetProcAddress_v2 (12.0).
 *
 * The CUDA runtime, PyTorch and hmt itself reach most driver functions through
 * cuGetProcAddress, not through the dynamic linker, so the sim must answer it exactly as the
 * real driver does: the base name plus cudaVersion select the newest ABI variant introduced at
 * or before cudaVersion, the per-thread-default-stream flag selects its _ptds/_ptsz export
 * where one exists. The (base, version, variant, exported name) rows come from
 * sim/procaddr_table.h, generated from the CUDA headers by sim/gen_procaddr.py.
 *
 * The chosen exported name is resolved inside the sim's own object, never through the global
 * scope: with libhmt.so preloaded, a global lookup would find hmt's wrapper and hmt could no
 * longer tell which ABI variant the driver handed out (it matches returned pointers against
 * the driver's exports). The lookup also bypasses any interposed dlsym (hmt hooks dlsym): the
 * real driver never asks the dynamic linker for its own functions, so an interposer must not
 * see the sim do it. Every driver name is exported by the sim (strong, or a weak stub from
 * sim/stubs.c), so every real CUDA 13 entry point yields a pointer, as on a GPU.
 */
#define _GNU_SOURCE
#include "internal.h" /* cuda.h with __CUDA_API_VERSION_INTERNAL: the 4-argument ABI too */

#include <cudaTypedefs.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>

#include "procaddr_table.h"

_Static_assert(SIM_DRIVER_VERSION == HMT_SIM_PROCADDR_CUDA_VERSION,
               "procaddr_table.h describes another CUDA version than the sim reports; "
               "rerun sim/gen_procaddr.py with the matching toolkit");

/* The flags the API defines; CU_GET_PROC_ADDRESS_DEFAULT (0) means legacy here, because the
 * per-thread default is a property of the caller's compilation, which the driver cannot see
 * (cuda.h's CUDA_API_PER_THREAD_DEFAULT_STREAM wrapper turns 0 into the per-thread flag
 * itself before calling the driver). */
#define PA_FLAGS_KNOWN (CU_GET_PROC_ADDRESS_LEGACY_STREAM | CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM)

typedef void *(*pa_dlsym_fn)(void *, const char *);

static pthread_once_t pa_once = PTHREAD_ONCE_INIT;
static void *pa_self;           /* handle of the object this file is linked into */
static pa_dlsym_fn pa_dlsym;    /* the C library's dlsym, not an interposer's */

static void pa_anchor(void) {}

/* The C library's own dlsym. An LD_PRELOADed library (libhmt.so) may define dlsym; a plain
 * call from here would go to it. dlvsym is not interposed by hmt, and the versions are
 * glibc's: GLIBC_2.34 (dlsym moved into libc), GLIBC_2.2.5 (x86-64), GLIBC_2.17 (aarch64). */
static pa_dlsym_fn pa_find_dlsym(void)
{
    static const char *const libs[] = {"libc.so.6", "libdl.so.2"};
    static const char *const vers[] = {"GLIBC_2.34", "GLIBC_2.2.5", "GLIBC_2.17"};
    for (size_t i = 0; i < sizeof libs / sizeof *libs; i++) {
        void *h = dlopen(libs[i], RTLD_NOLOAD | RTLD_LAZY);
        if (!h)
            continue;
        for (size_t j = 0; j < sizeof vers / sizeof *vers; j++) {
            void *f = dlvsym(h, "dlsym", vers[j]);
            if (f) {
                pa_dlsym_fn fn;
                memcpy(&fn, &f, sizeof fn);
                return fn;
            }
        }
    }
    return dlsym;
}

static void pa_init(void)
{
    Dl_info info;
    pa_dlsym = pa_find_dlsym();
    /* dladdr names the object containing pa_anchor (libcuda.so.1); NOLOAD returns the handle
     * of that already-loaded object, whose lookup scope starts with the sim itself. */
    if (dladdr((void *)&pa_anchor, &info) && info.dli_fname)
        pa_self = dlopen(info.dli_fname, RTLD_NOLOAD | RTLD_LAZY);
}

/* Index of the first table row for base, or -1. Rows of one base are contiguous. */
static int pa_find_base(const char *base)
{
    int lo = 0, hi = HMT_SIM_PA_TABLE_LEN;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (strcmp(hmt_sim_pa_table[mid].base, base) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < HMT_SIM_PA_TABLE_LEN && strcmp(hmt_sim_pa_table[lo].base, base) == 0 ? lo : -1;
}

/* Exported name for (base, cudaVersion, per_thread): the newest legacy ABI introduced at or
 * before cudaVersion, then, if per_thread, that ABI's _ptds/_ptsz export if it too was
 * introduced at or before cudaVersion. Sets *status as cuGetProcAddress reports it. */
static const char *pa_choose(const char *base, int cuda_version, int per_thread,
                             CUdriverProcAddressQueryResult *status)
{
    int first = pa_find_base(base);
    if (first < 0) {
        *status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
        return NULL;
    }
    const struct hmt_sim_pa_entry *legacy = NULL;
    int i;
    for (i = first; i < HMT_SIM_PA_TABLE_LEN && strcmp(hmt_sim_pa_table[i].base, base) == 0; i++) {
        const struct hmt_sim_pa_entry *e = &hmt_sim_pa_table[i];
        if ((e->variant == HMT_SIM_PA_NONE || e->variant == HMT_SIM_PA_LEGACY) &&
            e->version <= cuda_version && (!legacy || e->version > legacy->version))
            legacy = e;
    }
    if (!legacy) {
        *status = CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT;
        return NULL;
    }
    *status = CU_GET_PROC_ADDRESS_SUCCESS;
    if (!per_thread || legacy->variant != HMT_SIM_PA_LEGACY)
        return legacy->exported;
    size_t n = strlen(legacy->exported);
    for (int j = first; j < i; j++) {
        const struct hmt_sim_pa_entry *e = &hmt_sim_pa_table[j];
        if ((e->variant == HMT_SIM_PA_PTDS || e->variant == HMT_SIM_PA_PTSZ) &&
            e->version <= cuda_version && strncmp(e->exported, legacy->exported, n) == 0 &&
            strlen(e->exported) == n + 5 /* "_ptds" / "_ptsz" */)
            return e->exported;
    }
    return legacy->exported; /* per-thread variant newer than cudaVersion: legacy, as documented */
}

static CUresult pa_lookup(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags,
                          CUdriverProcAddressQueryResult *symbolStatus)
{
    /* Argument errors leave *pfn and *symbolStatus untouched. Unknown flag bits, and asking
     * for legacy and per-thread at once, are refused: the real driver's answer to those is
     * undocumented, and a caller passing them has a bug worth seeing. */
    if (!symbol || !pfn || cudaVersion > SIM_DRIVER_VERSION ||
        (flags & ~(cuuint64_t)PA_FLAGS_KNOWN) || flags == PA_FLAGS_KNOWN)
        return CUDA_ERROR_INVALID_VALUE;

    CUdriverProcAddressQueryResult status;
    const char *name = pa_choose(symbol, cudaVersion,
                                 (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0, &status);
    void *p = NULL;
    if (name) {
        pthread_once(&pa_once, pa_init);
        p = pa_self ? pa_dlsym(pa_self, name) : NULL;
        /* Cannot happen while stubs.c is linked in (every table name is exported); if it
         * does, say "not found" rather than hand out a pointer from another object. */
        if (!p)
            status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    }
    *pfn = p;
    if (symbolStatus)
        *symbolStatus = status;
    return CUDA_SUCCESS;
}

/* Neither needs cuInit: the runtime looks up cuInit itself this way. */
SIM_EXPORT CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion,
                                        cuuint64_t flags, CUdriverProcAddressQueryResult *symbolStatus)
{
    SIM_ENTER();
    return pa_lookup(symbol, pfn, cudaVersion, flags, symbolStatus);
}

SIM_EXPORT CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags)
{
    SIM_ENTER();
    return pa_lookup(symbol, pfn, cudaVersion, flags, NULL);
}

/* Both keep the real signatures; a mismatch with cudaTypedefs.h fails the build here. */
static const PFN_cuGetProcAddress_v11030 pa_check_v11030 __attribute__((unused)) = cuGetProcAddress;
static const PFN_cuGetProcAddress_v12000 pa_check_v12000 __attribute__((unused)) = cuGetProcAddress_v2;
