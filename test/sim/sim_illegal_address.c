/* sim_illegal_address: the check everything later relies on. Map a VMM chunk, use it,
 * unmap it, touch it from a kernel: the launch aborts, the context returns
 * CUDA_ERROR_ILLEGAL_ADDRESS (700) from then on (sticky), and the sim says so. Each case
 * runs in a child process (a broken context stays broken): copy into a mapping without
 * access, memset onto reserved-but-unmapped VA, unmap under a kernel in flight (and the
 * fenced positive control), and a pointer read from device memory. */
#include "sim_test.h"

#include <sys/wait.h>
#include <unistd.h>

static CUdeviceptr map_chunk(size_t sz, CUmemGenericAllocationHandle *h, bool access)
{
    CUmemAllocationProp prop = {.type = CU_MEM_ALLOCATION_TYPE_PINNED,
                                .location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0}};
    CUdeviceptr va;
    CK(cuMemAddressReserve(&va, sz, 0, 0, 0));
    CK(cuMemCreate(h, sz, &prop, 0));
    CK(cuMemMap(va, sz, 0, *h, 0));
    if (access) {
        CUmemAccessDesc ad = {.location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0},
                              .flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
        CK(cuMemSetAccess(va, sz, &ad, 1));
    }
    return va;
}

/* Kernel touches unmapped memory → 700, sticky. */
static int kernel_case(void)
{
    sim_test_ctx();
    int (*illegal)(void) = (int (*)(void))sim_test_hook("hmt_sim_illegal_address");
    CUmodule m = sim_test_kernels();
    CUfunction fill = sim_test_fn(m, "fill_u32");
    size_t sz = 2 << 20;
    CUmemGenericAllocationHandle h;
    CUdeviceptr va = map_chunk(sz, &h, true);
    uint32_t v = 5;
    uint64_t n = sz / 4;
    KERNEL_LAUNCH(fill, NULL, &va, &v, &n);
    CK(cuCtxSynchronize());
    CHECK(!illegal());
    CK(cuMemUnmap(va, sz));
    CK(cuMemRelease(h));
    KERNEL_LAUNCH(fill, NULL, &va, &v, &n);  /* the launch itself is accepted */
    EXPECT(CUDA_ERROR_ILLEGAL_ADDRESS, cuCtxSynchronize());
    CHECK(illegal());
    /* Sticky: every later call that reports context errors says 700. */
    CUdeviceptr d;
    EXPECT(CUDA_ERROR_ILLEGAL_ADDRESS, cuMemAlloc(&d, 64));
    uint32_t x = 0;
    EXPECT(CUDA_ERROR_ILLEGAL_ADDRESS, cuMemcpyHtoD(va, &x, 4));
    EXPECT(CUDA_ERROR_ILLEGAL_ADDRESS, cuStreamSynchronize(NULL));
    EXPECT(CUDA_ERROR_ILLEGAL_ADDRESS, cuLaunchKernel(fill, 1, 1, 1, 1, 1, 1, 0, NULL,
                                                      (void *[]){&va, &v, &n}, NULL));
    EXPECT(CUDA_ERROR_ILLEGAL_ADDRESS, cuCtxSynchronize());
    /* The stats name the first bad address: the fill's first store, at va. */
    int (*write_stats)(const char *) = (int (*)(const char *))sim_test_hook("hmt_sim_write_stats");
    char path[] = "/tmp/hmt-sim-iaXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    CHECK(write_stats(path) == 0);
    char buf[8192] = {0}, want[64];
    FILE *f = fopen(path, "r");
    CHECK(f && fread(buf, 1, sizeof buf - 1, f) > 0);
    fclose(f);
    unlink(path);
    snprintf(want, sizeof want, "\"first_illegal_address\":\t\"0x%llx\"", (unsigned long long)va);
    if (!strstr(buf, want)) FAIL("stats lack %s:\n%s", want, buf);
    return 0;
}

