/* sim_procaddr_spot: cuGetProcAddress(_v2) on the sim answers hand-checked cases as the real
 * driver does.
 *
 * Each expectation below was read off the CUDA 13.0 headers by hand (cudaTypedefs.h gives the
 * version that introduced each ABI variant, cuda.h the exported name), independently of the
 * generated table, so a generator bug shows up here. Also the argument errors, the optional
 * symbolStatus, the old 4-argument ABI and calling through a returned pointer.
 */
#include "procaddr_test.h"

#include "procaddr_table.h"

#define OK CU_GET_PROC_ADDRESS_SUCCESS
#define NOT_FOUND CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND
#define TOO_OLD CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT
#define PT CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM
#define LEG CU_GET_PROC_ADDRESS_LEGACY_STREAM

static void abi_selection(void)
{
    /* PFN_cuMemAlloc_v2000 (32-bit sizes) then _v3020 = cuMemAlloc_v2. */
    pt_expect("cuMemAlloc", 2000, 0, "cuMemAlloc", OK);
    pt_expect("cuMemAlloc", 3010, 0, "cuMemAlloc", OK);
    pt_expect("cuMemAlloc", 3020, 0, "cuMemAlloc_v2", OK);
    pt_expect("cuMemAlloc", 13000, 0, "cuMemAlloc_v2", OK);
    pt_expect("cuMemAlloc", 1000, 0, NULL, TOO_OLD);
    /* CUDA 13 re-versioned ABIs (CUDA-NOTES): cuCtxCreate v3020/v11040/v12050. */
    pt_expect("cuCtxCreate", 3020, 0, "cuCtxCreate_v2", OK);
    pt_expect("cuCtxCreate", 12000, 0, "cuCtxCreate_v3", OK);
    pt_expect("cuCtxCreate", 13000, 0, "cuCtxCreate_v4", OK);
    /* cuGraphInstantiate: v10000, v11000 (_v2), then an alias of WithFlags since 12.0. */
    pt_expect("cuGraphInstantiate", 10000, 0, "cuGraphInstantiate", OK);
    pt_expect("cuGraphInstantiate", 11040, 0, "cuGraphInstantiate_v2", OK);
    pt_expect("cuGraphInstantiate", 12000, 0, "cuGraphInstantiateWithFlags", OK);
    pt_expect("cuGraphKernelNodeGetParams", 12000, 0, "cuGraphKernelNodeGetParams_v2", OK);
    pt_expect("cuGraphExecUpdate", 11000, 0, "cuGraphExecUpdate", OK);
    pt_expect("cuGraphExecUpdate", 12000, 0, "cuGraphExecUpdate_v2", OK);
    /* cuMemAdvise/cuMemPrefetchAsync take a CUmemLocation from 12.2 (PFN_..._v12020). */
    pt_expect("cuMemAdvise", 12010, 0, "cuMemAdvise", OK);
    pt_expect("cuMemAdvise", 13000, 0, "cuMemAdvise_v2", OK);
    pt_expect("cuMemPrefetchAsync", 8000, 0, "cuMemPrefetchAsync", OK);
    pt_expect("cuMemPrefetchAsync", 13000, 0, "cuMemPrefetchAsync_v2", OK);
    /* cuCtxGetDevice_v2 is a public function of its own, reached through the base at 13.0. */
    pt_expect("cuCtxGetDevice", 12090, 0, "cuCtxGetDevice", OK);
    pt_expect("cuCtxGetDevice", 13000, 0, "cuCtxGetDevice_v2", OK);
    pt_expect("cuStreamGetCaptureInfo", 11030, 0, "cuStreamGetCaptureInfo_v2", OK);
    pt_expect("cuMemAllocAsync", 11010, 0, NULL, TOO_OLD);
    pt_expect("cuLaunchKernel", 3020, 0, NULL, TOO_OLD);
}

