/* copy.c — cuMemcpy* / cuMemset* handlers: every variant that can name device memory.
 *
 * Decision (RESIDENCY.md): a copy or fill that touches non-resident chunks faults them in
 * first, for reads and writes alike, then runs as the program asked. One rule for every
 * direction keeps the host copy of an evicted chunk from ever being a second, diverging
 * source of truth, and makes overlapping ranges (src and dst in the same allocation) need
 * nothing special: both ranges are resident and pinned while the driver copies. Only the
 * touched chunks are brought in (2D/3D extents are computed), not whole allocations.
 * A copy or fill that needs more than half the budget (chunks touched, summed over managed
 * operands) runs as pieces ending at chunk boundaries of its operands, in order on the same
 * stream, so it never needs more chunks at once than the budget holds (1D, 2D by bands of
 * rows, batches entry by entry; see "Splitting" below).
 * Every device-side write into device memory tells the hints room (note_device_write), so a
 * tag a reused block outgrew dies.
 * Sync variants are ordered on the legacy default stream (the per-thread stream for _ptds),
 * where the driver runs them, so the fence after them is recorded there.
 * Every host->device path tells the hints room what it copies (hmt_hints_note_htod). */
#include <string.h>
#include "residency.h"
#include "hints.h"

#define SYNC_STREAM(real, ptds_name) \
    ((void *)(real) == (void *)hmt_real.ptds_name ? CU_STREAM_PER_THREAD : (CUstream)NULL)
#define ASYNC_STREAM(real, ptsz_name, s) \
    (((s) == NULL && (void *)(real) == (void *)hmt_real.ptsz_name) ? CU_STREAM_PER_THREAD : (s))

/* Runs `call` with the ranges added by `add` faulted in, pinned and fenced. */
#define RUN_COPY(stream, add, call) do {                                                 \
        if (!hmt_engaged || !hmt_space_maybe_any()) return call;                         \
        struct hmt_op op_;                                                               \
        hmt_op_init(&op_, (stream), 0);                                                  \
        struct hmt_op *op = &op_;                                                        \
        add;                                                                             \
        (void)op;                                                                        \
        if (!op_.nranges) { hmt_op_free(&op_); return call; }                            \
        CUresult r_ = hmt_op_prepare(&op_);                                              \
        if (r_ == CUDA_SUCCESS) r_ = call;                                               \
        hmt_op_finish(&op_, r_ == CUDA_SUCCESS);                                         \
        hmt_op_free(&op_);                                                               \
        return r_;                                                                       \
    } while (0)

/* 1 when p is host memory (not device memory of any kind we or the driver know). */
static int is_host_ptr(CUdeviceptr p)
{
    if (hmt_space_maybe(p)) {
        pthread_mutex_lock(&hmt_map_lock);
        int managed = hmt_space_find(p) != NULL;
        pthread_mutex_unlock(&hmt_map_lock);
        if (managed) return 0;
    }
    unsigned int type = 0;
    if (hmt_real.cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, p) != CUDA_SUCCESS)
        return 1;   /* pageable host memory is unknown to the driver */
    return type == CU_MEMORYTYPE_HOST;
}

/* The device side writes [dst, dst+n): tags it overwrites beyond one tensor die (hints.h). */
static void note_dev_write(CUdeviceptr dst, size_t n)
{
    if (hmt_hints_active()) hmt_hints_note_device_write(dst, n);
}

/* A unified copy to device memory: host->device names a tensor, device->device overwrites. */
static void note_htod_unified(CUdeviceptr dst, CUdeviceptr src, size_t n)
{
    if (!hmt_hints_active() || is_host_ptr(dst)) return;
    if (is_host_ptr(src)) hmt_hints_note_htod(dst, (const void *)(uintptr_t)src, n);
    else hmt_hints_note_device_write(dst, n);
}

/* Splitting a 1D copy or fill that could not be resident at once. The need of a range is
 * the chunks it touches (a range straddles chunk boundaries), summed over the operands in
 * managed memory: src and dst each pin their own chunks. A copy that needs more than half
 * the budget runs as pieces that each end at the k-th next chunk boundary of every managed
 * operand (the first such boundary wins), so a piece needs at most k chunks per operand,
 * k = half the budget's chunks / operands, at least 1. With k = 1 a piece needs one chunk
 * per operand: only when even that exceeds the budget is OUT_OF_MEMORY the answer.
 * Pieces run in order on the caller's stream (sync pieces each synchronously), so the
 * program sees the same ordering as one call; a piece is never split again (split_depth),
 * which also ends the recursion a one-chunk budget used to start. */
static __thread int split_depth;

/* Managed-operand flag of a copy side; host sides pass 0 as the address. */
#define MANAGED_(p) ((p) != 0 && hmt_space_maybe(p))

static size_t chunks_touched(CUdeviceptr a, size_t n)
{
    size_t c = hmt_res.chunk;
    return (size_t)(((a + n - 1) / c) - (a / c) + 1);
}

/* k (chunks per operand per piece), or 0 when the copy needs no split. */
static size_t split_k(size_t n, CUdeviceptr a, int ma, CUdeviceptr b, int mb)
{
    if (split_depth || !n || !hmt_engaged || !hmt_res.ready || !hmt_res.chunk) return 0;
    size_t need = (ma ? chunks_touched(a, n) : 0) + (mb ? chunks_touched(b, n) : 0);
    size_t half = (size_t)(hmt_res.budget / hmt_res.chunk / 2);
    if (!need || need <= half) return 0;
    size_t k = half / (size_t)(ma + mb);
    return k ? k : 1;
}

/* Length of the piece starting at off: up to the k-th chunk boundary of each managed operand. */
static size_t piece_len(size_t off, size_t n, size_t k, CUdeviceptr a, int ma, CUdeviceptr b, int mb)
{
    size_t c = hmt_res.chunk, len = n - off;
    if (ma) { CUdeviceptr p = a + off; size_t l = (size_t)(p - p % c + k * c - p); if (l < len) len = l; }
    if (mb) { CUdeviceptr p = b + off; size_t l = (size_t)(p - p % c + k * c - p); if (l < len) len = l; }
    return len;
}

