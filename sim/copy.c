/* sim/copy.c — cuMemcpy* and cuMemset* in all their ABI variants.
 *
 * Every copy and fill becomes one work item run by a stream worker under the fault guard,
 * so touching device memory that is unmapped or without access aborts it and breaks the
 * context (CUDA_ERROR_ILLEGAL_ADDRESS), as the copy engine's fault does on a GPU.
 * Synchronous calls run on the legacy default stream (the per-thread default stream for
 * _ptds exports) and wait. Asynchronous calls follow the driver's rules for pageable host
 * memory: a pageable source is staged at the call (the caller may reuse it at once) and a
 * copy into pageable memory returns only when done; pinned memory is used in place.
 * Host<->device copies are throttled to HMT_SIM_PCIE_GBPS when set (stream.c).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

enum { M_SYNC = 1, M_PT = 2 };

static bool is_dev(const void *p) { return sim_in_device_range((uintptr_t)p, 1); }

static bool is_pinned(const void *p, size_t n)
{
    pthread_mutex_lock(&g_sim.mem_mu);
    bool r = sim_host_find((uintptr_t)p, n ? n : 1) != NULL;
    pthread_mutex_unlock(&g_sim.mem_mu);
    return r;
}

static size_t copy_extent(const sim_work *w, bool src)
{
    size_t depth = w->copy.depth ? w->copy.depth : 1;
    size_t pitch = src ? w->copy.spitch : w->copy.dpitch;
    size_t slice = src ? w->copy.sslice : w->copy.dslice;
    return (depth - 1) * slice + (w->copy.height - 1) * pitch + w->copy.width;
}

/* A pointer the driver accepts as a device pointer: in the device range (whether mapped
 * or not — touching an unmapped part is an illegal address later, not an argument error)
 * or pinned host memory (its device pointer is its host address). */
static bool dev_ok(const void *p)
{
    return is_dev(p) || is_pinned(p, 1);
}

CUresult sim_capture_invalidate_locked(struct CUstream_st *s);

static CUresult go(CUstream h, int mode, sim_work *w)
{
    struct CUstream_st *s;
    CUresult r = sim_stream_resolve((mode & M_SYNC) ? NULL : h, mode & M_PT, &s);
    if (r != CUDA_SUCCESS) return r;
    bool sync = mode & M_SYNC;
    if (w->kind == W_COPY) {
        if (w->copy.width == 0 || w->copy.height == 0) return CUDA_SUCCESS;
        bool ddev = is_dev(w->copy.dst), sdev = is_dev(w->copy.src);
        w->copy.dir = ddev ? (sdev ? DIR_DD : DIR_HD) : (sdev ? DIR_DH : DIR_HH);
        /* A copy to or from pageable memory is (partly) synchronous, which a capture cannot
         * hold: refused, and the capture is invalidated (the sim's reading of the rule
         * that makes `.cpu()` fail inside a PyTorch graph capture). */
        pthread_mutex_lock(&g_sim.q_mu);
        bool capturing = s->cap != NULL;
        pthread_mutex_unlock(&g_sim.q_mu);
        if (capturing && ((!sdev && !is_pinned(w->copy.src, copy_extent(w, true))) ||
                          (!ddev && !is_pinned(w->copy.dst, copy_extent(w, false))))) {
            pthread_mutex_lock(&g_sim.q_mu);
            r = s->cap ? sim_capture_invalidate_locked(s) : CUDA_SUCCESS;
            pthread_mutex_unlock(&g_sim.q_mu);
            if (r != CUDA_SUCCESS) return r;
        }
        if (!sync && !sdev && !is_pinned(w->copy.src, copy_extent(w, true))) {
            /* Pageable source: stage it now, packed. */
            size_t depth = w->copy.depth ? w->copy.depth : 1;
            char *st = malloc(w->copy.width * w->copy.height * depth);
            if (!st) return CUDA_ERROR_OUT_OF_MEMORY;
            for (size_t z = 0; z < depth; z++)
                for (size_t y = 0; y < w->copy.height; y++)
                    memcpy(st + (z * w->copy.height + y) * w->copy.width,
                           w->copy.src + z * w->copy.sslice + y * w->copy.spitch, w->copy.width);
            w->copy.stage = st;
            w->copy.src = st;
            w->copy.spitch = w->copy.width;
            w->copy.sslice = w->copy.width * w->copy.height;
        }
        if (!sync && !ddev && !is_pinned(w->copy.dst, copy_extent(w, false))) sync = true;
    } else if (w->kind == W_SET) {
        if (w->set.width == 0 || w->set.height == 0) return CUDA_SUCCESS;
    }
    return sync ? sim_submit_sync(s, w) : sim_submit(s, w);
}

