/* sim/memops.c — stream memory operations (cuStreamWrite/WaitValue32/64, cuStreamBatchMemOp)
 * and batched copies (cuMemcpyBatchAsync).
 *
 * Memory operations are work items like copies: they run on the stream's worker under the
 * fault guard, so an operation on unmapped device memory is an illegal address. A wait
 * polls its word until the condition holds (the stream stalls meanwhile, as on a GPU).
 * Batched copies are enqueued as one copy each, in order, on the stream.
 */
#include "internal.h"

#define P(x) ((char *)(uintptr_t)(x))

static CUresult memop(CUstream h, bool ptsz, CUdeviceptr addr, uint64_t v, unsigned size,
                      bool wait, unsigned flags)
{
    struct CUstream_st *s;
    CUresult r = sim_stream_resolve(h, ptsz, &s);
    if (r != CUDA_SUCCESS) return r;
    if (!addr || addr % size) return CUDA_ERROR_INVALID_VALUE;
    unsigned cond = flags & 0x3;
    if (wait ? (flags & ~(unsigned)(0x3 | CU_STREAM_WAIT_VALUE_FLUSH)) != 0
             : (flags & ~(unsigned)CU_STREAM_WRITE_VALUE_NO_MEMORY_BARRIER) != 0)
        return CUDA_ERROR_INVALID_VALUE;
    sim_work w = {.kind = W_MEMOP, .memop = {P(addr), v, size, wait, cond}};
    return sim_submit(s, &w);
}

#define MEMOP(NAME, PTSZ, T, SIZE, WAIT)                                                  \
    SIM_EXPORT CUresult NAME(CUstream stream, CUdeviceptr addr, T value, unsigned int flags) \
    {                                                                                     \
        SIM_ENTER();                                                                      \
        return memop(stream, PTSZ, addr, value, SIZE, WAIT, flags);                      \
    }

MEMOP(cuStreamWriteValue32, false, cuuint32_t, 4, false)
MEMOP(cuStreamWriteValue32_ptsz, true, cuuint32_t, 4, false)
MEMOP(cuStreamWriteValue32_v2, false, cuuint32_t, 4, false)
MEMOP(cuStreamWriteValue32_v2_ptsz, true, cuuint32_t, 4, false)
MEMOP(cuStreamWriteValue64, false, cuuint64_t, 8, false)
MEMOP(cuStreamWriteValue64_ptsz, true, cuuint64_t, 8, false)
MEMOP(cuStreamWriteValue64_v2, false, cuuint64_t, 8, false)
MEMOP(cuStreamWriteValue64_v2_ptsz, true, cuuint64_t, 8, false)
MEMOP(cuStreamWaitValue32, false, cuuint32_t, 4, true)
MEMOP(cuStreamWaitValue32_ptsz, true, cuuint32_t, 4, true)
MEMOP(cuStreamWaitValue32_v2, false, cuuint32_t, 4, true)
MEMOP(cuStreamWaitValue32_v2_ptsz, true, cuuint32_t, 4, true)
MEMOP(cuStreamWaitValue64, false, cuuint64_t, 8, true)
MEMOP(cuStreamWaitValue64_ptsz, true, cuuint64_t, 8, true)
MEMOP(cuStreamWaitValue64_v2, false, cuuint64_t, 8, true)
MEMOP(cuStreamWaitValue64_v2_ptsz, true, cuuint64_t, 8, true)