/* Length of the piece ending at end, walking backwards (the mirror of piece_len). */
static size_t piece_len_back(size_t end, size_t k, CUdeviceptr a, int ma, CUdeviceptr b, int mb)
{
    size_t c = hmt_res.chunk, len = end;
    CUdeviceptr ops[2] = { a, b };
    int m[2] = { ma, mb };
    for (int i = 0; i < 2; i++) {
        if (!m[i]) continue;
        CUdeviceptr last = ops[i] + end - 1, lo = last - last % c;
        lo = lo >= (k - 1) * c ? lo - (k - 1) * c : 0;
        size_t l = (size_t)(ops[i] + end - lo);
        if (l < len) len = l;
    }
    return len;
}

/* 1 when a copy of n bytes between a and b (0 = host) runs as pieces. */
static int splits(size_t n, CUdeviceptr a, CUdeviceptr b)
{
    int ma = MANAGED_(a), mb = MANAGED_(b);
    return (ma || mb) && split_k(n, a, ma, b, mb);
}

#define SPLIT_1D(n, a, b, call_piece) SPLIT_1D_ALIGNED(n, a, b, 1, call_piece)
/* esz: pieces are whole elements (memset D16/D32 at any address). */
#define SPLIT_1D_ALIGNED(n, a, b, esz, call_piece) do {                                     \
        int ma_ = MANAGED_(a), mb_ = MANAGED_(b);                                             \
        size_t k_ = (ma_ || mb_) ? split_k((n), (a), ma_, (b), mb_) : 0;                     \
        if (k_ && (esz) == 1 && ma_ && mb_ && (b) < (a) && (a) < (b) + (n)) {                \
            /* dst overlaps src from above: back to front, so no piece reads bytes an    \
             * earlier piece already overwrote (one call would behave like memmove) */      \
            CUresult rp_ = CUDA_SUCCESS;                                                    \
            split_depth = 1;                                                                \
            for (size_t end_ = (n), off, len; end_ > 0 && rp_ == CUDA_SUCCESS; end_ -= len) { \
                len = piece_len_back(end_, k_, (a), ma_, (b), mb_);                         \
                off = end_ - len;                                                           \
                rp_ = call_piece;                                                           \
            }                                                                               \
            split_depth = 0;                                                                \
            return rp_;                                                                     \
        }                                                                                   \
        if (k_) {                                                                           \
            CUresult rp_ = CUDA_SUCCESS;                                                    \
            split_depth = 1;                                                                \
            for (size_t off = 0, len; off < (n) && rp_ == CUDA_SUCCESS; off += len) {        \
                len = piece_len(off, (n), k_, (a), ma_, (b), mb_);                          \
                len -= len % (esz);                                                         \
                if (!len) len = (n) - off < (esz) ? (n) - off : (esz);                      \
                rp_ = call_piece;                                                           \
            }                                                                               \
            split_depth = 0;                                                                \
            return rp_;                                                                     \
        }                                                                                   \
    } while (0)

/* ---- 1D copies ---------------------------------------------------------------------- */

CUresult hmt_h_memcpy(CUresult (*real)(CUdeviceptr, CUdeviceptr, size_t), CUdeviceptr dst,
                      CUdeviceptr src, size_t n)
{
    if (hmt_engaged && !split_depth) note_htod_unified(dst, src, n);   /* whole copy once */
    SPLIT_1D(n, dst, src, hmt_h_memcpy(real, dst + off, src + off, len));
    RUN_COPY(SYNC_STREAM(real, cuMemcpy_ptds),
             (hmt_op_add_range(op, dst, n), hmt_op_add_range(op, src, n)), real(dst, src, n));
}

CUresult hmt_h_memcpy_async(CUresult (*real)(CUdeviceptr, CUdeviceptr, size_t, CUstream),
                            CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s)
{
    if (hmt_engaged && !split_depth) note_htod_unified(dst, src, n);   /* whole copy once */
    SPLIT_1D(n, dst, src, hmt_h_memcpy_async(real, dst + off, src + off, len, s));
    RUN_COPY(ASYNC_STREAM(real, cuMemcpyAsync_ptsz, s),
             (hmt_op_add_range(op, dst, n), hmt_op_add_range(op, src, n)), real(dst, src, n, s));
}

CUresult hmt_h_memcpy_peer(CUresult (*real)(CUdeviceptr, CUcontext, CUdeviceptr, CUcontext, size_t),
                           CUdeviceptr dst, CUcontext dc, CUdeviceptr src, CUcontext sc, size_t n)
{
    if (hmt_engaged) note_dev_write(dst, n);
    SPLIT_1D(n, dst, src, hmt_h_memcpy_peer(real, dst + off, dc, src + off, sc, len));
    RUN_COPY(SYNC_STREAM(real, cuMemcpyPeer_ptds),
             (hmt_op_add_range(op, dst, n), hmt_op_add_range(op, src, n)), real(dst, dc, src, sc, n));
}

CUresult hmt_h_memcpy_peer_async(CUresult (*real)(CUdeviceptr, CUcontext, CUdeviceptr, CUcontext, size_t, CUstream),
                                 CUdeviceptr dst, CUcontext dc, CUdeviceptr src, CUcontext sc,
                                 size_t n, CUstream s)
{
    if (hmt_engaged) note_dev_write(dst, n);
    SPLIT_1D(n, dst, src, hmt_h_memcpy_peer_async(real, dst + off, dc, src + off, sc, len, s));
    RUN_COPY(ASYNC_STREAM(real, cuMemcpyPeerAsync_ptsz, s),
             (hmt_op_add_range(op, dst, n), hmt_op_add_range(op, src, n)),
             real(dst, dc, src, sc, n, s));
}

