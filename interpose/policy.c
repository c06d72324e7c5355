/* policy.c — least recently used eviction with HBM-preferred chunks last, and the staging
 * window for chunks the hints place in CPU/SSD (see policy.h).
 * Two doubly linked lists ordered by last use (touching moves a chunk to the tail, so each
 * head is its least recently used): `cold` holds resident chunks whose hinted tier is CPU,
 * SSD or colder, `hot` every other resident chunk (HBM-hinted and untagged). A chunk's list
 * is decided again on every touch, because tags appear after allocation (the upload that
 * names a tensor touches its chunks). on_lru says which list: 0 none, 1 hot, 2 cold.
 * Victims come from cold first, then hot skipping HBM-preferred chunks, then anything.
 * Called under hmt_map_lock; a touch costs one hints lookup (shared lock, binary search). */
#include "policy.h"
#include "residency.h"
#include "hints.h"

enum { LIST_NONE = 0, LIST_HOT = 1, LIST_COLD = 2 };
struct list { struct hmt_chunk *head, *tail; };
static struct list lists[3];
static _Atomic uint64_t cold_bytes;

static void unlink_chunk(struct hmt_chunk *c)
{
    struct list *l = &lists[c->on_lru];
    if (c->lru_prev) c->lru_prev->lru_next = c->lru_next; else l->head = c->lru_next;
    if (c->lru_next) c->lru_next->lru_prev = c->lru_prev; else l->tail = c->lru_prev;
    c->lru_prev = c->lru_next = NULL;
    if (c->on_lru == LIST_COLD) atomic_fetch_sub_explicit(&cold_bytes, hmt_res.chunk, memory_order_relaxed);
    c->on_lru = LIST_NONE;
}

static void append_chunk(struct hmt_chunk *c, int which)
{
    struct list *l = &lists[which];
    c->lru_prev = l->tail;
    c->lru_next = NULL;
    if (l->tail) l->tail->lru_next = c; else l->head = c;
    l->tail = c;
    c->on_lru = which;
    if (which == LIST_COLD) atomic_fetch_add_explicit(&cold_bytes, hmt_res.chunk, memory_order_relaxed);
}

/* A chunk's tier is the hottest tier of the tagged tensors overlapping it; untagged = hot. */
static int list_for(const struct hmt_chunk *c)
{
    CUdeviceptr va = c->alloc->base + (CUdeviceptr)c->index * hmt_res.chunk;
    return hmt_hints_tier_of(va, hmt_res.chunk) > HMT_TIER_HBM ? LIST_COLD : LIST_HOT;
}

void hmt_policy_resident(struct hmt_chunk *c)
{
    if (c->on_lru) unlink_chunk(c);
    append_chunk(c, list_for(c));
}

void hmt_policy_touch(struct hmt_chunk *c, uint64_t seq)
{
    c->last_use = seq;
    if (!c->on_lru) return;
    int which = list_for(c);
    if (lists[which].tail != c) { unlink_chunk(c); append_chunk(c, which); }
}

void hmt_policy_gone(struct hmt_chunk *c)
{
    if (c->on_lru) unlink_chunk(c);
}

uint64_t hmt_policy_cold_bytes(void)
{
    return atomic_load_explicit(&cold_bytes, memory_order_relaxed);
}

struct hmt_chunk *hmt_policy_cold_victim(int (*ok)(struct hmt_chunk *, void *), void *arg)
{
    for (struct hmt_chunk *c = lists[LIST_COLD].head; c; c = c->lru_next)
        if (ok(c, arg)) return c;
    return NULL;
}

struct hmt_chunk *hmt_policy_victim(int (*ok)(struct hmt_chunk *, void *), void *arg,
                                    int (*is_hbm)(struct hmt_chunk *))
{
    struct hmt_chunk *c = hmt_policy_cold_victim(ok, arg);
    if (c) return c;
    for (int pass = 0; pass < 2; pass++) {
        for (c = lists[LIST_HOT].head; c; c = c->lru_next) {
            if (!ok(c, arg)) continue;
            if (pass == 0 && is_hbm && is_hbm(c)) continue;
            return c;
        }
    }
    return NULL;
}
