/* hints.h — naming device memory after tensors (hints.c). The residency engine asks these
 * questions; the copy and allocation handlers report what they see. All functions are
 * thread-safe and cheap when no hints are loaded (one branch). */
#ifndef HMT_INTERPOSE_HINTS_H
#define HMT_INTERPOSE_HINTS_H

#include <cuda.h>
#include <stddef.h>
#include <stdint.h>

/* Tiers, hottest first. Extra emulated tiers (e.g. CXL) get ids after SSD. */
enum { HMT_TIER_HBM = 0, HMT_TIER_CPU = 1, HMT_TIER_SSD = 2, HMT_TIER_MAX = 8 };

/* Loads HMT_HINTS (either format) once; every other function calls it lazily too, so
 * calling it early (at start-up, after options) only moves the error message forward.
 * 0: loaded or none set; -errno: unreadable or invalid file: one error line, then hmt runs
 * without hints (pass-through for naming), or with HMT_STRICT=1 the process exits(1) there:
 * an injected library has no error path the program would notice, and making cuInit fail
 * would only make frameworks fall back to CPU silently. */
int hmt_hints_init(void);
/* Tests and fuzzing: replaces whatever is loaded (and every tag) with hints parsed from
 * buf[0..len) (either format). 0 or -EINVAL (then no hints). Not for use while others call in. */
int hmt_hints_load_buffer(const char *buf, size_t len);
/* 1 when tagging is on: a structured hints file with at least one tensor is loaded. A flat
 * {"module": tier} file loads (reported in stats) but cannot name memory: 0. */
int hmt_hints_active(void);

/* A host->device copy of `bytes` from host `src` to device `dst` is being enqueued (sync or
 * async, any variant). May tag [dst, dst+bytes) with a tensor's name and tier. Call it once
 * the driver accepted the copy (src is then known readable): on a size match it reads the
 * first min(bytes, 64 KiB) of src to fingerprint them. */
void hmt_hints_note_htod(CUdeviceptr dst, const void *src, size_t bytes);
/* Allocation events (order fallback; tags die with their memory). */
void hmt_hints_note_alloc(CUdeviceptr base, size_t bytes);
void hmt_hints_note_free(CUdeviceptr base, size_t bytes);
/* The device side writes [dst, dst+bytes) (a memset, or a copy whose destination is device
 * memory): tags overlapping it die, as at free, unless the range lies wholly inside one
 * tagged tensor. A write over a tag and beyond is a caching allocator reusing the block for
 * something else; a kept tag would narrow a later launch's reference to the old tensor's
 * chunks. Kernel writes are invisible here (RESIDENCY.md, limits). */
void hmt_hints_note_device_write(CUdeviceptr dst, size_t bytes);

/* Hottest tier of any tagged tensor overlapping [addr, addr+len), or -1 if none is tagged. */
int hmt_hints_tier_of(CUdeviceptr addr, size_t len);
/* The tagged tensor containing addr: sets *start, *len, *tier and returns 1; 0 if untagged. */
int hmt_hints_tensor_at(CUdeviceptr addr, CUdeviceptr *start, size_t *len, int *tier);

/* Residency's movement notes, for per-tensor and per-tier stats: [addr, addr+bytes) was
 * brought onto the GPU (fault in or prefetch of an evicted chunk), or evicted from it. */
void hmt_hints_note_fault(CUdeviceptr addr, size_t bytes);
void hmt_hints_note_evict(CUdeviceptr addr, size_t bytes);

/* Name of the tagged tensor containing addr (valid for the life of the process), or NULL. */
const char *hmt_hints_name_at(CUdeviceptr addr);
/* Largest device size of any CPU/SSD-tier tensor (staging-window default), 0 without hints. */
uint64_t hmt_hints_largest_cold(void);
/* Staging window: device bytes that CPU/SSD-tier chunks may hold at once while they visit
 * the GPU for operations. HMT_STAGING when set, else twice (the largest cold tensor rounded
 * up to chunks, plus one chunk it may straddle into); rounded up to chunks, at least 2. */
uint64_t hmt_hints_staging_bytes(size_t chunk);
/* "HBM", "CPU", "SSD" or an extra tier's name from the hints file. */
const char *hmt_hints_tier_name(int tier);

/* Adds the hints room's fields to the HMT_STATS JSON object (stats.c calls it at exit):
 * tagging counters and, with HMT_STATS_TENSORS=1, a "tensors" array. `root` is a cJSON*. */
void hmt_hints_stats_json(void *root);
/* Fields it adds, under root["hints"]: path, format ("hmt-tier-hints" | "flat" | "invalid"),
 * active, hinted_tensors, duplicates, skipped, tagged_tensors (hinted tensors ever tagged),
 * tagged_bytes (their device bytes), tagged_by_fingerprint, tagged_by_order (how each was
 * named last, counting live tags first), never_loaded, htod_bytes (bytes of all host->device
 * copies seen) = tagged_htod_bytes (copies that landed in a named tensor: a fingerprint match,
 * or wholly inside a live tag, e.g. an order-named destination) + untagged_bytes (copies that
 * landed in no named tensor). tagged_bytes counts device bytes of named tensors, not copies,
 * so it is not part of that sum (a tensor named by order and filled by a cast kernel from a
 * staging buffer has tagged bytes while its upload was untagged). tiers{NAME: {hinted_*, tagged_*, resident_bytes,
 * evicted_bytes, faults}}, and with HMT_STATS_TENSORS=1 tensors[{name, module, tier, named,
 * dtype, bytes, addr, live, faults, bytes_in, evictions, bytes_out}] in state-dict order
 * (faults/evictions: chunk movements overlapping the tensor; bytes_in/out: its bytes they
 * moved; per-tier resident_bytes = tagged bytes - (bytes_out - bytes_in), at exit). */

/* Warns once (one line) when structured hints were loaded and the process uploaded something,
 * but fewer than half of the hinted tensors' bytes were named, or none was named by
 * fingerprint while some were by order and no upload ever matched a hinted tensor's contents
 * (sizes matched, contents never did; a device-side cast still has matching staging
 * uploads, so it does not warn): the hints are probably for another model. Returns 1 when that is the case, else 0. hints.c calls it at
 * exit (destructor); tests call it directly. */
int hmt_hints_check_named(void);

#endif
