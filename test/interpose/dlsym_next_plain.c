/* interpose_dlsym_next_plain: dlsym(RTLD_NEXT, <driver name>) from a program that links
 * libcuda and never dlopens anything (so no object loaded at start has a search list).
 * Regression: door 2 used raw link maps as dlsym handles and crashed in glibc's lookup,
 * with or without HMT_* settings (invariant 7). Run with and without a budget and with
 * HMT_MODE=off; the answer must be a callable cuDriverGetVersion that says 13000. */
#define _GNU_SOURCE
#include <cuda.h>
#include <dlfcn.h>
#include <stdio.h>

int main(void)
{
    if (cuInit(0) != CUDA_SUCCESS)
        return 1;
    CUresult (*ver)(int *) = (CUresult (*)(int *))dlsym(RTLD_NEXT, "cuDriverGetVersion");
    void *launch = dlsym(RTLD_NEXT, "cuLaunchKernel");
    void *none = dlsym(RTLD_NEXT, "cuNoSuchFunction");
    int v = 0;
    if (!ver || ver(&v) != CUDA_SUCCESS || v != 13000 || !launch || none) {
        fprintf(stderr, "dlsym(RTLD_NEXT): version %p (%d), launch %p, unknown %p\n",
                (void *)ver, v, launch, none);
        return 1;
    }
    puts("dlsym(RTLD_NEXT) of driver names: ok");
    return 0;
}
