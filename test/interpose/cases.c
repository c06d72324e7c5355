/* cases.c — interpose_cases: regression cases of the issue, each compared with the driver's
 * own function called in the same process:
 *   cuMemGetInfo_v2 with NULL outputs; cuMemFree_v2 of memory hmt never saw (allocated by the
 *   driver's own cuMemAlloc_v2) and of a bogus pointer; a host-located cuMemCreate mapped into
 *   device VA (as NCCL does) left alone; cuLaunchKernelEx through each door (exported symbol,
 *   dlsym, cuGetProcAddress) with its effect checked; a thread with no current context; a
 *   forked child that keeps working; dlclose of libcuda by the program.
 */
#include "ih.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

typedef CUresult (*meminfo_fn)(size_t *, size_t *);
typedef CUresult (*launch_ex_fn)(const CUlaunchConfig *, CUfunction, void **, void **);

static CUfunction add8;
static CUdeviceptr counter;

static uint32_t read_counter(void)
{
    uint32_t v = 0;
    CHECK(cuCtxSynchronize() == CUDA_SUCCESS, "cuCtxSynchronize");
    CHECK(cuMemcpyDtoH(&v, counter, sizeof v) == CUDA_SUCCESS, "cuMemcpyDtoH");
    return v;
}

static void launch_ex_via(const char *door, launch_ex_fn fn)
{
    CHECK(fn != NULL, "%s: no cuLaunchKernelEx", door);
    if (!fn)
        return;
    CHECK(ih_in((void *)fn, ih_hmt()), "%s: cuLaunchKernelEx is not hmt's (%s)", door,
          ih_name_of((void *)fn));
    uint32_t before = read_counter();
    CUdeviceptr args[8] = { counter };
    void *params[8];
    for (int i = 0; i < 8; i++)
        params[i] = &args[i];
    CUlaunchConfig cfg = { .gridDimX = 1, .gridDimY = 1, .gridDimZ = 1,
                           .blockDimX = 1, .blockDimY = 1, .blockDimZ = 1 };
    CUresult r = fn(&cfg, add8, params, NULL);
    CHECK(r == CUDA_SUCCESS, "%s: cuLaunchKernelEx = %d", door, r);
    CHECK(read_counter() == before + 1, "%s: the kernel did not run", door);
}

static void *no_context_thread(void *arg)
{
    (void)arg;
    size_t f1 = 0, t1 = 0, f2 = 0, t2 = 0;
    CUresult rh = cuMemGetInfo_v2(&f1, &t1);
    CUresult rr = ((meminfo_fn)ih_raw("cuMemGetInfo_v2"))(&f2, &t2);
    CHECK(rh == rr, "no context: cuMemGetInfo_v2 = %d through hmt, %d from the driver", rh, rr);
    CUcontext c = (CUcontext)1;
    CUresult rc = cuCtxGetCurrent(&c);   /* NOT_INITIALIZED in a forked child, as on a GPU */
    CHECK(rc != CUDA_SUCCESS || c == NULL, "thread has a context?");
    CUdeviceptr d = 0;
    CUresult ra = cuMemAlloc_v2(&d, 4096);
    CUresult rb = ((CUresult(*)(CUdeviceptr *, size_t))ih_raw("cuMemAlloc_v2"))(&d, 4096);
    CHECK(ra == rb, "no context: cuMemAlloc_v2 = %d through hmt, %d from the driver", ra, rb);
    return NULL;
}

