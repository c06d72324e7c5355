/* getproc.c — interpose_getproc: door 3 (cuGetProcAddress / _v2) case by case.
 *
 * Each answer through hmt is compared with the driver's own cuGetProcAddress_v2 called with
 * the same arguments: same CUresult, same symbolStatus, and a pointer that is either the
 * driver's (functions hmt does not wrap) or libhmt's export of exactly the symbol the driver
 * returned (functions it wraps). Cases: the first call before cuInit, NULL symbolStatus,
 * self-lookup of cuGetProcAddress, flags 0/1/2 on cuLaunchKernel and cuMemcpyHtoDAsync,
 * CUDA 13 renamed ABIs, unknown names.
 */
#include "ih.h"

typedef CUresult (*gpa2_fn)(const char *, void **, int, cuuint64_t, CUdriverProcAddressQueryResult *);
typedef CUresult (*gpa1_fn)(const char *, void **, int, cuuint64_t);

/* Asks both; checks result and status agree; returns hmt's pointer, sets *drv. */
static void *ask(const char *sym, int ver, cuuint64_t flags, void **drv)
{
    gpa2_fn raw = (gpa2_fn)ih_raw("cuGetProcAddress_v2");
    void *pr = NULL, *ph = NULL;
    CUdriverProcAddressQueryResult sr = 77, sh = 77;
    CUresult rr = raw(sym, &pr, ver, flags, &sr);
    CUresult rh = cuGetProcAddress_v2(sym, &ph, ver, flags, &sh);
    CHECK(rr == rh, "%s@%d/%llu: result %d through hmt, %d from the driver", sym, ver,
          (unsigned long long)flags, rh, rr);
    CHECK(sr == sh, "%s@%d/%llu: status %d through hmt, %d from the driver", sym, ver,
          (unsigned long long)flags, sh, sr);
    *drv = pr;
    return ph;
}

/* hmt must answer with its wrapper of `expect` (the driver must answer with its `expect`). */
static void expect_wrapped(const char *sym, int ver, cuuint64_t flags, const char *expect)
{
    void *drv, *p = ask(sym, ver, flags, &drv);
    CHECK(drv == ih_raw(expect), "%s@%d/%llu: the driver answered %s, test expects %s", sym, ver,
          (unsigned long long)flags, ih_name_of(drv), expect);
    CHECK(ih_is_wrapper(p, expect), "%s@%d/%llu: hmt answered %s (%p), not its wrapper of %s",
          sym, ver, (unsigned long long)flags, ih_name_of(p), p, expect);
}

/* hmt must answer exactly what the driver answered. */
static void expect_driver(const char *sym, int ver, cuuint64_t flags)
{
    void *drv, *p = ask(sym, ver, flags, &drv);
    CHECK(p == drv, "%s@%d/%llu: hmt answered %p (%s), the driver %p (%s)", sym, ver,
          (unsigned long long)flags, p, ih_name_of(p), drv, ih_name_of(drv));
}