/* One piece of a split host->device copy: like the handler, without telling the hints room
 * again (it was told about the whole copy, whose prefix names the tensor). */
static CUresult htod_piece(CUresult (*real)(CUdeviceptr, const void *, size_t), CUdeviceptr dst,
                           const void *src, size_t n)
{
    RUN_COPY(SYNC_STREAM(real, cuMemcpyHtoD_v2_ptds), hmt_op_add_range(op, dst, n), real(dst, src, n));
}

static CUresult htod_async_piece(CUresult (*real)(CUdeviceptr, const void *, size_t, CUstream),
                                 CUdeviceptr dst, const void *src, size_t n, CUstream s)
{
    RUN_COPY(ASYNC_STREAM(real, cuMemcpyHtoDAsync_v2_ptsz, s), hmt_op_add_range(op, dst, n),
             real(dst, src, n, s));
}

CUresult hmt_h_memcpy_htod(CUresult (*real)(CUdeviceptr, const void *, size_t), CUdeviceptr dst,
                           const void *src, size_t n)
{
    if (hmt_engaged && splits(n, dst, 0)) hmt_hints_note_htod(dst, src, n);  /* whole tensor once */
    SPLIT_1D(n, dst, 0, htod_piece(real, dst + off, (const char *)src + off, len));
    if (hmt_engaged) hmt_hints_note_htod(dst, src, n);
    RUN_COPY(SYNC_STREAM(real, cuMemcpyHtoD_v2_ptds), hmt_op_add_range(op, dst, n), real(dst, src, n));
}

CUresult hmt_h_memcpy_htod_async(CUresult (*real)(CUdeviceptr, const void *, size_t, CUstream),
                                 CUdeviceptr dst, const void *src, size_t n, CUstream s)
{
    if (hmt_engaged && splits(n, dst, 0)) hmt_hints_note_htod(dst, src, n);  /* whole tensor once */
    SPLIT_1D(n, dst, 0, htod_async_piece(real, dst + off, (const char *)src + off, len, s));
    if (hmt_engaged) hmt_hints_note_htod(dst, src, n);
    RUN_COPY(ASYNC_STREAM(real, cuMemcpyHtoDAsync_v2_ptsz, s), hmt_op_add_range(op, dst, n),
             real(dst, src, n, s));
}

CUresult hmt_h_memcpy_dtoh(CUresult (*real)(void *, CUdeviceptr, size_t), void *dst,
                           CUdeviceptr src, size_t n)
{
    SPLIT_1D(n, src, 0, hmt_h_memcpy_dtoh(real, (char *)dst + off, src + off, len));
    RUN_COPY(SYNC_STREAM(real, cuMemcpyDtoH_v2_ptds), hmt_op_add_range(op, src, n), real(dst, src, n));
}

CUresult hmt_h_memcpy_dtoh_async(CUresult (*real)(void *, CUdeviceptr, size_t, CUstream),
                                 void *dst, CUdeviceptr src, size_t n, CUstream s)
{
    SPLIT_1D(n, src, 0, hmt_h_memcpy_dtoh_async(real, (char *)dst + off, src + off, len, s));
    RUN_COPY(ASYNC_STREAM(real, cuMemcpyDtoHAsync_v2_ptsz, s), hmt_op_add_range(op, src, n),
             real(dst, src, n, s));
}

CUresult hmt_h_memcpy_dtod(CUresult (*real)(CUdeviceptr, CUdeviceptr, size_t), CUdeviceptr dst,
                           CUdeviceptr src, size_t n)
{
    if (hmt_engaged) note_dev_write(dst, n);
    SPLIT_1D(n, dst, src, hmt_h_memcpy_dtod(real, dst + off, src + off, len));
    RUN_COPY(SYNC_STREAM(real, cuMemcpyDtoD_v2_ptds),
             (hmt_op_add_range(op, dst, n), hmt_op_add_range(op, src, n)), real(dst, src, n));
}

CUresult hmt_h_memcpy_dtod_async(CUresult (*real)(CUdeviceptr, CUdeviceptr, size_t, CUstream),
                                 CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s)
{
    if (hmt_engaged) note_dev_write(dst, n);
    SPLIT_1D(n, dst, src, hmt_h_memcpy_dtod_async(real, dst + off, src + off, len, s));
    RUN_COPY(ASYNC_STREAM(real, cuMemcpyDtoDAsync_v2_ptsz, s),
             (hmt_op_add_range(op, dst, n), hmt_op_add_range(op, src, n)), real(dst, src, n, s));
}

CUresult hmt_h_memcpy_dtoa(CUresult (*real)(CUarray, size_t, CUdeviceptr, size_t), CUarray a,
                           size_t aoff, CUdeviceptr src, size_t n)
{
    SPLIT_1D(n, src, 0, hmt_h_memcpy_dtoa(real, a, aoff + off, src + off, len));
    RUN_COPY(SYNC_STREAM(real, cuMemcpyDtoA_v2_ptds), hmt_op_add_range(op, src, n), real(a, aoff, src, n));
}

CUresult hmt_h_memcpy_atod(CUresult (*real)(CUdeviceptr, CUarray, size_t, size_t), CUdeviceptr dst,
                           CUarray a, size_t aoff, size_t n)
{
    if (hmt_engaged) note_dev_write(dst, n);
    SPLIT_1D(n, dst, 0, hmt_h_memcpy_atod(real, dst + off, a, aoff + off, len));
    RUN_COPY(SYNC_STREAM(real, cuMemcpyAtoD_v2_ptds), hmt_op_add_range(op, dst, n), real(dst, a, aoff, n));
}

/* ---- 2D / 3D copies ----------------------------------------------------------------- */

static void add_side(struct hmt_op *op, CUmemorytype type, CUdeviceptr dev, size_t x, size_t y,
                     size_t z, size_t pitch, size_t layer_h, size_t w, size_t h, size_t d)
{
    if (type != CU_MEMORYTYPE_DEVICE && type != CU_MEMORYTYPE_UNIFIED) return;
    if (!w || !h || !d) return;
    size_t p = pitch ? pitch : w;
    size_t lh = layer_h ? layer_h : h;
    CUdeviceptr start = dev + (z * lh + y) * p + x;
    size_t len = ((d - 1) * lh + (h - 1)) * p + w;
    hmt_op_add_range(op, start, len);
}

