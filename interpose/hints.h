/* hints.h — naming device memory after tensors (hints.c). The residency engine asks these
 * questions; the copy and allocation handlers report what they see. All functions are
 * thread-safe and cheap when no hints are loaded (one branch). */
#ifndef HMT_INTERPOSE_HINTS_H
#define HMT_INTERPOSE_HINTS_H

#include <cuda.h>
#include <stddef.h>

/* Tiers, hottest first. Extra emulated tiers (e.g. CXL) get ids after SSD. */
enum { HMT_TIER_HBM = 0, HMT_TIER_CPU = 1, HMT_TIER_SSD = 2, HMT_TIER_MAX = 8 };

/* Loads HMT_HINTS (either format) once. 0: loaded or none set; -errno: invalid file (hmt then
 * runs as pass-through, or aborts start-up when HMT_STRICT=1). */
int hmt_hints_init(void);
/* 1 when a hints file is loaded. */
int hmt_hints_active(void);

/* A host->device copy of `bytes` from host `src` to device `dst` is being enqueued (sync or
 * async, any variant). May tag [dst, dst+bytes) with a tensor's name and tier. */
void hmt_hints_note_htod(CUdeviceptr dst, const void *src, size_t bytes);
/* Allocation events (order fallback; tags die with their memory). */
void hmt_hints_note_alloc(CUdeviceptr base, size_t bytes);
void hmt_hints_note_free(CUdeviceptr base, size_t bytes);

/* Hottest tier of any tagged tensor overlapping [addr, addr+len), or -1 if none is tagged. */
int hmt_hints_tier_of(CUdeviceptr addr, size_t len);
/* The tagged tensor containing addr: sets *start, *len, *tier and returns 1; 0 if untagged. */
int hmt_hints_tensor_at(CUdeviceptr addr, CUdeviceptr *start, size_t *len, int *tier);

/* Adds the hints room's fields to the HMT_STATS JSON object (stats.c calls it at exit):
 * tagging counters and, with HMT_STATS_TENSORS=1, a "tensors" array. `root` is a cJSON*. */
void hmt_hints_stats_json(void *root);

#endif