/* Copy into a mapping that has no access yet → 700. */
static int copy_case(void)
{
    sim_test_ctx();
    size_t sz = 2 << 20;
    CUmemGenericAllocationHandle h;
    CUdeviceptr va = map_chunk(sz, &h, false);
    uint32_t x = 1;
    EXPECT(CUDA_ERROR_ILLEGAL_ADDRESS, cuMemcpyHtoD(va, &x, 4));
    EXPECT(CUDA_ERROR_ILLEGAL_ADDRESS, cuCtxSynchronize());
    return 0;
}

/* A memset onto reserved-but-unmapped VA → 700. */
static int memset_case(void)
{
    sim_test_ctx();
    CUdeviceptr va;
    CK(cuMemAddressReserve(&va, 2 << 20, 0, 0, 0));
    EXPECT(CUDA_ERROR_ILLEGAL_ADDRESS, cuMemsetD8(va, 0, 16));
    return 0;
}

/* Unmapping under a kernel still in flight: cuMemUnmap does not wait, the kernel faults
 * (the mistake invariant 2 of DESIGN.md guards against). With the stream synchronised
 * first, the same sequence is fine (positive control). */
static int inflight_case(bool fence)
{
    sim_test_ctx();
    CUmodule m = sim_test_kernels();
    CUfunction sleep_k = sim_test_fn(m, "sleep_us"), sum = sim_test_fn(m, "read_sum");
    CUstream s;
    CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    size_t sz = 2 << 20;
    CUmemGenericAllocationHandle h;
    CUdeviceptr va = map_chunk(sz, &h, true);
    CUdeviceptr out;
    CK(cuMemAlloc(&out, 8));
    uint32_t us = 1000;
    uint64_t n = sz;
    sim_gate gate = gate_new();
    gate_hold(&gate, s); /* the kernel cannot start before the unmap below */
    KERNEL_LAUNCH(sleep_k, s, &us);
    KERNEL_LAUNCH(sum, s, &va, &n, &out);
    if (fence) {
        gate_open(&gate);
        CK(cuStreamSynchronize(s));
    }
    CK(cuMemUnmap(va, sz)); /* returns at once either way */
    CK(cuMemRelease(h));
    gate_open(&gate);
    if (fence) {
        CK(cuStreamSynchronize(s));
        return 0;
    }
    EXPECT(CUDA_ERROR_ILLEGAL_ADDRESS, cuStreamSynchronize(s));
    return 0;
}
static int inflight_unfenced(void) { return inflight_case(false); }
static int inflight_fenced(void) { return inflight_case(true); }

/* A pointer stored in device memory, read by the kernel, into an unmapped chunk → 700:
 * the sim catches what a parameter scan cannot see. */
static int indirect_case(void)
{
    sim_test_ctx();
    CUmodule m = sim_test_kernels();
    CUfunction ct = sim_test_fn(m, "copy_through");
    size_t sz = 2 << 20;
    CUmemGenericAllocationHandle h;
    CUdeviceptr va = map_chunk(sz, &h, true);
    CUdeviceptr dst, pp;
    CK(cuMemAlloc(&dst, 64));
    CK(cuMemAlloc(&pp, 8));
    CK(cuMemcpyHtoD(pp, &va, 8));
    CK(cuMemUnmap(va, sz));
    uint64_t n = 16;
    KERNEL_LAUNCH(ct, NULL, &dst, &pp, &n);
    EXPECT(CUDA_ERROR_ILLEGAL_ADDRESS, cuCtxSynchronize());
    return 0;
}

static int run_child(int (*fn)(void))
{
    pid_t p = fork();
    if (p == 0) _exit(fn());
    int st;
    waitpid(p, &st, 0);
    if (!WIFEXITED(st)) {
        fprintf(stderr, "child crashed (signal %d) instead of reporting 700\n",
                WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        return 1;
    }
    return WEXITSTATUS(st);
}

int main(void)
{
    int rc = run_child(kernel_case);
    if (rc) return rc;
    if ((rc = run_child(copy_case))) return rc;
    if ((rc = run_child(memset_case))) return rc;
    if ((rc = run_child(inflight_unfenced))) return rc;
    if ((rc = run_child(inflight_fenced))) return rc;
    return run_child(indirect_case);
}
