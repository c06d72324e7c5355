/* policy.h — which resident chunk to evict next. One small interface so that learned
 * prefetching, staging windows for CPU/SSD-hinted tensors and the NVMe tier change only
 * policy.c. Every function is called with hmt_map_lock held (see residency.h's lock order).
 *
 * Today: chunks the hints place in CPU/SSD ("cold") are evicted first, least recently used
 * first; then other chunks, those the hints place in HBM (and untagged ones, HBM-preferred)
 * only when nothing else is left; "use" being the operation sequence number of the last
 * launch/copy/memset/graph launch that touched the chunk.
 * Staging window (hints room): cold chunks visit the GPU for the operations that use them;
 * residency keeps their resident bytes (hmt_policy_cold_bytes) within the window by evicting
 * hmt_policy_cold_victim()s after each operation. */
#ifndef HMT_INTERPOSE_POLICY_H
#define HMT_INTERPOSE_POLICY_H

#include <stdint.h>

struct hmt_chunk;

/* c became resident (mapped) and may be chosen from now on. */
void hmt_policy_resident(struct hmt_chunk *c);
/* An operation with sequence `seq` touches c. */
void hmt_policy_touch(struct hmt_chunk *c, uint64_t seq);
/* c is no longer resident (evicting, evicted or freed). */
void hmt_policy_gone(struct hmt_chunk *c);
/* Next victim among resident chunks for which ok(c, arg) is 1, or NULL. `is_hbm(c)` answers
 * whether the hints place c in HBM (consulted here so the policy owns that rule). */
struct hmt_chunk *hmt_policy_victim(int (*ok)(struct hmt_chunk *, void *), void *arg,
                                    int (*is_hbm)(struct hmt_chunk *));

/* Bytes of resident cold chunks (readable without the lock; exact under it). */
uint64_t hmt_policy_cold_bytes(void);
/* Least recently used resident cold chunk for which ok(c, arg) is 1, or NULL. */
struct hmt_chunk *hmt_policy_cold_victim(int (*ok)(struct hmt_chunk *, void *), void *arg);

#endif
