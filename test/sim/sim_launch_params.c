/* sim_launch_params: kernel parameters as the driver takes them — kernelParams or an
 * `extra` packed buffer (both → CUDA_ERROR_INVALID_VALUE), layouts from
 * cuFuncGetParamInfo/cuKernelGetParamInfo (past the last → INVALID_VALUE), parameters
 * snapshotted at launch, cuLaunchKernelEx and cooperative launches, modules and
 * libraries loaded from the .so's bytes, and a kernel that reads a device pointer stored
 * in device memory. */
#include "sim_test.h"

#include <sys/stat.h>
#include <unistd.h>

static void *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    CHECK(f);
    struct stat st;
    CHECK(fstat(fileno(f), &st) == 0);
    void *b = malloc((size_t)st.st_size);
    CHECK(fread(b, 1, (size_t)st.st_size, f) == (size_t)st.st_size);
    fclose(f);
    return b;
}

int main(void)
{
    sim_test_ctx();
    void *image = slurp(SIM_TEST_KERNELS);
    CUmodule m;
    CK(cuModuleLoadData(&m, image));
    CUfunction fill = sim_test_fn(m, "fill_u32"), ct = sim_test_fn(m, "copy_through"),
               noop = sim_test_fn(m, "noop");
    size_t off, sz;
    CK(cuFuncGetParamInfo(fill, 1, &off, &sz));
    CHECK(off == 8 && sz == 4);
    CK(cuFuncGetParamInfo(fill, 2, &off, &sz));
    CHECK(off == 16 && sz == 8);
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuFuncGetParamInfo(fill, 3, &off, &sz));
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuFuncGetParamInfo(noop, 0, &off, &sz));
    const char *name;
    CK(cuFuncGetName(&name, fill));
    CHECK(strcmp(name, "fill_u32") == 0);

    int nb, minb, bs;
    CK(cuOccupancyMaxActiveBlocksPerMultiprocessor(&nb, fill, 256, 0));
    CHECK(nb == 8);
    CK(cuOccupancyMaxPotentialBlockSize(&minb, &bs, fill, NULL, 0, 0));
    CHECK(bs > 0 && bs <= 1024 && minb > 0);

    CUdeviceptr d;
    const uint64_t N = 64;
    CK(cuMemAlloc(&d, N * 4));
    /* extra buffer */
    struct { CUdeviceptr p; uint32_t v; uint32_t pad; uint64_t n; } pb = {d, 11, 0, N};
    size_t pbs = sizeof pb;
    void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, &pb, CU_LAUNCH_PARAM_BUFFER_SIZE, &pbs,
                     CU_LAUNCH_PARAM_END};
    CK(cuLaunchKernel(fill, 1, 1, 1, 32, 1, 1, 0, NULL, NULL, extra));
    uint32_t v = 12;
    uint64_t n = N;
    void *kp[] = {&d, &v, &n};
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuLaunchKernel(fill, 1, 1, 1, 1, 1, 1, 0, NULL, kp, extra));
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuLaunchKernel(fill, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL));
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuLaunchKernel(fill, 0, 1, 1, 1, 1, 1, 0, NULL, kp, NULL));
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuLaunchKernel(fill, 1, 1, 1, 1025, 1, 1, 0, NULL, kp, NULL));
    size_t small = 8;
    void *extra_small[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, &pb, CU_LAUNCH_PARAM_BUFFER_SIZE,
                           &small, CU_LAUNCH_PARAM_END};
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuLaunchKernel(fill, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, extra_small));
    uint32_t h[64];
    CK(cuMemcpyDtoH(h, d, sizeof h));
    CHECK(h[0] == 11 && h[63] == 11);

    /* Parameters are copied at launch. */
    CUstream s;
    CK(cuStreamCreate(&s, 0));
    CUfunction sleep_k = sim_test_fn(m, "sleep_us");
    (void)sleep_k;
    sim_gate gate = gate_new();
    gate_hold(&gate, s); /* the kernel cannot run before v changes */
    CK(cuLaunchKernel(fill, 1, 1, 1, 1, 1, 1, 0, s, kp, NULL));
    v = 13;
    gate_open(&gate);
    CK(cuStreamSynchronize(s));
    CK(cuMemcpyDtoH(h, d, sizeof h));
    CHECK(h[5] == 12);

    /* cuLaunchKernelEx and cooperative launch. */
    CUlaunchConfig cfg = {.gridDimX = 2, .gridDimY = 1, .gridDimZ = 1, .blockDimX = 64,
                          .blockDimY = 1, .blockDimZ = 1, .hStream = s};
    CK(cuLaunchKernelEx(&cfg, fill, kp, NULL));
    CK(cuStreamSynchronize(s));
    CK(cuMemcpyDtoH(h, d, sizeof h));
    CHECK(h[7] == 13);
    v = 14;
    CK(cuLaunchCooperativeKernel(fill, 1, 1, 1, 1, 1, 1, 0, s, kp));
    CK(cuStreamSynchronize(s));
    CK(cuMemcpyDtoH(h, d, sizeof h));
    CHECK(h[7] == 14);

    /* A pointer stored in device memory, read by the kernel. */
    CUdeviceptr src, pp;
    CK(cuMemAlloc(&src, N * 4));
    CK(cuMemsetD32(src, 77, N));
    CK(cuMemAlloc(&pp, 8));
    CK(cuMemcpyHtoD(pp, &src, 8));
    void *ka[] = {&d, &pp, &n};
    CK(cuLaunchKernel(ct, 1, 1, 1, 1, 1, 1, 0, NULL, ka, NULL));
    CK(cuMemcpyDtoH(h, d, sizeof h));
    CHECK(h[0] == 77 && h[63] == 77);

    /* Library API: same kernels, CUkernel castable to CUfunction. */
    CUlibrary lib;
    CK(cuLibraryLoadData(&lib, image, NULL, NULL, 0, NULL, NULL, 0));
    CUkernel k;
    CK(cuLibraryGetKernel(&k, lib, "fill_u32"));
    CK(cuKernelGetParamInfo(k, 2, &off, &sz));
    CHECK(off == 16 && sz == 8);
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuKernelGetParamInfo(k, 3, &off, &sz));
    v = 15;
    CK(cuLaunchKernel((CUfunction)k, 1, 1, 1, 1, 1, 1, 0, NULL, kp, NULL));
    CK(cuMemcpyDtoH(h, d, sizeof h));
    CHECK(h[1] == 15);
    CUfunction kf;
    CK(cuKernelGetFunction(&kf, k));
    unsigned cnt;
    CK(cuLibraryGetKernelCount(&cnt, lib));
    CHECK(cnt >= 8);
    CK(cuLibraryUnload(lib));
    EXPECT(CUDA_ERROR_INVALID_HANDLE, cuLaunchKernel(kf, 1, 1, 1, 1, 1, 1, 0, NULL, kp, NULL));

    /* A PTX module with the host .so of the same basename beside it: the kernels come from
     * the .so, the parameter layouts from the PTX's .entry declarations. */
    char dir[] = "/tmp/hmt-sim-ptxXXXXXX";
    CHECK(mkdtemp(dir));
    char so[256], ptx[256];
    snprintf(so, sizeof so, "%s/k.so", dir);
    snprintf(ptx, sizeof ptx, "%s/k.ptx", dir);
    CHECK(symlink(SIM_TEST_KERNELS, so) == 0);
    FILE *pf = fopen(ptx, "w");
    CHECK(pf);
    fputs("//\n.version 8.0\n.target sm_90\n.address_size 64\n\n"
          ".visible .entry noop(\n\t.param .u32 noop_param_0,\n"
          "\t.param .align 16 .b8 noop_param_1[20],\n\t.param .u64 .ptr .global .align 8 noop_param_2\n)\n"
          "{\n\tret;\n}\n", pf);
    fclose(pf);
    CUmodule pm;
    CK(cuModuleLoad(&pm, ptx));
    CUfunction pn = sim_test_fn(pm, "noop");
    CK(cuFuncGetParamInfo(pn, 0, &off, &sz));
    CHECK(off == 0 && sz == 4);
    CK(cuFuncGetParamInfo(pn, 1, &off, &sz));
    CHECK(off == 16 && sz == 20);
    CK(cuFuncGetParamInfo(pn, 2, &off, &sz));
    CHECK(off == 40 && sz == 8);
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuFuncGetParamInfo(pn, 3, &off, &sz));
    char blob[20] = {0};
    uint32_t u = 1;
    void *pa[] = {&u, blob, &d};
    CK(cuLaunchKernel(pn, 1, 1, 1, 1, 1, 1, 0, NULL, pa, NULL));
    CK(cuCtxSynchronize());
    CUfunction pf2 = sim_test_fn(pm, "fill_u32"); /* not in the PTX: the table's layout */
    CK(cuFuncGetParamInfo(pf2, 2, &off, &sz));
    CHECK(off == 16 && sz == 8);
    CK(cuModuleUnload(pm));
    unlink(so);
    unlink(ptx);
    rmdir(dir);

    /* Not an ELF image: no host kernels to run. */
    EXPECT(CUDA_ERROR_NO_BINARY_FOR_GPU, cuModuleLoadData(&m, ".version 8.0\n.target sm_90\n"));
    EXPECT(CUDA_ERROR_FILE_NOT_FOUND, cuModuleLoad(&m, "/nonexistent/k.so"));

    CK(cuStreamDestroy(s));
    CK(cuMemFreeHost((void *)(uintptr_t)gate.word));
    CK(cuMemFree(d));
    CK(cuMemFree(src));
    CK(cuMemFree(pp));
    free(image);
    return 0;
}
