/* sim_memops: stream memory operations order work like the GPU's front end — a wait on a
 * device word holds its stream until another stream writes the value; writes land in
 * stream order; a memory operation on unmapped device memory is an illegal address (in a
 * child process). Also cuMemcpyBatchAsync, and typed copies refusing non-device pointers. */
#include "sim_test.h"

#include <sys/wait.h>
#include <unistd.h>

static int unmapped_case(void)
{
    sim_test_ctx();
    CUdeviceptr va;
    CK(cuMemAddressReserve(&va, 2 << 20, 0, 0, 0));
    CK(cuStreamWriteValue32(NULL, va, 1, 0));
    EXPECT(CUDA_ERROR_ILLEGAL_ADDRESS, cuCtxSynchronize());
    return 0;
}

int main(void)
{
    /* The unmapped case runs in a child forked before this process initialises CUDA. */
    pid_t p = fork();
    if (p == 0) _exit(unmapped_case());
    int st;
    waitpid(p, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);

    sim_test_ctx();
    CUmodule m = sim_test_kernels();
    CUfunction sleep_k = sim_test_fn(m, "sleep_us"), copy = sim_test_fn(m, "copy_u32");
    CUstream a, b;
    CK(cuStreamCreate(&a, CU_STREAM_NON_BLOCKING));
    CK(cuStreamCreate(&b, CU_STREAM_NON_BLOCKING));
    CUdeviceptr flag, x, y;
    CK(cuMemAlloc(&flag, 8));
    CK(cuMemAlloc(&x, 4));
    CK(cuMemAlloc(&y, 4));
    CK(cuMemsetD32(flag, 0, 2));
    CK(cuMemsetD32(x, 0, 1));
    CK(cuMemsetD32(y, 0, 1));
    uint64_t n1 = 1;
    uint32_t us = 50000;
    /* a: wait flag == 1, then copy x -> y.  b: sleep, x = 5 (as a write), flag = 1. */
    CK(cuStreamWaitValue32(a, flag, 1, CU_STREAM_WAIT_VALUE_EQ));
    KERNEL_LAUNCH(copy, a, &y, &x, &n1);
    KERNEL_LAUNCH(sleep_k, b, &us);
    CK(cuStreamWriteValue32(b, x, 5, 0));
    CK(cuStreamWriteValue32(b, flag, 1, 0));
    CK(cuStreamSynchronize(a));
    uint32_t v;
    CK(cuMemcpyDtoH(&v, y, 4));
    CHECK(v == 5);
    /* 64-bit write and a GEQ wait through the batch call. */
    CUstreamBatchMemOpParams ops[2];
    memset(ops, 0, sizeof ops);
    ops[0].writeValue.operation = CU_STREAM_MEM_OP_WRITE_VALUE_64;
    ops[0].writeValue.address = flag;
    ops[0].writeValue.value64 = 0x100000002ull;
    ops[1].waitValue.operation = CU_STREAM_MEM_OP_WAIT_VALUE_64;
    ops[1].waitValue.address = flag;
    ops[1].waitValue.value64 = 0x100000001ull;
    ops[1].waitValue.flags = CU_STREAM_WAIT_VALUE_GEQ;
    CK(cuStreamBatchMemOp(b, 2, ops, 0));
    CK(cuStreamSynchronize(b));
    uint64_t v64;
    CK(cuMemcpyDtoH(&v64, flag, 8));
    CHECK(v64 == 0x100000002ull);
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuStreamWriteValue32(b, flag + 1, 1, 0)); /* misaligned */

    /* Batched copies. */
    uint32_t src[3] = {7, 8, 9}, *pin;
    CK(cuMemAllocHost((void **)&pin, 12));
    CUdeviceptr dsts[2] = {x, (CUdeviceptr)(uintptr_t)pin}, srcs[2] = {(CUdeviceptr)(uintptr_t)src, x};
    size_t sizes[2] = {4, 4}, idx = 0;
    CUmemcpyAttributes at = {.srcAccessOrder = CU_MEMCPY_SRC_ACCESS_ORDER_STREAM};
    CK(cuMemcpyBatchAsync(dsts, srcs, sizes, 2, &at, &idx, 1, a));
    CK(cuStreamSynchronize(a));
    CHECK(pin[0] == 7);
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuMemcpyBatchAsync(dsts, srcs, sizes, 2, &at, &idx, 1, NULL));

    /* Typed copies want device pointers (or pinned host memory) on their device side. */
    uint32_t host = 0;
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuMemcpyHtoD((CUdeviceptr)(uintptr_t)&host, src, 4));
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuMemcpyDtoH(&host, (CUdeviceptr)(uintptr_t)src, 4));
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuMemsetD8((CUdeviceptr)(uintptr_t)&host, 0, 4));
    CK(cuMemcpyHtoD((CUdeviceptr)(uintptr_t)pin, src, 4)); /* pinned: its own device pointer */
    CK(cuMemcpy((CUdeviceptr)(uintptr_t)&host, (CUdeviceptr)(uintptr_t)src, 4)); /* unified: any */
    CHECK(host == 7);

    CK(cuMemFreeHost(pin));
    CK(cuStreamDestroy(a));
    CK(cuStreamDestroy(b));

    /* A child forked after init cannot use the parent's CUDA state. */
    p = fork();
    if (p == 0) {
        CUdeviceptr d;
        _exit(cuMemAlloc(&d, 16) == CUDA_ERROR_NOT_INITIALIZED && cuInit(0) == CUDA_ERROR_NOT_INITIALIZED ? 0 : 1);
    }
    waitpid(p, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return 0;
}