static CUresult batch(CUstream h, bool ptsz, unsigned count, CUstreamBatchMemOpParams *p,
                      unsigned flags)
{
    if (flags != 0 || (count && !p)) return CUDA_ERROR_INVALID_VALUE;
    for (unsigned i = 0; i < count; i++) {
        CUresult r;
        switch (p[i].operation) {
        case CU_STREAM_MEM_OP_WAIT_VALUE_32:
            r = memop(h, ptsz, p[i].waitValue.address, p[i].waitValue.value, 4, true, p[i].waitValue.flags);
            break;
        case CU_STREAM_MEM_OP_WAIT_VALUE_64:
            r = memop(h, ptsz, p[i].waitValue.address, p[i].waitValue.value64, 8, true, p[i].waitValue.flags);
            break;
        case CU_STREAM_MEM_OP_WRITE_VALUE_32:
            r = memop(h, ptsz, p[i].writeValue.address, p[i].writeValue.value, 4, false, p[i].writeValue.flags);
            break;
        case CU_STREAM_MEM_OP_WRITE_VALUE_64:
            r = memop(h, ptsz, p[i].writeValue.address, p[i].writeValue.value64, 8, false, p[i].writeValue.flags);
            break;
        case CU_STREAM_MEM_OP_FLUSH_REMOTE_WRITES:
        case CU_STREAM_MEM_OP_BARRIER:
            r = CUDA_SUCCESS; /* stream order already gives both */
            break;
        default:
            return CUDA_ERROR_INVALID_VALUE;
        }
        if (r != CUDA_SUCCESS) return r;
    }
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuStreamBatchMemOp(CUstream stream, unsigned int count,
                                       CUstreamBatchMemOpParams *paramArray, unsigned int flags)
{
    SIM_ENTER();
    return batch(stream, false, count, paramArray, flags);
}

SIM_EXPORT CUresult cuStreamBatchMemOp_ptsz(CUstream stream, unsigned int count,
                                            CUstreamBatchMemOpParams *paramArray, unsigned int flags)
{
    SIM_ENTER();
    return batch(stream, true, count, paramArray, flags);
}

SIM_EXPORT CUresult cuStreamBatchMemOp_v2(CUstream stream, unsigned int count,
                                          CUstreamBatchMemOpParams *paramArray, unsigned int flags)
{
    SIM_ENTER();
    return batch(stream, false, count, paramArray, flags);
}

SIM_EXPORT CUresult cuStreamBatchMemOp_v2_ptsz(CUstream stream, unsigned int count,
                                               CUstreamBatchMemOpParams *paramArray,
                                               unsigned int flags)
{
    SIM_ENTER();
    return batch(stream, true, count, paramArray, flags);
}

/* ---- batched copies --------------------------------------------------------------------- */

CUresult sim_copy_linear(CUstream h, bool ptsz, void *dst, const void *src, size_t n);

static CUresult copy_batch(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t count,
                           CUmemcpyAttributes *attrs, size_t *attrsIdxs, size_t numAttrs,
                           size_t *failIdx, CUstream h, bool ptsz)
{
    SIM_NEED_INIT();
    if (failIdx) *failIdx = SIZE_MAX;
    if (!count || !dsts || !srcs || !sizes || !attrs || !attrsIdxs || !numAttrs || numAttrs > count ||
        attrsIdxs[0] != 0)
        return CUDA_ERROR_INVALID_VALUE;
    if (!h || h == CU_STREAM_LEGACY) return CUDA_ERROR_INVALID_VALUE; /* needs a real stream */
    for (size_t i = 0; i < count; i++) {
        CUresult r = sim_copy_linear(h, ptsz, P(dsts[i]), P(srcs[i]), sizes[i]);
        if (r != CUDA_SUCCESS) {
            if (failIdx) *failIdx = i;
            return r;
        }
    }
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuMemcpyBatchAsync_v2(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes,
                                          size_t count, CUmemcpyAttributes *attrs,
                                          size_t *attrsIdxs, size_t numAttrs, CUstream hStream)
{
    SIM_ENTER();
    return copy_batch(dsts, srcs, sizes, count, attrs, attrsIdxs, numAttrs, NULL, hStream, false);
}

SIM_EXPORT CUresult cuMemcpyBatchAsync_v2_ptsz(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes,
                                               size_t count, CUmemcpyAttributes *attrs,
                                               size_t *attrsIdxs, size_t numAttrs, CUstream hStream)
{
    SIM_ENTER();
    return copy_batch(dsts, srcs, sizes, count, attrs, attrsIdxs, numAttrs, NULL, hStream, true);
}

SIM_EXPORT CUresult cuMemcpyBatchAsync(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes,
                                       size_t count, CUmemcpyAttributes *attrs, size_t *attrsIdxs,
                                       size_t numAttrs, size_t *failIdx, CUstream hStream)
{
    SIM_ENTER();
    return copy_batch(dsts, srcs, sizes, count, attrs, attrsIdxs, numAttrs, failIdx, hStream, false);
}

SIM_EXPORT CUresult cuMemcpyBatchAsync_ptsz(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes,
                                            size_t count, CUmemcpyAttributes *attrs,
                                            size_t *attrsIdxs, size_t numAttrs, size_t *failIdx,
                                            CUstream hStream)
{
    SIM_ENTER();
    return copy_batch(dsts, srcs, sizes, count, attrs, attrsIdxs, numAttrs, failIdx, hStream, true);
}
