/* res_memops — stream memory operations (cuStreamWriteValue32/64, cuStreamWaitValue32,
 * cuStreamBatchMemOp) on words of evicted managed memory: the chunk is faulted in first, the
 * value lands, the rest of the chunk keeps its bytes, and a wait sees a value written before
 * its chunk was evicted. */
#include "res_common.h"

static CUdeviceptr a, b;

static void evict(void) { CK(cuMemsetD8(b, 0, 4 * MIB)); CK(cuCtxSynchronize()); }

static int body(void)
{
    res_init();
    CUstream s;
    CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    float *m = malloc(2 * MIB), *back = malloc(2 * MIB);
    CK(cuMemAlloc(&a, 2 * MIB));
    res_put(a, 2 * MIB, 81, m);
    CK(cuMemAlloc(&b, 4 * MIB));                 /* budget 4M: a leaves */
    evict();
    CUresult r = cuStreamWriteValue32(s, a + 4096, 0xdeadbeefu, 0);
    if (r == CUDA_ERROR_NOT_SUPPORTED) SKIP("no stream memory operations");
    CK(r);
    CK(cuStreamSynchronize(s));
    uint32_t v = 0xdeadbeefu;
    memcpy((char *)m + 4096, &v, 4);
    evict();
    CK(cuStreamWaitValue32(s, a + 4096, 0xdeadbeefu, CU_STREAM_WAIT_VALUE_EQ));
    CK(cuStreamSynchronize(s));
    evict();
    CUstreamBatchMemOpParams p[2];
    memset(p, 0, sizeof p);
    p[0].writeValue.operation = CU_STREAM_MEM_OP_WRITE_VALUE_64;
    p[0].writeValue.address = a + 8192;
    p[0].writeValue.value64 = 0x0102030405060708ull;
    p[1].waitValue.operation = CU_STREAM_MEM_OP_WAIT_VALUE_32;
    p[1].waitValue.address = a + 4096;
    p[1].waitValue.value = 0xdeadbeefu;
    p[1].waitValue.flags = CU_STREAM_WAIT_VALUE_EQ;
    CK(cuStreamBatchMemOp(s, 2, p, 0));
    CK(cuStreamSynchronize(s));
    uint64_t v64 = 0x0102030405060708ull;
    memcpy((char *)m + 8192, &v64, 8);
    evict();
    CK(cuMemcpyDtoH(back, a, 2 * MIB));
    if (res_sim_illegal()) FAIL("illegal address");
    if (memcmp(back, m, 2 * MIB)) FAIL("memory operations on evicted memory lost bytes");
    printf("stream memory operations on evicted memory: ok\n");
    return 0;
}

int main(int argc, char **argv) { return res_main_with_hmt(argc, argv, "4M", body); }
