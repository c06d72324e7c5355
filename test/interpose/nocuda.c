/* nocuda.c — interpose_nocuda: in a program that has not loaded libcuda, hmt's exported
 * driver names must not make CUDA appear: dlsym(RTLD_DEFAULT / RTLD_NEXT, "cuInit") answers
 * NULL as it would without hmt, and no lookup loads the driver. Once the program dlopens
 * libcuda.so.1 (RTLD_LOCAL, as PyTorch and Triton do), lookups with its handle give hmt's
 * wrappers while RTLD_DEFAULT still finds nothing. Not linked against the sim on purpose.
 * With argv[1] = "off" (HMT_MODE=off) the handle's lookups give the driver's own functions.
 */
#include "ih.h"

int main(int argc, char **argv)
{
    int off = argc > 1 && !strcmp(argv[1], "off");   /* HMT_MODE=off: the driver's own */
    ih_hmt();
    dlerror();
    CHECK(dlsym(RTLD_DEFAULT, "cuInit") == NULL && dlerror(), "RTLD_DEFAULT cuInit without libcuda");
    CHECK(dlsym(RTLD_DEFAULT, "cuGetProcAddress_v2") == NULL, "RTLD_DEFAULT cuGetProcAddress_v2");
    for (int i = 0; i < 2; i++)
        CHECK(dlsym(RTLD_NEXT, "cuLaunchKernel") == NULL && dlerror(),
              "RTLD_NEXT cuLaunchKernel without libcuda");
    CHECK(dlsym(RTLD_DEFAULT, "malloc") != NULL, "malloc");
    CHECK(dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD) == NULL,
          "a dlsym probe loaded libcuda.so.1");

    void *drv = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    CHECK(drv != NULL, "dlopen libcuda.so.1 (the sim): %s", dlerror());
    if (!drv)
        return IH_DONE();
    void *p = dlsym(drv, "cuInit");
    CHECK(off ? p == ih_raw("cuInit") : ih_is_wrapper(p, "cuInit"), "dlsym(libcuda, cuInit) = %s",
          ih_name_of(p));
    CHECK(p && ((CUresult(*)(unsigned))p)(0) == CUDA_SUCCESS, "cuInit through the wrapper");
    CHECK(dlsym(RTLD_DEFAULT, "cuInit") == NULL, "RTLD_DEFAULT cuInit with libcuda RTLD_LOCAL");
    CHECK(dlsym(RTLD_NEXT, "cuInit") == NULL, "RTLD_NEXT cuInit with libcuda RTLD_LOCAL");
    p = dlsym(drv, "cuGetProcAddress_v2");
    void *q = NULL;
    CHECK(p && ((CUresult(*)(const char *, void **, int, cuuint64_t, void *))p)(
                   "cuMemAlloc", &q, 12000, 0, NULL) == CUDA_SUCCESS &&
              (off ? q == ih_raw("cuMemAlloc_v2") : ih_is_wrapper(q, "cuMemAlloc_v2")),
          "door 3 after a local dlopen: %s", ih_name_of(q));
    return IH_DONE();
}