/* Tells the hints room about a host->device 2D/3D copy: one call when both sides are
 * contiguous, else one per row (the fingerprint covers a prefix of a contiguous copy). */
static void note_htod_rows(CUmemorytype st, const void *host, size_t sp, CUmemorytype dt,
                           CUdeviceptr dst, size_t dp, size_t w, size_t rows)
{
    if (st != CU_MEMORYTYPE_HOST || (dt != CU_MEMORYTYPE_DEVICE && dt != CU_MEMORYTYPE_UNIFIED) || !host)
        return;
    if ((sp == w || sp == 0 || rows == 1) && (dp == w || dp == 0 || rows == 1)) {
        hmt_hints_note_htod(dst, host, w * rows);
        return;
    }
    for (size_t r = 0; r < rows; r++)
        hmt_hints_note_htod(dst + r * dp, (const char *)host + r * sp, w);
}

/* A 2D/3D copy into device memory from anything but host memory: the device writes the
 * destination's extent. */
static void note_dev_side(CUmemorytype st, const void *sh, CUdeviceptr sd, CUmemorytype dt,
                          CUdeviceptr dev, size_t x, size_t y, size_t z, size_t pitch,
                          size_t layer_h, size_t w, size_t h, size_t d)
{
    if (!hmt_hints_active() || !w || !h || !d) return;
    if (dt != CU_MEMORYTYPE_DEVICE && dt != CU_MEMORYTYPE_UNIFIED) return;
    if (st == CU_MEMORYTYPE_HOST || (st == CU_MEMORYTYPE_UNIFIED && is_host_ptr(sd))) return;
    (void)sh;
    size_t p = pitch ? pitch : w;
    size_t lh = layer_h ? layer_h : h;
    CUdeviceptr start = dev + (z * lh + y) * p + x;
    if (dt == CU_MEMORYTYPE_UNIFIED && is_host_ptr(start)) return;
    hmt_hints_note_device_write(start, ((d - 1) * lh + (h - 1)) * p + w);
}

static void add_2d(struct hmt_op *op, const CUDA_MEMCPY2D *c)
{
    add_side(op, c->srcMemoryType, c->srcDevice, c->srcXInBytes, c->srcY, 0, c->srcPitch, 0,
             c->WidthInBytes, c->Height, 1);
    add_side(op, c->dstMemoryType, c->dstDevice, c->dstXInBytes, c->dstY, 0, c->dstPitch, 0,
             c->WidthInBytes, c->Height, 1);
}

static void note_2d(const CUDA_MEMCPY2D *c)
{
    if (!c || !hmt_hints_active()) return;
    note_dev_side(c->srcMemoryType, c->srcHost, c->srcDevice, c->dstMemoryType, c->dstDevice,
                  c->dstXInBytes, c->dstY, 0, c->dstPitch, 0, c->WidthInBytes, c->Height, 1);
    note_htod_rows(c->srcMemoryType,
                   (const char *)c->srcHost + (c->srcHost ? c->srcY * c->srcPitch + c->srcXInBytes : 0),
                   c->srcPitch, c->dstMemoryType, c->dstDevice + c->dstY * c->dstPitch + c->dstXInBytes,
                   c->dstPitch, c->WidthInBytes, c->Height);
}

static void add_3d(struct hmt_op *op, const CUDA_MEMCPY3D *c)
{
    add_side(op, c->srcMemoryType, c->srcDevice, c->srcXInBytes, c->srcY, c->srcZ, c->srcPitch,
             c->srcHeight, c->WidthInBytes, c->Height, c->Depth);
    add_side(op, c->dstMemoryType, c->dstDevice, c->dstXInBytes, c->dstY, c->dstZ, c->dstPitch,
             c->dstHeight, c->WidthInBytes, c->Height, c->Depth);
}

static void note_3d_dev(const CUDA_MEMCPY3D *c)
{
    note_dev_side(c->srcMemoryType, c->srcHost, c->srcDevice, c->dstMemoryType, c->dstDevice,
                  c->dstXInBytes, c->dstY, c->dstZ, c->dstPitch, c->dstHeight, c->WidthInBytes,
                  c->Height, c->Depth);
}

static void note_3d(CUmemorytype st, const void *sh, size_t sp, CUmemorytype dt, CUdeviceptr dd,
                    size_t dp, size_t w, size_t h, size_t d)
{
    if (!hmt_hints_active()) return;
    note_htod_rows(st, sh, sp, dt, dd, dp, w, h * d);
}

static void add_3d_peer(struct hmt_op *op, const CUDA_MEMCPY3D_PEER *c)
{
    add_side(op, c->srcMemoryType, c->srcDevice, c->srcXInBytes, c->srcY, c->srcZ, c->srcPitch,
             c->srcHeight, c->WidthInBytes, c->Height, c->Depth);
    add_side(op, c->dstMemoryType, c->dstDevice, c->dstXInBytes, c->dstY, c->dstZ, c->dstPitch,
             c->dstHeight, c->WidthInBytes, c->Height, c->Depth);
}

/* A 2D copy whose extents could not be resident at once runs as bands of rows (srcY/dstY
 * advanced, Height cut), each band ending before the k-th next chunk boundary of every
 * managed side, in order on the same stream like a split 1D copy. */
struct side2d { int managed; CUdeviceptr start; size_t pitch; };

static struct side2d side_2d(CUmemorytype t, CUdeviceptr dev, size_t x, size_t y, size_t pitch, size_t w)
{
    struct side2d sd = { 0, 0, pitch ? pitch : w };
    if (t != CU_MEMORYTYPE_DEVICE && t != CU_MEMORYTYPE_UNIFIED) return sd;
    sd.start = dev + y * sd.pitch + x;
    sd.managed = MANAGED_(sd.start);
    return sd;
}