int main(void)
{
    ih_hmt();
    CUcontext ctx = ih_context();
    add8 = ih_kernel("add8");
    CHECK(cuMemAlloc(&counter, 4096) == CUDA_SUCCESS, "cuMemAlloc");
    CHECK(cuMemsetD32(counter, 0, 1) == CUDA_SUCCESS, "cuMemsetD32");

    /* cuMemGetInfo_v2 with NULL outputs: the driver's answer, whatever it is. */
    meminfo_fn raw_info = (meminfo_fn)ih_raw("cuMemGetInfo_v2");
    size_t fr = 0, tot = 0;
    CHECK(cuMemGetInfo_v2(NULL, NULL) == raw_info(NULL, NULL), "cuMemGetInfo_v2(NULL, NULL)");
    CHECK(cuMemGetInfo_v2(&fr, NULL) == raw_info(&fr, NULL), "cuMemGetInfo_v2(&f, NULL)");
    CHECK(cuMemGetInfo_v2(NULL, &tot) == raw_info(NULL, &tot), "cuMemGetInfo_v2(NULL, &t)");

    /* cuMemFree_v2 of memory hmt never saw: allocated by the driver's own function. */
    CUdeviceptr foreign = 0;
    CUresult r = ((CUresult(*)(CUdeviceptr *, size_t))ih_raw("cuMemAlloc_v2"))(&foreign, 1 << 20);
    CHECK(r == CUDA_SUCCESS, "driver cuMemAlloc_v2 = %d", r);
    CHECK(cuMemFree_v2(foreign) == CUDA_SUCCESS, "cuMemFree_v2 of a driver allocation");
    CUresult rb = cuMemFree_v2((CUdeviceptr)0x1234);
    CUresult rr = ((CUresult(*)(CUdeviceptr))ih_raw("cuMemFree_v2"))((CUdeviceptr)0x1234);
    CHECK(rb == rr, "cuMemFree_v2(bogus) = %d through hmt, %d from the driver", rb, rr);

    /* Host-located VMM memory (NCCL's pattern): create, reserve, map, access, use, unmap. */
    CUmemAllocationProp prop = { .type = CU_MEM_ALLOCATION_TYPE_PINNED,
                                 .location = { .type = CU_MEM_LOCATION_TYPE_HOST, .id = 0 } };
    size_t gran = 0;
    if (cuMemGetAllocationGranularity(&gran, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM) ||
        !gran) {
        printf("host-located VMM not supported by this driver: case skipped\n");
    } else {
        CUmemGenericAllocationHandle h;
        CUdeviceptr va = 0;
        r = cuMemCreate(&h, gran, &prop, 0);
        CHECK(r == CUDA_SUCCESS, "cuMemCreate(host) = %d", r);
        CHECK(cuMemAddressReserve(&va, gran, 0, 0, 0) == CUDA_SUCCESS, "reserve");
        CHECK(cuMemMap(va, gran, 0, h, 0) == CUDA_SUCCESS, "map");
        CUmemAccessDesc acc = { .location = { .type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0 },
                                .flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE };
        CHECK(cuMemSetAccess(va, gran, &acc, 1) == CUDA_SUCCESS, "set access");
        CHECK(cuMemsetD32(va, 7, gran / 4) == CUDA_SUCCESS, "memset host-located");
        uint32_t v = 0;
        CHECK(cuMemcpyDtoH(&v, va + gran - 4, 4) == CUDA_SUCCESS && v == 7, "read back %u", v);
        CHECK(cuMemUnmap(va, gran) == CUDA_SUCCESS, "unmap");
        CHECK(cuMemRelease(h) == CUDA_SUCCESS, "release");
        CHECK(cuMemAddressFree(va, gran) == CUDA_SUCCESS, "address free");
    }

    /* cuLaunchKernelEx through every door. */
    launch_ex_via("door 1 (exported symbol)", (launch_ex_fn)ih_libc_dlsym(RTLD_DEFAULT, "cuLaunchKernelEx"));
    launch_ex_via("door 1 (direct call)", cuLaunchKernelEx);
    void *drv = dlopen("libcuda.so.1", RTLD_NOW);
    launch_ex_via("door 2 (dlsym)", (launch_ex_fn)dlsym(drv, "cuLaunchKernelEx"));
    void *p = NULL;
    cuGetProcAddress_v2("cuLaunchKernelEx", &p, 12000, 0, NULL);
    launch_ex_via("door 3 (cuGetProcAddress)", (launch_ex_fn)p);
    p = NULL;
    cuGetProcAddress_v2("cuLaunchKernelEx", &p, 12000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, NULL);
    launch_ex_via("door 3 (per-thread)", (launch_ex_fn)p);

    /* A thread without a current context. */
    pthread_t t;
    pthread_create(&t, NULL, no_context_thread, NULL);
    pthread_join(t, NULL);

    /* fork: the child keeps working through every door (its CUDA state is the driver's
     * business: a real driver, and the sim, answer NOT_INITIALIZED there; hmt must neither
     * deadlock nor change answers). */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        ih_failures = 0;   /* the child reports its own */
        void *q = NULL;
        CUresult rc = cuGetProcAddress_v2("cuMemGetInfo", &q, 12000, 0, NULL);
        int ok = rc == CUDA_SUCCESS && ih_is_wrapper(q, "cuMemGetInfo_v2") &&
                 ih_is_wrapper(dlsym(drv, "cuLaunchKernel"), "cuLaunchKernel");
        size_t a, b, c2, d2;
        ok = ok && cuMemGetInfo_v2(&a, &b) == raw_info(&c2, &d2);
        pthread_create(&t, NULL, no_context_thread, NULL);
        pthread_join(t, NULL);
        _exit(ok && !ih_failures ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "forked child failed (status %d)", st);

    /* The program dlcloses libcuda (its extra reference): hmt's pointers stay valid. */
    dlclose(drv);
    CHECK(cuMemGetInfo_v2(&fr, &tot) == CUDA_SUCCESS, "cuMemGetInfo_v2 after dlclose");
    drv = dlopen("libcuda.so.1", RTLD_NOW);
    CHECK(ih_is_wrapper(dlsym(drv, "cuMemAlloc_v2"), "cuMemAlloc_v2"), "dlsym after reopen");
    dlclose(drv);

    cuMemFree(counter);
    cuDevicePrimaryCtxRelease(0);
    (void)ctx;
    return IH_DONE();
}
