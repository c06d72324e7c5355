/* door_getproc.c — door 3: cuGetProcAddress and cuGetProcAddress_v2.
 *
 * The CUDA runtime (and PyTorch through cudaGetDriverEntryPointByVersion) asks for about 440
 * base names with a cudaVersion and flags; the driver picks the ABI variant. We never second-
 * guess that choice: we pass the caller's exact (symbol, cudaVersion, flags[, symbolStatus])
 * to the driver, then look the pointer it returned up among the real pointers of every
 * exported variant resolved at start. A hit is replaced by our wrapper of that very variant
 * (same ABI by construction); anything else (unknown names, NULL, errors, functions we do not
 * wrap) is returned exactly as the driver gave it. symbolStatus is the driver's to write.
 * Asking for cuGetProcAddress itself returns the driver's pointer, which maps to our wrapper.
 */
#include "internal.h"

static inline void map_to_wrapper(CUresult r, void **pfn)
{
    if (r != CUDA_SUCCESS || !pfn || !*pfn || hmt_passthrough())
        return;
    void *w = hmt_wrapper_for(*pfn);
    if (w) {
        *pfn = w;
        HMT_STAT_ADD(door_getproc_redirects, 1);
    }
}

CUresult hmt_door_getproc(__typeof__(hmt_real.cuGetProcAddress) real, const char *symbol,
                          void **pfn, int cudaVersion, cuuint64_t flags)
{
    CUresult r = real(symbol, pfn, cudaVersion, flags);
    map_to_wrapper(r, pfn);
    return r;
}

CUresult hmt_door_getproc_v2(__typeof__(hmt_real.cuGetProcAddress_v2) real, const char *symbol,
                             void **pfn, int cudaVersion, cuuint64_t flags,
                             CUdriverProcAddressQueryResult *symbolStatus)
{
    CUresult r = real(symbol, pfn, cudaVersion, flags, symbolStatus);
    map_to_wrapper(r, pfn);
    return r;
}