/* Rows from row r (of the slice `slice_off` bytes past the side's start) that stay within k
 * chunks of this side (at least 1). */
static size_t band_rows(const struct side2d *sd, size_t slice_off, size_t r, size_t rows, size_t w, size_t k)
{
    if (!sd->managed) return rows;
    size_t c = hmt_res.chunk;
    CUdeviceptr st = sd->start + slice_off + r * sd->pitch, limit = st - st % c + k * c;
    if (st + w > limit) return 1;
    size_t m = (size_t)(limit - st - w) / sd->pitch + 1;
    return m < rows ? m : rows;
}

static CUresult split_2d(const CUDA_MEMCPY2D *c, CUresult (*sync)(const CUDA_MEMCPY2D *),
                         CUresult (*async)(const CUDA_MEMCPY2D *, CUstream), CUstream s, int *done)
{
    *done = 0;
    if (split_depth || !hmt_engaged || !hmt_res.ready || !hmt_res.chunk || !c->WidthInBytes || !c->Height)
        return CUDA_SUCCESS;
    size_t w = c->WidthInBytes, h = c->Height;
    struct side2d a = side_2d(c->srcMemoryType, c->srcDevice, c->srcXInBytes, c->srcY, c->srcPitch, w);
    struct side2d b = side_2d(c->dstMemoryType, c->dstDevice, c->dstXInBytes, c->dstY, c->dstPitch, w);
    if (!a.managed && !b.managed) return CUDA_SUCCESS;
    size_t need = (a.managed ? chunks_touched(a.start, (h - 1) * a.pitch + w) : 0) +
                  (b.managed ? chunks_touched(b.start, (h - 1) * b.pitch + w) : 0);
    size_t half = (size_t)(hmt_res.budget / hmt_res.chunk / 2);
    if (need <= half) return CUDA_SUCCESS;
    size_t k = half / (size_t)(a.managed + b.managed);
    if (!k) k = 1;
    *done = 1;
    CUresult r = CUDA_SUCCESS;
    split_depth = 1;
    for (size_t row = 0, m; row < h && r == CUDA_SUCCESS; row += m) {
        m = band_rows(&a, 0, row, h - row, w, k);
        size_t mb = band_rows(&b, 0, row, h - row, w, k);
        if (mb < m) m = mb;
        CUDA_MEMCPY2D p = *c;
        p.srcY += row; p.dstY += row; p.Height = m;
        r = sync ? hmt_h_memcpy_2d(sync, &p) : hmt_h_memcpy_2d_async(async, &p, s);
    }
    split_depth = 0;
    return r;
}

CUresult hmt_h_memcpy_2d(CUresult (*real)(const CUDA_MEMCPY2D *), const CUDA_MEMCPY2D *c)
{
    if (!c) return real(c);
    if (hmt_engaged && !split_depth) note_2d(c);
    int done;
    CUresult rs = split_2d(c, real, NULL, NULL, &done);
    if (done) return rs;
    RUN_COPY(((void *)real == (void *)hmt_real.cuMemcpy2D_v2_ptds ||
              (void *)real == (void *)hmt_real.cuMemcpy2DUnaligned_v2_ptds) ? CU_STREAM_PER_THREAD : NULL,
             add_2d(op, c), real(c));
}

CUresult hmt_h_memcpy_2d_async(CUresult (*real)(const CUDA_MEMCPY2D *, CUstream), const CUDA_MEMCPY2D *c,
                               CUstream s)
{
    if (!c) return real(c, s);
    if (hmt_engaged && !split_depth) note_2d(c);
    int done;
    CUresult rs = split_2d(c, NULL, real, s, &done);
    if (done) return rs;
    RUN_COPY(ASYNC_STREAM(real, cuMemcpy2DAsync_v2_ptsz, s), add_2d(op, c), real(c, s));
}

/* A 3D copy that could not be resident at once: one slice at a time (Depth 1, srcZ/dstZ
 * advanced), each slice in bands of rows as a 2D copy is. */
static CUresult split_3d(const CUDA_MEMCPY3D *c, CUresult (*sync)(const CUDA_MEMCPY3D *),
                         CUresult (*async)(const CUDA_MEMCPY3D *, CUstream), CUstream s, int *done)
{
    *done = 0;
    size_t w = c->WidthInBytes, h = c->Height, d = c->Depth;
    if (split_depth || !hmt_engaged || !hmt_res.ready || !hmt_res.chunk || !w || !h || !d)
        return CUDA_SUCCESS;
    size_t slh = c->srcHeight ? c->srcHeight : h, dlh = c->dstHeight ? c->dstHeight : h;
    struct side2d a = side_2d(c->srcMemoryType, c->srcDevice, c->srcXInBytes, c->srcZ * slh + c->srcY, c->srcPitch, w);
    struct side2d b = side_2d(c->dstMemoryType, c->dstDevice, c->dstXInBytes, c->dstZ * dlh + c->dstY, c->dstPitch, w);
    if (!a.managed && !b.managed) return CUDA_SUCCESS;
    size_t need = (a.managed ? chunks_touched(a.start, ((d - 1) * slh + h - 1) * a.pitch + w) : 0) +
                  (b.managed ? chunks_touched(b.start, ((d - 1) * dlh + h - 1) * b.pitch + w) : 0);
    size_t half = (size_t)(hmt_res.budget / hmt_res.chunk / 2);
    if (need <= half) return CUDA_SUCCESS;
    size_t k = half / (size_t)(a.managed + b.managed);
    if (!k) k = 1;
    *done = 1;
    CUresult r = CUDA_SUCCESS;
    split_depth = 1;
    for (size_t z = 0; z < d && r == CUDA_SUCCESS; z++)
        for (size_t row = 0, m; row < h && r == CUDA_SUCCESS; row += m) {
            m = band_rows(&a, z * slh * a.pitch, row, h - row, w, k);
            size_t mb = band_rows(&b, z * dlh * b.pitch, row, h - row, w, k);
            if (mb < m) m = mb;
            CUDA_MEMCPY3D p = *c;
            p.srcZ += z; p.dstZ += z; p.Depth = 1;
            p.srcY += row; p.dstY += row; p.Height = m;
            p.srcHeight = slh; p.dstHeight = dlh;
            r = sync ? hmt_h_memcpy_3d(sync, &p) : hmt_h_memcpy_3d_async(async, &p, s);
        }
    split_depth = 0;
    return r;
}

