/* sim/occupancy.c — occupancy queries and unified-memory hints.
 *
 * Programs ask these to size launches (occupancy) or to steer managed memory (advise,
 * prefetch). The sim has no SMs and no migration, so it answers with the limits of the
 * device it describes (2048 threads and 32 blocks per SM, 227 KiB shared memory) and
 * accepts hints on device memory without acting on them.
 */
#include "internal.h"

#define SM_THREADS 2048
#define SM_BLOCKS 32
#define SM_SHMEM 233472u
#define BLOCK_SHMEM_OPTIN 232448u

static int blocks_per_sm(int block, size_t smem)
{
    if (block <= 0) return 0;
    int by_threads = SM_THREADS / block, by_smem = smem ? (int)(SM_SHMEM / (smem + 1024)) : SM_BLOCKS;
    int b = by_threads < SM_BLOCKS ? by_threads : SM_BLOCKS;
    return by_smem < b ? by_smem : b;
}

static CUresult active_blocks(int *nb, CUfunction f, int block, size_t smem)
{
    SIM_NEED_INIT();
    if (!sim_func_check(f)) return CUDA_ERROR_INVALID_HANDLE;
    if (!nb || block <= 0 || block > 1024 || smem > BLOCK_SHMEM_OPTIN) return CUDA_ERROR_INVALID_VALUE;
    *nb = blocks_per_sm(block, smem);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int *numBlocks, CUfunction func,
                                                                int blockSize, size_t dynamicSMemSize)
{
    SIM_ENTER();
    return active_blocks(numBlocks, func, blockSize, dynamicSMemSize);
}

SIM_EXPORT CUresult cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(
    int *numBlocks, CUfunction func, int blockSize, size_t dynamicSMemSize, unsigned int flags)
{
    SIM_ENTER();
    (void)flags;
    return active_blocks(numBlocks, func, blockSize, dynamicSMemSize);
}

static CUresult potential(int *min_grid, int *block, CUfunction f, CUoccupancyB2DSize b2s,
                          size_t smem, int limit)
{
    SIM_NEED_INIT();
    if (!sim_func_check(f)) return CUDA_ERROR_INVALID_HANDLE;
    if (!min_grid || !block) return CUDA_ERROR_INVALID_VALUE;
    if (limit <= 0 || limit > 1024) limit = 1024;
    int best = 0, best_b = 32;
    for (int b = limit / 32 * 32; b >= 32; b -= 32) {
        size_t s = b2s ? b2s(b) : smem;
        int occ = blocks_per_sm(b, s) * b;
        if (occ > best) best = occ, best_b = b;
    }
    *block = best_b;
    *min_grid = blocks_per_sm(best_b, b2s ? b2s(best_b) : smem) * 132;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuOccupancyMaxPotentialBlockSize(int *minGridSize, int *blockSize, CUfunction func,
                                                     CUoccupancyB2DSize blockSizeToDynamicSMemSize,
                                                     size_t dynamicSMemSize, int blockSizeLimit)
{
    SIM_ENTER();
    return potential(minGridSize, blockSize, func, blockSizeToDynamicSMemSize, dynamicSMemSize,
                     blockSizeLimit);
}

SIM_EXPORT CUresult cuOccupancyMaxPotentialBlockSizeWithFlags(
    int *minGridSize, int *blockSize, CUfunction func, CUoccupancyB2DSize blockSizeToDynamicSMemSize,
    size_t dynamicSMemSize, int blockSizeLimit, unsigned int flags)
{
    SIM_ENTER();
    (void)flags;
    return potential(minGridSize, blockSize, func, blockSizeToDynamicSMemSize, dynamicSMemSize,
                     blockSizeLimit);
}

SIM_EXPORT CUresult cuOccupancyAvailableDynamicSMemPerBlock(size_t *dynamicSmemSize, CUfunction func,
                                                            int numBlocks, int blockSize)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!sim_func_check(func)) return CUDA_ERROR_INVALID_HANDLE;
    if (!dynamicSmemSize || numBlocks <= 0 || blockSize <= 0) return CUDA_ERROR_INVALID_VALUE;
    size_t per = SM_SHMEM / (size_t)numBlocks;
    per = per > 1024 ? per - 1024 : 0;
    *dynamicSmemSize = per < BLOCK_SHMEM_OPTIN ? per : BLOCK_SHMEM_OPTIN;
    return CUDA_SUCCESS;
}

/* ---- unified-memory hints: accepted on device memory, no effect ---------------------- */

static CUresult hint_range(CUdeviceptr p, size_t n)
{
    SIM_NEED_INIT();
    if (!n || !sim_in_device_range((uintptr_t)p, n)) return CUDA_ERROR_INVALID_VALUE;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuMemAdvise_v2(CUdeviceptr devPtr, size_t count, CUmem_advise advice,
                                   CUmemLocation location)
{
    SIM_ENTER();
    (void)advice, (void)location;
    return hint_range(devPtr, count);
}

static CUresult prefetch(CUdeviceptr p, size_t n, CUstream h, bool ptsz)
{
    struct CUstream_st *s;
    CUresult r = sim_stream_resolve(h, ptsz, &s);
    if (r != CUDA_SUCCESS) return r;
    if ((r = sim_ctx_check(s->ctx)) != CUDA_SUCCESS) return r;
    return hint_range(p, n);
}

SIM_EXPORT CUresult cuMemPrefetchAsync_v2(CUdeviceptr devPtr, size_t count, CUmemLocation location,
                                          unsigned int flags, CUstream hStream)
{
    SIM_ENTER();
    (void)location, (void)flags;
    return prefetch(devPtr, count, hStream, false);
}

SIM_EXPORT CUresult cuMemPrefetchAsync_v2_ptsz(CUdeviceptr devPtr, size_t count,
                                               CUmemLocation location, unsigned int flags,
                                               CUstream hStream)
{
    SIM_ENTER();
    (void)location, (void)flags;
    return prefetch(devPtr, count, hStream, true);
}
