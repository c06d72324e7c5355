/* dlsym_door.c — interpose_dlsym: door 2 (dlsym) redirects exact driver names only, only
 * for libcuda's handle, RTLD_DEFAULT and RTLD_NEXT, and answers everything else exactly as
 * glibc would, including caller-relative RTLD_NEXT lookups (repeated) and dlerror().
 * Search order here: this program, libhmt (preloaded), libinterpose_next, libcuda (the sim).
 * With argv[1] = "off" (HMT_MODE=off) nothing is redirected.
 */
#include "ih.h"

void *next_lookup(const char *name);

int main(int argc, char **argv)
{
    int off = argc > 1 && !strcmp(argv[1], "off");
    void *hmt = ih_hmt();
    /* A direct driver call makes libcuda a NEEDED (global) library of this program. */
    CHECK(cuInit(0) == CUDA_SUCCESS, "cuInit");
    void *drv = dlopen("libcuda.so.1", RTLD_NOW);
    void *next = dlopen("libinterpose_next.so", RTLD_LAZY | RTLD_NOLOAD);
    CHECK(drv && next, "libcuda.so.1 / libinterpose_next.so not loaded");
    if (!drv || !next)
        return 1;

    /* Driver handle: table names become wrappers; everything else is the driver's. */
    void *p = dlsym(drv, "cuMemAlloc_v2");
    if (off)
        CHECK(p == ih_raw("cuMemAlloc_v2"), "off: dlsym(libcuda, cuMemAlloc_v2) = %s", ih_name_of(p));
    else
        CHECK(ih_is_wrapper(p, "cuMemAlloc_v2"), "dlsym(libcuda, cuMemAlloc_v2) = %p", p);
    p = dlsym(drv, "cuLaunchKernelEx");
    CHECK(off ? p == ih_raw("cuLaunchKernelEx") : ih_is_wrapper(p, "cuLaunchKernelEx"),
          "dlsym(libcuda, cuLaunchKernelEx) = %p", p);
    CHECK(dlsym(drv, "cuGetExportTable") == ih_raw("cuGetExportTable"), "cuGetExportTable");
    CHECK(dlsym(drv, "cuMemAlloc") == ih_raw("cuMemAlloc"), "legacy cuMemAlloc");
    CHECK(dlsym(drv, "cuCtxCreate_v4") == ih_raw("cuCtxCreate_v4"), "cuCtxCreate_v4");
    CHECK(dlsym(drv, "hmt_sim_fail_nth") == ih_raw("hmt_sim_fail_nth"), "a sim-only name");
    dlerror();
    CHECK(dlsym(drv, "cudnnCreate") == NULL && dlerror() != NULL, "cudnnCreate via libcuda");
    CHECK(dlsym(drv, "cuMemAlloc_v2_bogus") == NULL && dlerror() != NULL, "near-miss name");

    /* Another library's handle is honoured, even for a driver name. */
    void *own = ih_libc_dlsym(next, "cuLaunchKernel");
    CHECK(own && ih_in(own, next), "libinterpose_next defines no cuLaunchKernel?");
    CHECK(dlsym(next, "cuLaunchKernel") == own, "dlsym(next, cuLaunchKernel) not next's own");
    CHECK(dlsym(hmt, "cuLaunchKernel") == ih_libc_dlsym(hmt, "cuLaunchKernel"), "hmt handle");

    /* RTLD_DEFAULT: what the program would see without hmt, wrapped where it is the driver. */
    p = dlsym(RTLD_DEFAULT, "cuMemAlloc_v2");
    CHECK(off ? p == ih_raw("cuMemAlloc_v2") : ih_is_wrapper(p, "cuMemAlloc_v2"),
          "RTLD_DEFAULT cuMemAlloc_v2 = %s", ih_name_of(p));
    CHECK(dlsym(RTLD_DEFAULT, "cuLaunchKernel") == own,
          "RTLD_DEFAULT cuLaunchKernel should be libinterpose_next's (first without hmt)");
    dlerror();
    CHECK(dlsym(RTLD_DEFAULT, "cudnnCreate") == NULL && dlerror(), "RTLD_DEFAULT cudnnCreate");
    CHECK(dlsym(RTLD_DEFAULT, "malloc") == ih_libc_dlsym(RTLD_DEFAULT, "malloc"), "malloc");

    /* RTLD_NEXT from the program: libhmt is next, so its own symbols answer. Repeated, and a
     * non-driver name (dlsym itself) proves the lookup kept the program as the caller. */
    for (int i = 0; i < 3; i++) {
        p = dlsym(RTLD_NEXT, "dlsym");
        CHECK(p == ih_libc_dlsym(hmt, "dlsym"), "RTLD_NEXT dlsym from the program = %p (%s), "
              "want libhmt's (lookup not made on the caller's behalf?)", p, ih_name_of(p));
        dlerror();
        p = dlsym(RTLD_NEXT, "cuMemAlloc_v2");
        CHECK(p == (off ? ih_raw("cuMemAlloc_v2") : ih_libc_dlsym(hmt, "cuMemAlloc_v2")),
              "RTLD_NEXT cuMemAlloc_v2 #%d = %s", i, ih_name_of(p));
        CHECK(dlerror() == NULL, "dlerror() set after a successful RTLD_NEXT lookup");
        /* off: libinterpose_next's own is next once libhmt is looked past */
        p = dlsym(RTLD_NEXT, "cuLaunchKernel");
        CHECK(p == (off ? own : ih_libc_dlsym(hmt, "cuLaunchKernel")),
              "RTLD_NEXT cuLaunchKernel #%d = %s", i, ih_name_of(p));
    }
    /* RTLD_NEXT from libinterpose_next: libcuda is next, so the driver's function is found
     * and handed out as hmt's wrapper. */
    for (int i = 0; i < 3; i++) {
        dlerror();
        p = next_lookup("cuLaunchKernel");
        CHECK(off ? p == ih_raw("cuLaunchKernel") : ih_is_wrapper(p, "cuLaunchKernel"),
              "RTLD_NEXT cuLaunchKernel from next #%d = %p (%s)", i, p, ih_name_of(p));
        CHECK(dlerror() == NULL, "dlerror() set after success");
        p = next_lookup("cuMemGetInfo_v2");
        CHECK(off ? p == ih_raw("cuMemGetInfo_v2") : ih_is_wrapper(p, "cuMemGetInfo_v2"),
              "RTLD_NEXT cuMemGetInfo_v2 from next #%d = %s", i, ih_name_of(p));
        p = next_lookup("cuGetExportTable");
        CHECK(p == ih_raw("cuGetExportTable"), "RTLD_NEXT cuGetExportTable = %s", ih_name_of(p));
        p = next_lookup("dlsym");
        CHECK(p && !ih_in(p, hmt), "RTLD_NEXT dlsym from next = %p: libhmt is before next", p);
        CHECK(next_lookup("cudnnCreate") == NULL && dlerror(), "RTLD_NEXT cudnnCreate from next");
    }
    /* A lookup through the wrapper it returns still works as the driver. */
    size_t fr = 1, tot = 1;
    CUresult (*meminfo)(size_t *, size_t *) = (CUresult (*)(size_t *, size_t *))dlsym(drv, "cuMemGetInfo_v2");
    CUresult (*raw_meminfo)(size_t *, size_t *) = (CUresult (*)(size_t *, size_t *))ih_raw("cuMemGetInfo_v2");
    CHECK(meminfo && meminfo(&fr, &tot) == raw_meminfo(&fr, &tot), "cuMemGetInfo_v2 via dlsym");
    return IH_DONE();
}
