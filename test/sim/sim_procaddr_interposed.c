/* sim_procaddr_interposed: with an interposer in front of the sim (as libhmt.so is), the sim's
 * cuGetProcAddress still hands out the sim's own functions.
 *
 * This executable plays hmt's part: it exports its own cuMemAlloc_v2 and cuLaunchKernel_ptsz
 * (which shadow the sim's in the global scope, as a preloaded library's do) and its own dlsym,
 * which answers every cu* name with the executable's function (as hmt's dlsym door does).
 * A sim that resolved through the global scope, or through the interposable dlsym, would hand
 * out the executable's functions; hmt could then no longer tell which ABI variant the driver
 * chose. Link with ENABLE_EXPORTS so these definitions are in the dynamic symbol table.
 * Sanitized builds (HMT_SANITIZE) leave the dlsym door out; see PT_SANITIZED below.
 */
#include "procaddr_test.h"

static int dlsym_redirects;
static int dlsym_calls;

__attribute__((visibility("default"))) CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
    (void)dptr;
    (void)bytesize;
    return CUDA_ERROR_UNKNOWN;
}

__attribute__((visibility("default"))) CUresult cuLaunchKernel_ptsz(
    CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
    unsigned shmem, CUstream s, void **params, void **extra)
{
    (void)f, (void)gx, (void)gy, (void)gz, (void)bx, (void)by, (void)bz;
    (void)shmem, (void)s, (void)params, (void)extra;
    return CUDA_ERROR_UNKNOWN;
}

/* A dlsym defined in the executable cannot forward dlsym(RTLD_NEXT, ...) faithfully (the
 * "next" object is counted from the caller, which becomes this executable), and sanitizer
 * runtimes look up their real functions that way while starting. So sanitized builds test
 * the global-scope shadowing only; the dlsym door is compiled without sanitizers. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define PT_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define PT_SANITIZED 1
#endif
#endif

#ifndef PT_SANITIZED
__attribute__((visibility("default"))) void *dlsym(void *handle, const char *name)
{
    static pt_dlsym_fn real;
    if (!real)
        real = pt_real_dlsym();
    dlsym_calls++;
    if (strcmp(name, "cuMemAlloc_v2") == 0) {
        dlsym_redirects++;
        return (void *)&cuMemAlloc_v2;
    }
    if (strcmp(name, "cuLaunchKernel_ptsz") == 0) {
        dlsym_redirects++;
        return (void *)&cuLaunchKernel_ptsz;
    }
    return real(handle, name);
}
#endif

int main(void)
{
    void *own_alloc = (void *)&cuMemAlloc_v2;
    void *own_launch = (void *)&cuLaunchKernel_ptsz;

    /* The negative control: the interposer really is in front of the sim. */
    void *global = pt_real_dlsym()(RTLD_DEFAULT, "cuMemAlloc_v2");
    PT_CHECK(global == own_alloc, "control: the global scope gives %p, not this executable's %p",
             global, own_alloc);
#ifndef PT_SANITIZED
    PT_CHECK(dlsym(pt_sim_handle(), "cuMemAlloc_v2") == own_alloc && dlsym_redirects == 1,
             "control: the dlsym door does not redirect");
#endif
    dlsym_redirects = 0;
    dlsym_calls = 0;

    void *sim_alloc = pt_sim_sym("cuMemAlloc_v2");
    void *sim_launch = pt_sim_sym("cuLaunchKernel_ptsz");
    PT_CHECK(sim_alloc && sim_alloc != own_alloc, "the sim's cuMemAlloc_v2 %p", sim_alloc);
    PT_CHECK(sim_launch && sim_launch != own_launch, "the sim's cuLaunchKernel_ptsz %p", sim_launch);

    pt_expect("cuMemAlloc", 3020, 0, "cuMemAlloc_v2", CU_GET_PROC_ADDRESS_SUCCESS);
    pt_expect("cuLaunchKernel", 7000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM,
              "cuLaunchKernel_ptsz", CU_GET_PROC_ADDRESS_SUCCESS);
    void *p = NULL;
    PT_CHECK(cuGetProcAddress("cuMemAlloc", &p, 13000, 0) == CUDA_SUCCESS && p == sim_alloc,
             "v1: got %p, the sim's is %p, the interposer's %p", p, sim_alloc, own_alloc);
    PT_CHECK(dlsym_calls == 0, "the sim called the interposable dlsym %d time(s)", dlsym_calls);
#ifdef PT_SANITIZED
    printf("sim_procaddr_interposed: sanitized build, dlsym door not compiled\n");
#endif

    if (pt_failures) {
        fprintf(stderr, "sim_procaddr_interposed: %d failure(s)\n", pt_failures);
        return 1;
    }
    printf("sim_procaddr_interposed: ok\n");
    return 0;
}
