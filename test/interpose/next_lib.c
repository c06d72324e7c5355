/* next_lib.c — libinterpose_next.so, linked into interpose_dlsym between the executable and
 * libcuda, so that glibc's search order is: program, libhmt (preloaded), this, libcuda.
 * It defines a cuLaunchKernel of its own (a lookup with its handle must find it, not hmt's)
 * and looks names up with RTLD_NEXT from here (the answer depends on who calls). */
#define _GNU_SOURCE
#include <cuda.h>
#include <dlfcn.h>

__attribute__((visibility("default"))) CUresult cuLaunchKernel(
    CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
    unsigned shmem, CUstream s, void **params, void **extra)
{
    (void)f, (void)gx, (void)gy, (void)gz, (void)bx, (void)by, (void)bz, (void)shmem, (void)s;
    (void)params, (void)extra;
    return CUDA_ERROR_UNKNOWN;   /* 999: recognisably not the driver */
}

__attribute__((visibility("default"))) void *next_lookup(const char *name)
{
    /* Not a tail call: glibc must see this library as the caller. */
    void *p = dlsym(RTLD_NEXT, name);
    __asm__ volatile("" ::: "memory");
    return p;
}