CUresult hmt_h_memcpy_3d(CUresult (*real)(const CUDA_MEMCPY3D *), const CUDA_MEMCPY3D *c)
{
    if (!c) return real(c);
    if (hmt_engaged && !split_depth) note_3d_dev(c);
    if (hmt_engaged && !split_depth && c->srcHost)
        note_3d(c->srcMemoryType, c->srcHost, c->srcPitch, c->dstMemoryType, c->dstDevice,
                c->dstPitch, c->WidthInBytes, c->Height, c->Depth);
    int done;
    CUresult rs = split_3d(c, real, NULL, NULL, &done);
    if (done) return rs;
    RUN_COPY(SYNC_STREAM(real, cuMemcpy3D_v2_ptds), add_3d(op, c), real(c));
}

CUresult hmt_h_memcpy_3d_async(CUresult (*real)(const CUDA_MEMCPY3D *, CUstream), const CUDA_MEMCPY3D *c,
                               CUstream s)
{
    if (!c) return real(c, s);
    if (hmt_engaged && !split_depth) note_3d_dev(c);
    if (hmt_engaged && !split_depth && c->srcHost)
        note_3d(c->srcMemoryType, c->srcHost, c->srcPitch, c->dstMemoryType, c->dstDevice,
                c->dstPitch, c->WidthInBytes, c->Height, c->Depth);
    int done;
    CUresult rs = split_3d(c, NULL, real, s, &done);
    if (done) return rs;
    RUN_COPY(ASYNC_STREAM(real, cuMemcpy3DAsync_v2_ptsz, s), add_3d(op, c), real(c, s));
}

CUresult hmt_h_memcpy_3d_peer(CUresult (*real)(const CUDA_MEMCPY3D_PEER *), const CUDA_MEMCPY3D_PEER *c)
{
    if (!c) return real(c);
    if (hmt_engaged)
        note_dev_side(c->srcMemoryType, c->srcHost, c->srcDevice, c->dstMemoryType, c->dstDevice,
                      c->dstXInBytes, c->dstY, c->dstZ, c->dstPitch, c->dstHeight, c->WidthInBytes,
                      c->Height, c->Depth);
    RUN_COPY(SYNC_STREAM(real, cuMemcpy3DPeer_ptds), add_3d_peer(op, c), real(c));
}

CUresult hmt_h_memcpy_3d_peer_async(CUresult (*real)(const CUDA_MEMCPY3D_PEER *, CUstream),
                                    const CUDA_MEMCPY3D_PEER *c, CUstream s)
{
    if (!c) return real(c, s);
    if (hmt_engaged)
        note_dev_side(c->srcMemoryType, c->srcHost, c->srcDevice, c->dstMemoryType, c->dstDevice,
                      c->dstXInBytes, c->dstY, c->dstZ, c->dstPitch, c->dstHeight, c->WidthInBytes,
                      c->Height, c->Depth);
    RUN_COPY(ASYNC_STREAM(real, cuMemcpy3DPeerAsync_ptsz, s), add_3d_peer(op, c), real(c, s));
}

/* ---- batches ------------------------------------------------------------------------- */

static void add_batch(struct hmt_op *op, CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t n)
{
    if (!dsts || !srcs || !sizes) return;
    for (size_t i = 0; i < n; i++) {
        hmt_op_add_range(op, dsts[i], sizes[i]);
        hmt_op_add_range(op, srcs[i], sizes[i]);
    }
}

static void note_batch(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t n)
{
    if (!dsts || !srcs || !sizes) return;
    for (size_t i = 0; i < n; i++) note_htod_unified(dsts[i], srcs[i], sizes[i]);
}

/* A batch whose entries together could not be resident at once runs entry by entry (each
 * entry split like a 1D copy), as one-entry batches with that entry's attributes, in order
 * on the same stream: each needs only its own chunks. 1 when that is needed. */
static int batch_splits(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t n,
                        CUmemcpyAttributes *attrs, size_t *idx, size_t nattrs)
{
    if (split_depth || !dsts || !srcs || !sizes || !hmt_engaged || !hmt_res.ready || !hmt_res.chunk)
        return 0;
    if (nattrs && (!attrs || !idx || idx[0] != 0)) return 0;   /* the driver's error to give */
    size_t need = 0, half = (size_t)(hmt_res.budget / hmt_res.chunk / 2);
    for (size_t i = 0; i < n && need <= half; i++) {
        if (!sizes[i]) continue;
        if (MANAGED_(dsts[i])) need += chunks_touched(dsts[i], sizes[i]);
        if (MANAGED_(srcs[i])) need += chunks_touched(srcs[i], sizes[i]);
    }
    return need > half;
}

/* The attributes entry i uses: the last j with idx[j] <= i (idx ascending, from 0). */
static CUmemcpyAttributes *batch_attr(CUmemcpyAttributes *attrs, size_t *idx, size_t nattrs, size_t i)
{
    size_t a = 0;
    while (a + 1 < nattrs && idx[a + 1] <= i) a++;
    return nattrs ? &attrs[a] : NULL;
}