static void stream_variants(void)
{
    /* Per-thread variants (PFN_..._v7000_ptsz/_ptds) where they exist; flags 0 and 1 legacy. */
    pt_expect("cuLaunchKernel", 7000, PT, "cuLaunchKernel_ptsz", OK);
    pt_expect("cuLaunchKernel", 7000, 0, "cuLaunchKernel", OK);
    pt_expect("cuLaunchKernel", 13000, LEG, "cuLaunchKernel", OK);
    pt_expect("cuMemcpyHtoDAsync", 7000, PT, "cuMemcpyHtoDAsync_v2_ptsz", OK);
    pt_expect("cuMemcpyHtoDAsync", 2000, PT, "cuMemcpyHtoDAsync", OK);
    pt_expect("cuMemcpyHtoD", 7000, PT, "cuMemcpyHtoD_v2_ptds", OK);
    pt_expect("cuMemcpy", 12000, PT, "cuMemcpy_ptds", OK);
    pt_expect("cuStreamWaitEvent", 12000, PT, "cuStreamWaitEvent_ptsz", OK);
    pt_expect("cuStreamWaitEvent", 12000, 0, "cuStreamWaitEvent", OK);
    pt_expect("cuMemPrefetchAsync", 8000, PT, "cuMemPrefetchAsync_ptsz", OK);
    pt_expect("cuMemPrefetchAsync", 13000, PT, "cuMemPrefetchAsync_v2_ptsz", OK);
    pt_expect("cuStreamBeginCapture", 10000, PT, "cuStreamBeginCapture_ptsz", OK);
    pt_expect("cuStreamBeginCapture", 10010, PT, "cuStreamBeginCapture_v2_ptsz", OK);
    pt_expect("cuStreamGetCaptureInfo", 12030, PT, "cuStreamGetCaptureInfo_v3_ptsz", OK);
    /* The per-thread export of cuMemcpyHtoDAsync_v2 appeared in 7.0: at 3.2 the legacy one. */
    pt_expect("cuMemcpyHtoDAsync", 3020, PT, "cuMemcpyHtoDAsync_v2", OK);
    pt_expect("cuLaunchKernel", 6050, PT, "cuLaunchKernel", OK);
    /* No per-thread variant at all: legacy. */
    pt_expect("cuMemAlloc", 13000, PT, "cuMemAlloc_v2", OK);
    pt_expect("cuInit", 2000, PT, "cuInit", OK);
}

static void names(void)
{
    pt_expect("", 0, 0, NULL, NOT_FOUND);
    pt_expect("", 13000, 0, NULL, NOT_FOUND);
    pt_expect("cudnnCreate", 13000, 0, NULL, NOT_FOUND);
    pt_expect("cuNoSuchFunction", 13000, PT, NULL, NOT_FOUND);
    pt_expect("cumemalloc", 13000, 0, NULL, NOT_FOUND); /* names are case-sensitive */
    /* Self-lookup: the runtime asks for both at start (rows 3 and 4 of the TSV). */
    pt_expect("cuGetProcAddress", 11030, 0, "cuGetProcAddress", OK);
    pt_expect("cuGetProcAddress", 12000, 0, "cuGetProcAddress_v2", OK);
    pt_expect("cuGetProcAddress", 11020, 0, NULL, TOO_OLD);
    /* Functions the sim only stubs still resolve, as on the real driver. */
    pt_expect("cuGetExportTable", 3000, 0, "cuGetExportTable", OK);
    pt_expect("cuGLInit", 2000, 0, "cuGLInit", OK);
    pt_expect("cuProfilerStart", 4000, 0, "cuProfilerStart", OK);
}