int main(void)
{
    ih_hmt();
    /* Before cuInit, as the runtime does, with a NULL symbolStatus (as it does for cuInit). */
    void *pinit = NULL;
    CUresult r = cuGetProcAddress_v2("cuInit", &pinit, 2000, 0, NULL);
    CHECK(r == CUDA_SUCCESS, "cuGetProcAddress_v2(cuInit) before cuInit: %d", r);
    CHECK(ih_is_wrapper(pinit, "cuInit"), "cuInit came back as %s", ih_name_of(pinit));
    CHECK(((CUresult(*)(unsigned))pinit)(0) == CUDA_SUCCESS, "cuInit through door 3 failed");
    void *p = NULL;
    r = cuGetProcAddress_v2("cuMemAlloc", &p, 12000, 0, NULL);
    CHECK(r == CUDA_SUCCESS && ih_is_wrapper(p, "cuMemAlloc_v2"),
          "NULL status: cuMemAlloc came back as %s (%d)", ih_name_of(p), r);

    ih_context();
    /* Self-lookup, both ABIs, through both exported versions. */
    expect_wrapped("cuGetProcAddress", 12000, 0, "cuGetProcAddress_v2");
    expect_wrapped("cuGetProcAddress", 11030, 0, "cuGetProcAddress");
    p = NULL;
    r = cuGetProcAddress("cuGetProcAddress", &p, 12000, 0);
    CHECK(r == CUDA_SUCCESS && ih_is_wrapper(p, "cuGetProcAddress_v2"),
          "v1 self-lookup gave %s", ih_name_of(p));
    /* The wrapper it gives works and maps again. */
    gpa2_fn g2 = (gpa2_fn)p;
    void *q = NULL;
    if (g2 && g2("cuLaunchKernel", &q, 12000, 0, NULL) == CUDA_SUCCESS)
        CHECK(ih_is_wrapper(q, "cuLaunchKernel"), "through the returned wrapper: %s", ih_name_of(q));
    /* Flags: default, legacy stream, per-thread default stream. */
    expect_wrapped("cuLaunchKernel", 12000, 0, "cuLaunchKernel");
    expect_wrapped("cuLaunchKernel", 12000, CU_GET_PROC_ADDRESS_LEGACY_STREAM, "cuLaunchKernel");
    expect_wrapped("cuLaunchKernel", 12000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM,
                   "cuLaunchKernel_ptsz");
    expect_wrapped("cuMemcpyHtoDAsync", 12000, 0, "cuMemcpyHtoDAsync_v2");
    expect_wrapped("cuMemcpyHtoDAsync", 12000, CU_GET_PROC_ADDRESS_LEGACY_STREAM,
                   "cuMemcpyHtoDAsync_v2");
    expect_wrapped("cuMemcpyHtoDAsync", 12000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM,
                   "cuMemcpyHtoDAsync_v2_ptsz");
    expect_wrapped("cuLaunchKernelEx", 12000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM,
                   "cuLaunchKernelEx_ptsz");
    /* CUDA 13 renamed ABIs: the driver chooses, hmt keeps the choice. */
    expect_driver("cuCtxCreate", 13000, 0);                     /* not wrapped: _v4 */
    CHECK(ask("cuCtxCreate", 13000, 0, &p) == ih_raw("cuCtxCreate_v4"), "cuCtxCreate@13000");
    expect_wrapped("cuGraphInstantiate", 12000, 0, "cuGraphInstantiateWithFlags");
    expect_wrapped("cuGraphInstantiate", 10000, 0, "cuGraphInstantiate");
    expect_wrapped("cuMemAdvise", 13000, 0, "cuMemAdvise_v2");
    expect_wrapped("cuMemAdvise", 12000, 0, "cuMemAdvise");
    expect_wrapped("cuMemPrefetchAsync", 13000, 0, "cuMemPrefetchAsync_v2");
    expect_wrapped("cuMemPrefetchAsync", 13000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM,
                   "cuMemPrefetchAsync_v2_ptsz");
    expect_wrapped("cuMemPrefetchAsync", 12000, 0, "cuMemPrefetchAsync");
    expect_wrapped("cuGraphExecUpdate", 12000, 0, "cuGraphExecUpdate_v2");
    expect_wrapped("cuMemAlloc", 3020, 0, "cuMemAlloc_v2");
    /* The 32-bit legacy ABI is not wrapped: the driver's own pointer comes back. */
    expect_driver("cuMemAlloc", 2000, 0);
    /* Unknown, empty, too new: exactly the driver's answer. */
    expect_driver("cuNoSuchFunction", 12000, 0);
    expect_driver("", 0, 0);
    expect_driver("cudnnCreate", 12000, 0);
    expect_driver("cuLaunchKernel", 99000, 0);
    expect_driver("cuGetExportTable", 12000, 0);
    return IH_DONE();
}