static CUresult batch_piece(CUresult (*v1)(CUdeviceptr *, CUdeviceptr *, size_t *, size_t,
                                           CUmemcpyAttributes *, size_t *, size_t, size_t *, CUstream),
                            CUresult (*v2)(CUdeviceptr *, CUdeviceptr *, size_t *, size_t,
                                           CUmemcpyAttributes *, size_t *, size_t, CUstream),
                            CUstream order, CUdeviceptr dst, CUdeviceptr src, size_t len,
                            CUmemcpyAttributes *attr, CUstream s)
{
    size_t zero = 0, fail = 0;
    RUN_COPY(order, (hmt_op_add_range(op, dst, len), hmt_op_add_range(op, src, len)),
             v1 ? v1(&dst, &src, &len, 1, attr, attr ? &zero : NULL, attr ? 1 : 0, &fail, s)
                : v2(&dst, &src, &len, 1, attr, attr ? &zero : NULL, attr ? 1 : 0, s));
}

/* Runs the batch entry by entry; *fail (v1) names the entry that failed. */
static CUresult batch_each(CUresult (*v1)(CUdeviceptr *, CUdeviceptr *, size_t *, size_t,
                                          CUmemcpyAttributes *, size_t *, size_t, size_t *, CUstream),
                           CUresult (*v2)(CUdeviceptr *, CUdeviceptr *, size_t *, size_t,
                                          CUmemcpyAttributes *, size_t *, size_t, CUstream),
                           CUstream order, CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes,
                           size_t n, CUmemcpyAttributes *attrs, size_t *idx, size_t nattrs,
                           size_t *fail, CUstream s)
{
    CUresult r = CUDA_SUCCESS;
    split_depth = 1;
    for (size_t i = 0; i < n && r == CUDA_SUCCESS; i++) {
        CUmemcpyAttributes *attr = batch_attr(attrs, idx, nattrs, i);
        CUdeviceptr d = dsts[i], sr = srcs[i];
        int md = MANAGED_(d), ms = MANAGED_(sr);
        split_depth = 0;
        size_t k = (md || ms) ? split_k(sizes[i], d, md, sr, ms) : 0;
        split_depth = 1;
        size_t len;
        for (size_t off = 0; off < sizes[i] && r == CUDA_SUCCESS; off += len) {
            len = k ? piece_len(off, sizes[i], k, d, md, sr, ms) : sizes[i];
            r = batch_piece(v1, v2, order, d + off, sr + off, len, attr, s);
        }
        if (r != CUDA_SUCCESS && fail) *fail = i;
    }
    split_depth = 0;
    return r;
}

CUresult hmt_h_memcpy_batch(CUresult (*real)(CUdeviceptr *, CUdeviceptr *, size_t *, size_t,
                                             CUmemcpyAttributes *, size_t *, size_t, size_t *, CUstream),
                            CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t n,
                            CUmemcpyAttributes *attrs, size_t *idx, size_t nattrs, size_t *fail,
                            CUstream s)
{
    if (hmt_engaged) note_batch(dsts, srcs, sizes, n);
    if (batch_splits(dsts, srcs, sizes, n, attrs, idx, nattrs))
        return batch_each(real, NULL, ASYNC_STREAM(real, cuMemcpyBatchAsync_ptsz, s), dsts, srcs,
                          sizes, n, attrs, idx, nattrs, fail, s);
    RUN_COPY(ASYNC_STREAM(real, cuMemcpyBatchAsync_ptsz, s), add_batch(op, dsts, srcs, sizes, n),
             real(dsts, srcs, sizes, n, attrs, idx, nattrs, fail, s));
}

CUresult hmt_h_memcpy_batch_v2(CUresult (*real)(CUdeviceptr *, CUdeviceptr *, size_t *, size_t,
                                                CUmemcpyAttributes *, size_t *, size_t, CUstream),
                               CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t n,
                               CUmemcpyAttributes *attrs, size_t *idx, size_t nattrs, CUstream s)
{
    if (hmt_engaged) note_batch(dsts, srcs, sizes, n);
    if (batch_splits(dsts, srcs, sizes, n, attrs, idx, nattrs))
        return batch_each(NULL, real, ASYNC_STREAM(real, cuMemcpyBatchAsync_v2_ptsz, s), dsts, srcs,
                          sizes, n, attrs, idx, nattrs, NULL, s);
    RUN_COPY(ASYNC_STREAM(real, cuMemcpyBatchAsync_v2_ptsz, s), add_batch(op, dsts, srcs, sizes, n),
             real(dsts, srcs, sizes, n, attrs, idx, nattrs, s));
}

/* 3D batches: a pointer operand brings in what a launch reference would (its allocation or
 * hinted tensor): the operand's extent is in elements of a layout hmt does not track. */
static void add_3d_batch(struct hmt_op *op, size_t n, const CUDA_MEMCPY3D_BATCH_OP *ops)
{
    if (!ops) return;
    for (size_t i = 0; i < n; i++) {
        if (ops[i].src.type == CU_MEMCPY_OPERAND_TYPE_POINTER) hmt_op_add_ref(op, ops[i].src.op.ptr.ptr);
        if (ops[i].dst.type == CU_MEMCPY_OPERAND_TYPE_POINTER) hmt_op_add_ref(op, ops[i].dst.op.ptr.ptr);
    }
}

CUresult hmt_h_memcpy_3d_batch(CUresult (*real)(size_t, CUDA_MEMCPY3D_BATCH_OP *, size_t *, unsigned long long, CUstream),
                               size_t n, CUDA_MEMCPY3D_BATCH_OP *ops, size_t *fail,
                               unsigned long long flags, CUstream s)
{
    RUN_COPY(ASYNC_STREAM(real, cuMemcpy3DBatchAsync_ptsz, s), add_3d_batch(op, n, ops),
             real(n, ops, fail, flags, s));
}

CUresult hmt_h_memcpy_3d_batch_v2(CUresult (*real)(size_t, CUDA_MEMCPY3D_BATCH_OP *, unsigned long long, CUstream),
                                  size_t n, CUDA_MEMCPY3D_BATCH_OP *ops, unsigned long long flags,
                                  CUstream s)
{
    RUN_COPY(ASYNC_STREAM(real, cuMemcpy3DBatchAsync_v2_ptsz, s), add_3d_batch(op, n, ops),
             real(n, ops, flags, s));
}

