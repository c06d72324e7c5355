/* res_memops.c — stream memory operations on managed memory: cuStreamWriteValue32/64,
 * cuStreamWaitValue32/64 (every _v2/_ptsz variant) and cuStreamBatchMemOp. The GPU reads
 * or writes the word at `addr` in stream order, so, like a launch, the chunk holding it is
 * faulted in first, pinned across the call and fenced after it (invariants 2 and 3).
 * Limit: a wait whose value is written later by the host from the thread that must evict the
 * chunk would keep the eviction waiting on the fence behind it; the driver has the same
 * hazard with any synchronising call made before the write. */
#include "residency.h"

static int is_ptsz(const void *real)
{
    return real == (const void *)hmt_real.cuStreamWriteValue32_ptsz ||
           real == (const void *)hmt_real.cuStreamWriteValue32_v2_ptsz ||
           real == (const void *)hmt_real.cuStreamWaitValue32_ptsz ||
           real == (const void *)hmt_real.cuStreamWaitValue32_v2_ptsz ||
           real == (const void *)hmt_real.cuStreamWriteValue64_ptsz ||
           real == (const void *)hmt_real.cuStreamWriteValue64_v2_ptsz ||
           real == (const void *)hmt_real.cuStreamWaitValue64_ptsz ||
           real == (const void *)hmt_real.cuStreamWaitValue64_v2_ptsz ||
           real == (const void *)hmt_real.cuStreamBatchMemOp_ptsz ||
           real == (const void *)hmt_real.cuStreamBatchMemOp_v2_ptsz;
}

#define RUN_MEMOP(real, s, add, call) do {                                               \
        if (!hmt_engaged || !hmt_space_maybe_any()) return call;                         \
        struct hmt_op op_;                                                               \
        hmt_op_init(&op_, ((s) == NULL && is_ptsz((const void *)(real))) ? CU_STREAM_PER_THREAD : (s), 0); \
        struct hmt_op *op = &op_;                                                        \
        add;                                                                             \
        if (!op_.nranges) { hmt_op_free(&op_); return call; }                            \
        CUresult r_ = hmt_op_prepare(&op_);                                              \
        if (r_ == CUDA_SUCCESS) r_ = call;                                               \
        hmt_op_finish(&op_, r_ == CUDA_SUCCESS);                                         \
        hmt_op_free(&op_);                                                               \
        return r_;                                                                       \
    } while (0)

CUresult hmt_h_stream_value32(CUresult (*real)(CUstream, CUdeviceptr, cuuint32_t, unsigned int),
                              CUstream s, CUdeviceptr addr, cuuint32_t value, unsigned int flags)
{
    RUN_MEMOP(real, s, hmt_op_add_range(op, addr, 4), real(s, addr, value, flags));
}

CUresult hmt_h_stream_value64(CUresult (*real)(CUstream, CUdeviceptr, cuuint64_t, unsigned int),
                              CUstream s, CUdeviceptr addr, cuuint64_t value, unsigned int flags)
{
    RUN_MEMOP(real, s, hmt_op_add_range(op, addr, 8), real(s, addr, value, flags));
}

static void add_batch(struct hmt_op *op, unsigned int n, const CUstreamBatchMemOpParams *p)
{
    if (!p) return;
    for (unsigned i = 0; i < n; i++) {
        switch (p[i].operation) {
        case CU_STREAM_MEM_OP_WAIT_VALUE_32:
        case CU_STREAM_MEM_OP_WRITE_VALUE_32:
            hmt_op_add_range(op, p[i].waitValue.address, 4);
            break;
        case CU_STREAM_MEM_OP_WAIT_VALUE_64:
        case CU_STREAM_MEM_OP_WRITE_VALUE_64:
            hmt_op_add_range(op, p[i].waitValue.address, 8);
            break;
        default:
            break;
        }
    }
}

CUresult hmt_h_stream_batch_memop(CUresult (*real)(CUstream, unsigned int, CUstreamBatchMemOpParams *, unsigned int),
                                  CUstream s, unsigned int n, CUstreamBatchMemOpParams *p,
                                  unsigned int flags)
{
    RUN_MEMOP(real, s, add_batch(op, n, p), real(s, n, p, flags));
}
