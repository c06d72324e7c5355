/* nvme.h — the NVMe tier: chunks spilled to one unnamed file and read back (nvme.c).
 *
 * The residency engine keeps "where an evicted chunk's bytes live" behind its backing
 * interface; this is the backing for the SSD tier (hinted SSD tensors, and host-tier overflow
 * under HMT_HOST_LIMIT). It moves whole chunks between pinned host buffers and the spill file.
 *
 * Spill file: one per process, in HMT_NVME_DIR (default: $TMPDIR, else /var/tmp), opened with
 * O_TMPFILE (fallback: create with a random name and unlink at once), mode 0600, so it has no
 * name while it holds data and the kernel frees it when the process dies, even by kill -9.
 * Space is handed out in fixed-size slots (the chunk size given to hmt_nvme_init), reused
 * through a free list, and the file grows with fallocate(2) in steps.
 *
 * I/O: liburing with O_DIRECT, the file registered as a fixed file, up to HMT_NVME_QD
 * (default 32) requests in flight per calling thread, submitted in batches. Each calling
 * thread gets its own ring (no lock is held while I/O is in flight or a callback runs).
 * Buffers: the caller's own pinned chunk buffers, no bounce copy. Slabs the caller announces
 * with hmt_nvme_register_buffer() become io_uring fixed buffers (READ_FIXED / WRITE_FIXED);
 * a buffer outside every registered slab still works through plain READ / WRITE.
 * With O_DIRECT, `bufs[i]` must be 4096-byte aligned and `bytes` a multiple of 4096
 * (host-pool chunks are); otherwise that chunk fails with -EINVAL. A buffer the kernel
 * refuses to pin for direct I/O (EFAULT) is copied through the page cache instead, announced
 * once.
 * fork(): the child inherits no descriptor or ring of the parent's spill file (they would
 * keep its disk space alive); in the child every call returns -ENODEV until it calls
 * hmt_nvme_init, which opens a spill file of its own.
 *
 * Fallbacks, each announced once (HMT_WARN) and visible as stats "nvme_fallback":
 *   io_uring unavailable (ENOSYS, EPERM, as in some containers) -> pread/pwrite thread pool
 *   O_DIRECT refused (EINVAL, e.g. tmpfs)                         -> buffered I/O
 * Failures: short reads/writes are resumed. ENOSPC or any write error fails that chunk only
 * (errs[i] < 0; the caller keeps the data where it was). A read error is reported per chunk,
 * with its slot, so the caller can name the tensor and fail the launch.
 *
 * Thread-safety: every function is thread-safe. Callbacks run on the calling thread, with no
 * lock of this file held, and may call driver functions (e.g. enqueue a host->device copy).
 */
#ifndef HMT_INTERPOSE_NVME_H
#define HMT_INTERPOSE_NVME_H

#include <stddef.h>
#include <stdint.h>

/* Opens the spill file with slot size `slot_bytes` (the chunk size; multiple of 4096).
 * Idempotent and lazy: the first call opens, later calls return its result; a later call
 * with a different slot size returns -EINVAL. Returns 0, or -errno when no spill file can
 * be made (the caller then keeps chunks in the host tier / on the GPU). */
int hmt_nvme_init(size_t slot_bytes);

/* Announces a pinned host slab [base, base+len) (e.g. from cuMemHostAlloc) so chunks inside
 * it use io_uring fixed buffers. Optional: a failure (-ENOMEM, -EPERM with a low
 * RLIMIT_MEMLOCK, -ENOSPC when the table of slabs is full) only costs speed, never correctness.
 * hmt_nvme_unregister_buffer must be called before the slab is freed; it waits for nothing
 * (the caller must not free a slab with I/O on it in flight). */
int hmt_nvme_register_buffer(void *base, size_t len);
void hmt_nvme_unregister_buffer(void *base);

/* Called before chunk i's write is submitted; returns once bufs[i] holds the data to write
 * (e.g. cuEventSynchronize on the device->host copy of chunk i). Lets the writes of chunks
 * already copied overlap the device->host copies of the rest. Returns 0, or -errno to fail
 * chunk i (errs[i] = that value; nothing is written for it). */
typedef int (*hmt_nvme_ready_fn)(unsigned i, void *arg);
/* Called as soon as chunk i's read completes (err 0) or fails (err < 0, bufs[i] undefined).
 * Lets the caller start chunk i's host->device copy while the others are still being read. */
typedef void (*hmt_nvme_done_fn)(unsigned i, int err, void *arg);

/* Writes n chunks of `bytes` each (bytes <= slot size) from bufs[] to newly allocated slots.
 * On return slots_out[i] is chunk i's slot (>= 0) and errs[i] == 0, or slots_out[i] == -1 and
 * errs[i] = -errno (-ENOSPC, -EIO, -EINVAL, ...): that chunk was not stored, bufs[i] is
 * untouched and still the only copy. `ready` may be NULL (all buffers ready now).
 * Returns 0 if every chunk was stored, else the first chunk's error. Blocks until done. */
int hmt_nvme_write(unsigned n, void *const bufs[], size_t bytes, int64_t slots_out[],
                   int errs[], hmt_nvme_ready_fn ready, void *arg);

/* Reads n chunks of `bytes` each from slots[] into bufs[]. errs[i] = 0 or -errno (-EIO, ...;
 * -ENODATA for a read past what was written). `on_done` may be NULL. Slots stay allocated.
 * Returns 0 if every chunk was read, else the first chunk's error. Blocks until done. */
int hmt_nvme_read(unsigned n, void *const bufs[], size_t bytes, const int64_t slots[],
                  int errs[], hmt_nvme_done_fn on_done, void *arg);

/* Returns a slot to the free list (after its chunk was faulted in or freed). -1 is ignored. */
void hmt_nvme_free_slot(int64_t slot);

/* What the tier has done; also exported as stats (stats.def) and by hmt_nvme_stats_json. */
struct hmt_nvme_stats {
    uint64_t bytes_written, bytes_read;   /* bytes stored / read back successfully */
    uint64_t write_ns, read_ns;           /* wall time with writes / reads in flight */
    double write_gbps, read_gbps;         /* bytes / that time, in 10^9 bytes per second */
    uint64_t slots_used, slots_total;     /* slots holding data; slots the file has room for */
    uint64_t write_errors, read_errors;   /* chunks that failed */
    uint64_t fixed_buffer_ios;            /* requests served from registered slabs (io_uring) */
    const char *fallback;                 /* "none" | "threads" | "buffered" | "threads+buffered" */
};
void hmt_nvme_get_stats(struct hmt_nvme_stats *out);
/* Adds nvme_write_gbps, nvme_read_gbps, nvme_fixed_buffer_ios (numbers) and nvme_fallback
 * (string) to the HMT_STATS JSON object `root` (a cJSON*); the byte counters come from
 * stats.def. No-op before init. */
void hmt_nvme_stats_json(void *root);

/* Closes the spill file and frees everything (tests, and exit). Slots become invalid. */
void hmt_nvme_shutdown(void);

#endif