/* ---- memsets -------------------------------------------------------------------------- */

#define MEMSET_1D(fn, T, esz, ptds)                                                              \
    CUresult fn(CUresult (*real)(CUdeviceptr, T, size_t), CUdeviceptr d, T v, size_t n)          \
    {                                                                                            \
        if (hmt_engaged && !split_depth) note_dev_write(d, n * (esz));                        \
        SPLIT_1D_ALIGNED(n * (esz), d, 0, esz, fn(real, d + off, v, len / (esz)));                           \
        RUN_COPY(SYNC_STREAM(real, ptds), hmt_op_add_range(op, d, n * (esz)), real(d, v, n));    \
    }
#define MEMSET_1D_ASYNC(fn, T, esz, ptsz)                                                        \
    CUresult fn(CUresult (*real)(CUdeviceptr, T, size_t, CUstream), CUdeviceptr d, T v, size_t n, \
                CUstream s)                                                                      \
    {                                                                                            \
        if (hmt_engaged && !split_depth) note_dev_write(d, n * (esz));                        \
        SPLIT_1D_ALIGNED(n * (esz), d, 0, esz, fn(real, d + off, v, len / (esz), s));                        \
        RUN_COPY(ASYNC_STREAM(real, ptsz, s), hmt_op_add_range(op, d, n * (esz)),                \
                 real(d, v, n, s));                                                              \
    }
/* A 2D fill that could not be resident at once runs as bands of rows (d advanced by whole
 * rows, h cut), like a 2D copy. */
#define SPLIT_ROWS(d, pitch, wb, h, call_band) do {                                             \
        if (!split_depth && hmt_engaged && hmt_res.ready && hmt_res.chunk && (wb) != 0 && (h) && \
            (pitch) && MANAGED_(d)) {                                                            \
            size_t half_ = (size_t)(hmt_res.budget / hmt_res.chunk / 2);                         \
            if (chunks_touched((d), ((h) - 1) * (pitch) + (wb)) > half_) {                       \
                struct side2d sd_ = { 1, (d), (pitch) };                                         \
                CUresult rb_ = CUDA_SUCCESS;                                                     \
                split_depth = 1;                                                                 \
                for (size_t row = 0, m; row < (h) && rb_ == CUDA_SUCCESS; row += m) {            \
                    m = band_rows(&sd_, 0, row, (h) - row, (wb), half_ ? half_ : 1);             \
                    rb_ = call_band;                                                             \
                }                                                                                \
                split_depth = 0;                                                                 \
                return rb_;                                                                      \
            }                                                                                    \
        }                                                                                        \
    } while (0)
#define MEMSET_2D(fn, T, esz, ptds)                                                              \
    CUresult fn(CUresult (*real)(CUdeviceptr, size_t, T, size_t, size_t), CUdeviceptr d,         \
                size_t pitch, T v, size_t w, size_t h)                                           \
    {                                                                                            \
        if (hmt_engaged && w && h && !split_depth) note_dev_write(d, (h - 1) * pitch + w * (esz)); \
        SPLIT_ROWS(d, pitch, w * (esz), h, fn(real, d + row * pitch, pitch, v, w, m));           \
        RUN_COPY(SYNC_STREAM(real, ptds),                                                        \
                 if (w && h) hmt_op_add_range(op, d, (h - 1) * pitch + w * (esz)),               \
                 real(d, pitch, v, w, h));                                                       \
    }
#define MEMSET_2D_ASYNC(fn, T, esz, ptsz)                                                        \
    CUresult fn(CUresult (*real)(CUdeviceptr, size_t, T, size_t, size_t, CUstream),              \
                CUdeviceptr d, size_t pitch, T v, size_t w, size_t h, CUstream s)                \
    {                                                                                            \
        if (hmt_engaged && w && h && !split_depth) note_dev_write(d, (h - 1) * pitch + w * (esz)); \
        SPLIT_ROWS(d, pitch, w * (esz), h, fn(real, d + row * pitch, pitch, v, w, m, s));        \
        RUN_COPY(ASYNC_STREAM(real, ptsz, s),                                                    \
                 if (w && h) hmt_op_add_range(op, d, (h - 1) * pitch + w * (esz)),               \
                 real(d, pitch, v, w, h, s));                                                    \
    }

MEMSET_1D(hmt_h_memset_d8, unsigned char, 1, cuMemsetD8_v2_ptds)
MEMSET_1D(hmt_h_memset_d16, unsigned short, 2, cuMemsetD16_v2_ptds)
MEMSET_1D(hmt_h_memset_d32, unsigned int, 4, cuMemsetD32_v2_ptds)
MEMSET_1D_ASYNC(hmt_h_memset_d8_async, unsigned char, 1, cuMemsetD8Async_ptsz)
MEMSET_1D_ASYNC(hmt_h_memset_d16_async, unsigned short, 2, cuMemsetD16Async_ptsz)
MEMSET_1D_ASYNC(hmt_h_memset_d32_async, unsigned int, 4, cuMemsetD32Async_ptsz)
MEMSET_2D(hmt_h_memset_d2d8, unsigned char, 1, cuMemsetD2D8_v2_ptds)
MEMSET_2D(hmt_h_memset_d2d16, unsigned short, 2, cuMemsetD2D16_v2_ptds)
MEMSET_2D(hmt_h_memset_d2d32, unsigned int, 4, cuMemsetD2D32_v2_ptds)
MEMSET_2D_ASYNC(hmt_h_memset_d2d8_async, unsigned char, 1, cuMemsetD2D8Async_ptsz)
MEMSET_2D_ASYNC(hmt_h_memset_d2d16_async, unsigned short, 2, cuMemsetD2D16Async_ptsz)
MEMSET_2D_ASYNC(hmt_h_memset_d2d32_async, unsigned int, 4, cuMemsetD2D32Async_ptsz)