static void argument_errors(void)
{
    /* "Above the driver's version" means above what cuDriverGetVersion reports. */
    int drv = 0;
    PT_CHECK(cuDriverGetVersion(&drv) == CUDA_SUCCESS && drv == HMT_SIM_PROCADDR_CUDA_VERSION,
             "cuDriverGetVersion %d, the table describes %d", drv, HMT_SIM_PROCADDR_CUDA_VERSION);
    pt_expect("cuMemAlloc", HMT_SIM_PROCADDR_CUDA_VERSION, 0, "cuMemAlloc_v2",
              CU_GET_PROC_ADDRESS_SUCCESS);
    void *p = (void *)1;
    CUdriverProcAddressQueryResult st = (CUdriverProcAddressQueryResult)7;
    /* cudaVersion above the driver's (13000) is an error, not "not found". */
    PT_CHECK(cuGetProcAddress_v2("cuMemAlloc", &p, 14000, 0, &st) == CUDA_ERROR_INVALID_VALUE, "14000");
    PT_CHECK(cuGetProcAddress_v2("cuMemAlloc", &p, 13010, 0, &st) == CUDA_ERROR_INVALID_VALUE, "13010");
    PT_CHECK(cuGetProcAddress_v2("cudnnCreate", &p, 14000, 0, &st) == CUDA_ERROR_INVALID_VALUE,
             "14000, unknown name");
    PT_CHECK(p == (void *)1 && st == 7, "outputs touched on INVALID_VALUE");
    PT_CHECK(cuGetProcAddress_v2(NULL, &p, 13000, 0, &st) == CUDA_ERROR_INVALID_VALUE, "NULL symbol");
    PT_CHECK(cuGetProcAddress_v2("cuMemAlloc", NULL, 13000, 0, &st) == CUDA_ERROR_INVALID_VALUE,
             "NULL pfn");
    PT_CHECK(cuGetProcAddress_v2("cuMemAlloc", &p, 13000, 4, &st) == CUDA_ERROR_INVALID_VALUE,
             "unknown flag bit");
    PT_CHECK(cuGetProcAddress_v2("cuMemAlloc", &p, 13000, LEG | PT, &st) == CUDA_ERROR_INVALID_VALUE,
             "legacy and per-thread at once");
    PT_CHECK(cuGetProcAddress(NULL, &p, 13000, 0) == CUDA_ERROR_INVALID_VALUE, "v1: NULL symbol");
    PT_CHECK(cuGetProcAddress("cuMemAlloc", &p, 14000, 0) == CUDA_ERROR_INVALID_VALUE, "v1: 14000");
}

static void optional_status_and_old_abi(void)
{
    void *p = (void *)1;
    /* symbolStatus may be NULL (the runtime passes NULL for cuInit). */
    PT_CHECK(cuGetProcAddress_v2("cuInit", &p, 2000, 0, NULL) == CUDA_SUCCESS, "NULL status");
    PT_CHECK(p != NULL && p == pt_sim_sym("cuInit"), "cuInit with NULL status: %p", p);
    PT_CHECK(cuGetProcAddress_v2("cudnnCreate", &p, 13000, 0, NULL) == CUDA_SUCCESS && p == NULL,
             "unknown name with NULL status");
    /* The CUDA 11.3 ABI (no status argument). */
    PT_CHECK(cuGetProcAddress("cuMemAlloc", &p, 3020, 0) == CUDA_SUCCESS &&
                 p == pt_sim_sym("cuMemAlloc_v2"), "v1 cuMemAlloc");
    PT_CHECK(cuGetProcAddress("cuLaunchKernel", &p, 13000, PT) == CUDA_SUCCESS &&
                 p == pt_sim_sym("cuLaunchKernel_ptsz"), "v1 per-thread");
    p = (void *)1;
    PT_CHECK(cuGetProcAddress("cudnnCreate", &p, 13000, 0) == CUDA_SUCCESS && p == NULL,
             "v1 unknown name");

    /* Call through what came back, as the runtime does. */
    PFN_cuGetProcAddress_v12000 gpa = NULL;
    PT_CHECK(cuGetProcAddress_v2("cuGetProcAddress", (void **)&gpa, 12000, 0, NULL) == CUDA_SUCCESS &&
                 gpa, "self lookup");
    if (gpa) {
        CUdriverProcAddressQueryResult st;
        PT_CHECK(gpa("cuMemAlloc", &p, 3020, 0, &st) == CUDA_SUCCESS && st == OK &&
                     p == pt_sim_sym("cuMemAlloc_v2"), "lookup through the returned pointer");
    }
    /* A stub answers CUDA_ERROR_NOT_SUPPORTED (the sim does no GL interop). */
    CUresult (*gl_init)(void) = NULL;
    PT_CHECK(cuGetProcAddress_v2("cuGLInit", (void **)&gl_init, 2000, 0, NULL) == CUDA_SUCCESS &&
                 gl_init && gl_init() == CUDA_ERROR_NOT_SUPPORTED, "stub cuGLInit");
}

int main(void)
{
    abi_selection();
    stream_variants();
    names();
    argument_errors();
    optional_status_and_old_abi();
    if (pt_failures) {
        fprintf(stderr, "sim_procaddr_spot: %d failure(s)\n", pt_failures);
        return 1;
    }
    printf("sim_procaddr_spot: ok\n");
    return 0;
}
