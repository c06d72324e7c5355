/* abi_check.c — interpose_abi: every hooks.def row has exactly the ABI cuda.h gives the
 * exported symbol of that name.
 *
 * cuda.h compiled with __CUDA_API_VERSION_INTERNAL declares every exported driver symbol
 * under its own name (legacy _v1, _v2, _ptds, _ptsz alike). Redeclaring each row here with
 * the table's parameter list is a compile error ("conflicting types") if one differs, so a
 * wrong row fails the build of this test. At run time it also checks the table against the
 * issue's must-cover list and that no name appears twice.
 */
#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>
#include <stdio.h>
#include <string.h>

#define HMT_HOOK(name, handler, params, args) CUresult CUDAAPI name params;
#include "hooks.def"
#undef HMT_HOOK

static const char *const rows[] = {
#define HMT_HOOK(name, handler, params, args) #name,
#include "hooks.def"
#undef HMT_HOOK
};
#define NROWS (sizeof rows / sizeof rows[0])

static int has(const char *n)
{
    for (size_t i = 0; i < NROWS; i++)
        if (!strcmp(rows[i], n))
            return 1;
    return 0;
}

int main(void)
{
    static const char *const must[] = {
        "cuMemAlloc_v2", "cuMemAllocPitch_v2", "cuMemFree_v2", "cuMemAllocAsync",
        "cuMemAllocAsync_ptsz", "cuMemAllocFromPoolAsync", "cuMemFreeAsync", "cuMemAllocManaged",
        "cuMemAddressReserve", "cuMemCreate", "cuMemMap", "cuMemUnmap", "cuMemSetAccess",
        "cuMemRelease", "cuMemAddressFree", "cuMemcpy", "cuMemcpy_ptds", "cuMemcpyAsync_ptsz",
        "cuMemcpyHtoD_v2", "cuMemcpyHtoD_v2_ptds", "cuMemcpyHtoDAsync_v2",
        "cuMemcpyHtoDAsync_v2_ptsz", "cuMemcpy2D_v2", "cuMemcpy3D_v2", "cuMemcpy3DPeer",
        "cuMemcpyPeerAsync", "cuMemcpyBatchAsync_v2", "cuMemsetD8_v2", "cuMemsetD32Async_ptsz",
        "cuMemsetD2D32_v2_ptds", "cuLaunchKernel", "cuLaunchKernel_ptsz", "cuLaunchKernelEx",
        "cuLaunchKernelEx_ptsz", "cuLaunchCooperativeKernel", "cuGraphLaunch",
        "cuGraphLaunch_ptsz", "cuGraphInstantiateWithFlags", "cuGraphInstantiateWithParams",
        "cuGraphExecUpdate_v2", "cuGraphExecKernelNodeSetParams_v2", "cuGraphExecNodeSetParams",
        "cuCtxSynchronize", "cuStreamSynchronize", "cuStreamSynchronize_ptsz",
        "cuEventSynchronize", "cuMemGetInfo_v2", "cuPointerGetAttribute",
        "cuPointerGetAttributes", "cuMemGetAddressRange_v2", "cuGetProcAddress",
        "cuGetProcAddress_v2", "cuInit",
    };
    int fail = 0;
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
        if (!has(must[i])) {
            printf("FAIL: hooks.def lacks %s\n", must[i]);
            fail = 1;
        }
    for (size_t i = 0; i < NROWS; i++)
        for (size_t j = i + 1; j < NROWS; j++)
            if (!strcmp(rows[i], rows[j])) {
                printf("FAIL: %s appears twice\n", rows[i]);
                fail = 1;
            }
    /* Never wrapped: the 32-bit legacy ABIs and cuGetExportTable (passed through). */
    static const char *const never[] = { "cuMemAlloc", "cuMemcpyHtoD", "cuGetExportTable" };
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
        if (has(never[i])) {
            printf("FAIL: hooks.def wraps %s\n", never[i]);
            fail = 1;
        }
    printf("%zu rows checked\n", NROWS);
    return fail;
}