enum { NEED_DST = 4, NEED_SRC = 8 }; /* mode bits: which side must be a device pointer */

static CUresult linear(CUstream h, int mode, void *dst, const void *src, size_t n)
{
    SIM_NEED_INIT();
    if (n && (!dst || !src)) return CUDA_ERROR_INVALID_VALUE;
    if (n && (((mode & NEED_DST) && !dev_ok(dst)) || ((mode & NEED_SRC) && !dev_ok(src))))
        return CUDA_ERROR_INVALID_VALUE;
    mode &= M_SYNC | M_PT;
    sim_work w = {.kind = W_COPY,
                  .copy = {.dst = dst, .src = src, .width = n, .height = 1, .depth = 1,
                           .dpitch = n, .spitch = n, .dslice = n, .sslice = n}};
    return go(h, mode, &w);
}

#define P(x) ((void *)(uintptr_t)(x))

/* ---- 1D copies ------------------------------------------------------------------------ */

SIM_EXPORT CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t n)
{ SIM_ENTER(); return linear(NULL, M_SYNC, P(dst), P(src), n); }
SIM_EXPORT CUresult cuMemcpy_ptds(CUdeviceptr dst, CUdeviceptr src, size_t n)
{ SIM_ENTER(); return linear(NULL, M_SYNC | M_PT, P(dst), P(src), n); }
SIM_EXPORT CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream h)
{ SIM_ENTER(); return linear(h, 0, P(dst), P(src), n); }
SIM_EXPORT CUresult cuMemcpyAsync_ptsz(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream h)
{ SIM_ENTER(); return linear(h, M_PT, P(dst), P(src), n); }

SIM_EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n)
{ SIM_ENTER(); return linear(NULL, M_SYNC | NEED_DST, P(dst), src, n); }
SIM_EXPORT CUresult cuMemcpyHtoD_v2_ptds(CUdeviceptr dst, const void *src, size_t n)
{ SIM_ENTER(); return linear(NULL, M_SYNC | M_PT | NEED_DST, P(dst), src, n); }
SIM_EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, CUstream h)
{ SIM_ENTER(); return linear(h, NEED_DST, P(dst), src, n); }
SIM_EXPORT CUresult cuMemcpyHtoDAsync_v2_ptsz(CUdeviceptr dst, const void *src, size_t n, CUstream h)
{ SIM_ENTER(); return linear(h, M_PT | NEED_DST, P(dst), src, n); }

SIM_EXPORT CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n)
{ SIM_ENTER(); return linear(NULL, M_SYNC | NEED_SRC, dst, P(src), n); }
SIM_EXPORT CUresult cuMemcpyDtoH_v2_ptds(void *dst, CUdeviceptr src, size_t n)
{ SIM_ENTER(); return linear(NULL, M_SYNC | M_PT | NEED_SRC, dst, P(src), n); }
SIM_EXPORT CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n, CUstream h)
{ SIM_ENTER(); return linear(h, NEED_SRC, dst, P(src), n); }
SIM_EXPORT CUresult cuMemcpyDtoHAsync_v2_ptsz(void *dst, CUdeviceptr src, size_t n, CUstream h)
{ SIM_ENTER(); return linear(h, M_PT | NEED_SRC, dst, P(src), n); }

SIM_EXPORT CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n)
{ SIM_ENTER(); return linear(NULL, M_SYNC | NEED_DST | NEED_SRC, P(dst), P(src), n); }
SIM_EXPORT CUresult cuMemcpyDtoD_v2_ptds(CUdeviceptr dst, CUdeviceptr src, size_t n)
{ SIM_ENTER(); return linear(NULL, M_SYNC | M_PT | NEED_DST | NEED_SRC, P(dst), P(src), n); }
SIM_EXPORT CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream h)
{ SIM_ENTER(); return linear(h, NEED_DST | NEED_SRC, P(dst), P(src), n); }
SIM_EXPORT CUresult cuMemcpyDtoDAsync_v2_ptsz(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream h)
{ SIM_ENTER(); return linear(h, M_PT | NEED_DST | NEED_SRC, P(dst), P(src), n); }

/* One device: peer copies are ordinary copies between two contexts of it. */
static CUresult peer(CUstream h, int mode, CUdeviceptr d, CUcontext dc, CUdeviceptr s,
                     CUcontext sc, size_t n)
{
    if (!dc || !sc) return CUDA_ERROR_INVALID_CONTEXT;
    return linear(h, mode, P(d), P(s), n);
}
SIM_EXPORT CUresult cuMemcpyPeer(CUdeviceptr d, CUcontext dc, CUdeviceptr s, CUcontext sc, size_t n)
{ SIM_ENTER(); return peer(NULL, M_SYNC, d, dc, s, sc, n); }
SIM_EXPORT CUresult cuMemcpyPeer_ptds(CUdeviceptr d, CUcontext dc, CUdeviceptr s, CUcontext sc, size_t n)
{ SIM_ENTER(); return peer(NULL, M_SYNC | M_PT, d, dc, s, sc, n); }
SIM_EXPORT CUresult cuMemcpyPeerAsync(CUdeviceptr d, CUcontext dc, CUdeviceptr s, CUcontext sc,
                                      size_t n, CUstream h)
{ SIM_ENTER(); return peer(h, 0, d, dc, s, sc, n); }
SIM_EXPORT CUresult cuMemcpyPeerAsync_ptsz(CUdeviceptr d, CUcontext dc, CUdeviceptr s,
                                           CUcontext sc, size_t n, CUstream h)
{ SIM_ENTER(); return peer(h, M_PT, d, dc, s, sc, n); }

/* ---- 2D / 3D copies -------------------------------------------------------------------- */

static CUresult endpoint(CUmemorytype t, const void *host, CUdeviceptr dev, CUarray arr,
                         char **out)
{
    switch (t) {
    case CU_MEMORYTYPE_HOST: *out = (char *)(uintptr_t)host; break;
    case CU_MEMORYTYPE_DEVICE:
        if (dev && !dev_ok(P(dev))) return CUDA_ERROR_INVALID_VALUE;
        *out = (char *)P(dev);
        break;
    case CU_MEMORYTYPE_UNIFIED: *out = (char *)P(dev); break;
    case CU_MEMORYTYPE_ARRAY: (void)arr; return CUDA_ERROR_NOT_SUPPORTED;
    default: return CUDA_ERROR_INVALID_VALUE;
    }
    return *out ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult sim_copy2d_work(const CUDA_MEMCPY2D *c, sim_work *w)
{
    if (!c) return CUDA_ERROR_INVALID_VALUE;
    char *src, *dst;
    CUresult r = endpoint(c->srcMemoryType, c->srcHost, c->srcDevice, c->srcArray, &src);
    if (r == CUDA_SUCCESS) r = endpoint(c->dstMemoryType, c->dstHost, c->dstDevice, c->dstArray, &dst);
    if (r != CUDA_SUCCESS) return r;
    size_t sp = c->srcPitch ? c->srcPitch : c->WidthInBytes;
    size_t dp = c->dstPitch ? c->dstPitch : c->WidthInBytes;
    if (c->Height > 1 && (sp < c->WidthInBytes || dp < c->WidthInBytes)) return CUDA_ERROR_INVALID_VALUE;
    *w = (sim_work){.kind = W_COPY,
                    .copy = {.dst = dst + c->dstY * dp + c->dstXInBytes,
                             .src = src + c->srcY * sp + c->srcXInBytes,
                             .width = c->WidthInBytes, .height = c->Height, .depth = 1,
                             .dpitch = dp, .spitch = sp, .dslice = dp * c->Height,
                             .sslice = sp * c->Height}};
    return CUDA_SUCCESS;
}

CUresult sim_copy3d_work(const CUDA_MEMCPY3D *c, sim_work *w)
{
    if (!c) return CUDA_ERROR_INVALID_VALUE;
    char *src, *dst;
    CUresult r = endpoint(c->srcMemoryType, c->srcHost, c->srcDevice, c->srcArray, &src);
    if (r == CUDA_SUCCESS) r = endpoint(c->dstMemoryType, c->dstHost, c->dstDevice, c->dstArray, &dst);
    if (r != CUDA_SUCCESS) return r;
    size_t sp = c->srcPitch ? c->srcPitch : c->WidthInBytes;
    size_t dp = c->dstPitch ? c->dstPitch : c->WidthInBytes;
    size_t sh = c->srcHeight ? c->srcHeight : c->Height;
    size_t dh = c->dstHeight ? c->dstHeight : c->Height;
    if ((c->Height > 1 || c->Depth > 1) && (sp < c->WidthInBytes || dp < c->WidthInBytes))
        return CUDA_ERROR_INVALID_VALUE;
    if (c->Depth > 1 && (sh < c->Height || dh < c->Height)) return CUDA_ERROR_INVALID_VALUE;
    *w = (sim_work){.kind = W_COPY,
                    .copy = {.dst = dst + (c->dstZ * dh + c->dstY) * dp + c->dstXInBytes,
                             .src = src + (c->srcZ * sh + c->srcY) * sp + c->srcXInBytes,
                             .width = c->WidthInBytes, .height = c->Height,
                             .depth = c->Depth ? c->Depth : 1, .dpitch = dp, .spitch = sp,
                             .dslice = dp * dh, .sslice = sp * sh}};
    return CUDA_SUCCESS;
}

static CUresult copy2d(CUstream h, int mode, const CUDA_MEMCPY2D *c)
{
    SIM_NEED_INIT();
    sim_work w;
    CUresult r = sim_copy2d_work(c, &w);
    return r != CUDA_SUCCESS ? r : go(h, mode, &w);
}

static CUresult copy3d(CUstream h, int mode, const CUDA_MEMCPY3D *c)
{
    SIM_NEED_INIT();
    sim_work w;
    CUresult r = sim_copy3d_work(c, &w);
    return r != CUDA_SUCCESS ? r : go(h, mode, &w);
}

SIM_EXPORT CUresult cuMemcpy2D_v2(const CUDA_MEMCPY2D *c)
{ SIM_ENTER(); return copy2d(NULL, M_SYNC, c); }
SIM_EXPORT CUresult cuMemcpy2D_v2_ptds(const CUDA_MEMCPY2D *c)
{ SIM_ENTER(); return copy2d(NULL, M_SYNC | M_PT, c); }
SIM_EXPORT CUresult cuMemcpy2DUnaligned_v2(const CUDA_MEMCPY2D *c)
{ SIM_ENTER(); return copy2d(NULL, M_SYNC, c); }
SIM_EXPORT CUresult cuMemcpy2DUnaligned_v2_ptds(const CUDA_MEMCPY2D *c)
{ SIM_ENTER(); return copy2d(NULL, M_SYNC | M_PT, c); }
SIM_EXPORT CUresult cuMemcpy2DAsync_v2(const CUDA_MEMCPY2D *c, CUstream h)
{ SIM_ENTER(); return copy2d(h, 0, c); }
SIM_EXPORT CUresult cuMemcpy2DAsync_v2_ptsz(const CUDA_MEMCPY2D *c, CUstream h)
{ SIM_ENTER(); return copy2d(h, M_PT, c); }
SIM_EXPORT CUresult cuMemcpy3D_v2(const CUDA_MEMCPY3D *c)
{ SIM_ENTER(); return copy3d(NULL, M_SYNC, c); }
SIM_EXPORT CUresult cuMemcpy3D_v2_ptds(const CUDA_MEMCPY3D *c)
{ SIM_ENTER(); return copy3d(NULL, M_SYNC | M_PT, c); }
SIM_EXPORT CUresult cuMemcpy3DAsync_v2(const CUDA_MEMCPY3D *c, CUstream h)
{ SIM_ENTER(); return copy3d(h, 0, c); }
SIM_EXPORT CUresult cuMemcpy3DAsync_v2_ptsz(const CUDA_MEMCPY3D *c, CUstream h)
{ SIM_ENTER(); return copy3d(h, M_PT, c); }

/* ---- memsets ---------------------------------------------------------------------------- */

static CUresult set(CUstream h, int mode, CUdeviceptr dst, size_t pitch, unsigned elem,
                    uint32_t v, size_t width, size_t height)
{
    SIM_NEED_INIT();
    if (!dst || dst % elem || !dev_ok(P(dst))) return CUDA_ERROR_INVALID_VALUE;
    if (height > 1 && pitch < width * elem) return CUDA_ERROR_INVALID_VALUE;
    sim_work w = {.kind = W_SET,
                  .set = {.dst = P(dst), .pitch = height > 1 ? pitch : width * elem,
                          .width = width, .height = height, .elem = elem, .value = v}};
    return go(h, mode, &w);
}

SIM_EXPORT CUresult cuMemsetD8_v2(CUdeviceptr d, unsigned char v, size_t n)
{ SIM_ENTER(); return set(NULL, M_SYNC, d, 0, 1, v, n, 1); }
SIM_EXPORT CUresult cuMemsetD8_v2_ptds(CUdeviceptr d, unsigned char v, size_t n)
{ SIM_ENTER(); return set(NULL, M_SYNC | M_PT, d, 0, 1, v, n, 1); }
SIM_EXPORT CUresult cuMemsetD16_v2(CUdeviceptr d, unsigned short v, size_t n)
{ SIM_ENTER(); return set(NULL, M_SYNC, d, 0, 2, v, n, 1); }
SIM_EXPORT CUresult cuMemsetD16_v2_ptds(CUdeviceptr d, unsigned short v, size_t n)
{ SIM_ENTER(); return set(NULL, M_SYNC | M_PT, d, 0, 2, v, n, 1); }
SIM_EXPORT CUresult cuMemsetD32_v2(CUdeviceptr d, unsigned int v, size_t n)
{ SIM_ENTER(); return set(NULL, M_SYNC, d, 0, 4, v, n, 1); }
SIM_EXPORT CUresult cuMemsetD32_v2_ptds(CUdeviceptr d, unsigned int v, size_t n)
{ SIM_ENTER(); return set(NULL, M_SYNC | M_PT, d, 0, 4, v, n, 1); }
SIM_EXPORT CUresult cuMemsetD8Async(CUdeviceptr d, unsigned char v, size_t n, CUstream h)
{ SIM_ENTER(); return set(h, 0, d, 0, 1, v, n, 1); }
SIM_EXPORT CUresult cuMemsetD8Async_ptsz(CUdeviceptr d, unsigned char v, size_t n, CUstream h)
{ SIM_ENTER(); return set(h, M_PT, d, 0, 1, v, n, 1); }
SIM_EXPORT CUresult cuMemsetD16Async(CUdeviceptr d, unsigned short v, size_t n, CUstream h)
{ SIM_ENTER(); return set(h, 0, d, 0, 2, v, n, 1); }
SIM_EXPORT CUresult cuMemsetD16Async_ptsz(CUdeviceptr d, unsigned short v, size_t n, CUstream h)
{ SIM_ENTER(); return set(h, M_PT, d, 0, 2, v, n, 1); }
SIM_EXPORT CUresult cuMemsetD32Async(CUdeviceptr d, unsigned int v, size_t n, CUstream h)
{ SIM_ENTER(); return set(h, 0, d, 0, 4, v, n, 1); }
SIM_EXPORT CUresult cuMemsetD32Async_ptsz(CUdeviceptr d, unsigned int v, size_t n, CUstream h)
{ SIM_ENTER(); return set(h, M_PT, d, 0, 4, v, n, 1); }

SIM_EXPORT CUresult cuMemsetD2D8_v2(CUdeviceptr d, size_t p, unsigned char v, size_t w, size_t hh)
{ SIM_ENTER(); return set(NULL, M_SYNC, d, p, 1, v, w, hh); }
SIM_EXPORT CUresult cuMemsetD2D8_v2_ptds(CUdeviceptr d, size_t p, unsigned char v, size_t w, size_t hh)
{ SIM_ENTER(); return set(NULL, M_SYNC | M_PT, d, p, 1, v, w, hh); }
SIM_EXPORT CUresult cuMemsetD2D16_v2(CUdeviceptr d, size_t p, unsigned short v, size_t w, size_t hh)
{ SIM_ENTER(); return set(NULL, M_SYNC, d, p, 2, v, w, hh); }
SIM_EXPORT CUresult cuMemsetD2D16_v2_ptds(CUdeviceptr d, size_t p, unsigned short v, size_t w, size_t hh)
{ SIM_ENTER(); return set(NULL, M_SYNC | M_PT, d, p, 2, v, w, hh); }
SIM_EXPORT CUresult cuMemsetD2D32_v2(CUdeviceptr d, size_t p, unsigned int v, size_t w, size_t hh)
{ SIM_ENTER(); return set(NULL, M_SYNC, d, p, 4, v, w, hh); }
SIM_EXPORT CUresult cuMemsetD2D32_v2_ptds(CUdeviceptr d, size_t p, unsigned int v, size_t w, size_t hh)
{ SIM_ENTER(); return set(NULL, M_SYNC | M_PT, d, p, 4, v, w, hh); }
SIM_EXPORT CUresult cuMemsetD2D8Async(CUdeviceptr d, size_t p, unsigned char v, size_t w, size_t hh, CUstream h)
{ SIM_ENTER(); return set(h, 0, d, p, 1, v, w, hh); }
SIM_EXPORT CUresult cuMemsetD2D8Async_ptsz(CUdeviceptr d, size_t p, unsigned char v, size_t w, size_t hh, CUstream h)
{ SIM_ENTER(); return set(h, M_PT, d, p, 1, v, w, hh); }
SIM_EXPORT CUresult cuMemsetD2D16Async(CUdeviceptr d, size_t p, unsigned short v, size_t w, size_t hh, CUstream h)
{ SIM_ENTER(); return set(h, 0, d, p, 2, v, w, hh); }
SIM_EXPORT CUresult cuMemsetD2D16Async_ptsz(CUdeviceptr d, size_t p, unsigned short v, size_t w, size_t hh, CUstream h)
{ SIM_ENTER(); return set(h, M_PT, d, p, 2, v, w, hh); }
SIM_EXPORT CUresult cuMemsetD2D32Async(CUdeviceptr d, size_t p, unsigned int v, size_t w, size_t hh, CUstream h)
{ SIM_ENTER(); return set(h, 0, d, p, 4, v, w, hh); }
SIM_EXPORT CUresult cuMemsetD2D32Async_ptsz(CUdeviceptr d, size_t p, unsigned int v, size_t w, size_t hh, CUstream h)
{ SIM_ENTER(); return set(h, M_PT, d, p, 4, v, w, hh); }

/* For batched copies (memops.c): one unified async copy on stream h. */
CUresult sim_copy_linear(CUstream h, bool ptsz, void *dst, const void *src, size_t n)
{
    return linear(h, ptsz ? M_PT : 0, dst, src, n);
}

/* ---- 3D peer copies: one device, so a 3D copy between two contexts of it --------------- */

static CUresult copy3d_peer(CUstream h, int mode, const CUDA_MEMCPY3D_PEER *p)
{
    SIM_NEED_INIT();
    if (!p) return CUDA_ERROR_INVALID_VALUE;
    CUDA_MEMCPY3D c = {
        .srcXInBytes = p->srcXInBytes, .srcY = p->srcY, .srcZ = p->srcZ, .srcLOD = p->srcLOD,
        .srcMemoryType = p->srcMemoryType, .srcHost = p->srcHost, .srcDevice = p->srcDevice,
        .srcArray = p->srcArray, .srcPitch = p->srcPitch, .srcHeight = p->srcHeight,
        .dstXInBytes = p->dstXInBytes, .dstY = p->dstY, .dstZ = p->dstZ, .dstLOD = p->dstLOD,
        .dstMemoryType = p->dstMemoryType, .dstHost = p->dstHost, .dstDevice = p->dstDevice,
        .dstArray = p->dstArray, .dstPitch = p->dstPitch, .dstHeight = p->dstHeight,
        .WidthInBytes = p->WidthInBytes, .Height = p->Height, .Depth = p->Depth};
    return copy3d(h, mode, &c);
}

SIM_EXPORT CUresult cuMemcpy3DPeer(const CUDA_MEMCPY3D_PEER *p)
{ SIM_ENTER(); return copy3d_peer(NULL, M_SYNC, p); }
SIM_EXPORT CUresult cuMemcpy3DPeer_ptds(const CUDA_MEMCPY3D_PEER *p)
{ SIM_ENTER(); return copy3d_peer(NULL, M_SYNC | M_PT, p); }
SIM_EXPORT CUresult cuMemcpy3DPeerAsync(const CUDA_MEMCPY3D_PEER *p, CUstream h)
{ SIM_ENTER(); return copy3d_peer(h, 0, p); }
SIM_EXPORT CUresult cuMemcpy3DPeerAsync_ptsz(const CUDA_MEMCPY3D_PEER *p, CUstream h)
{ SIM_ENTER(); return copy3d_peer(h, M_PT, p); }
